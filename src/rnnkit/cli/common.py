"""Flags shared by the ``rnnkit train TASK`` commands, and the cell-name table.

A task's command module uses them like this::

    def register(sub):
        p = sub.add_parser("classify", help="...")
        add_model_args(p, bidirectional=True)                   # --cell --hidden --layers ...
        add_training_args(p, defaults={"lr": 1e-3, "batch": 32})
        p.set_defaults(func=run)

    def run(args):
        spec = layer_spec(args)                # a JSON-able dict; store it in config.json
        train = train_config(args)             # a TrainConfig (bad values -> UserError)
        layer = build_layer(spec, input_size)  # the rnnkit layer (unknown cell -> UserError)

The training flags default to ``None`` so that a command can tell "not given" from a value (on
``--resume`` only what was given overrides the stored config); :func:`train_config` fills in the
defaults. ``--batch`` is read by the task itself (the trainer never sees batches).

The name -> layer table :data:`CELLS` lives here, at the CLI edge, and nowhere else.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import UserError
from ..layers import GRU, LSTM, RNN, JordanRNN, RecurrentLayer
from ..train.trainer import SCHEDULES, TrainConfig

__all__ = [
    "CELLS",
    "TRAINING_FLAGS",
    "CellEntry",
    "add_model_args",
    "add_training_args",
    "batch_size",
    "build_layer",
    "layer_output_size",
    "layer_spec",
    "train_config",
]


@dataclass(frozen=True)
class CellEntry:
    """A cell name on the command line: the layer class, the keyword arguments that make the
    variant, and which of the optional flags apply to it."""

    layer: Callable[..., RecurrentLayer]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""
    gates: bool = True  # --recurrent-activation applies
    forget_bias: bool = False  # --unit-forget-bias applies


CELLS: dict[str, CellEntry] = {
    "lstm": CellEntry(LSTM, {}, "LSTM with forget gate (torch's native kernel)", forget_bias=True),
    "peephole": CellEntry(
        LSTM, {"peephole": True}, "LSTM with peepholes (Gers & Schmidhuber 2000)", forget_bias=True
    ),
    "cifg": CellEntry(
        LSTM,
        {"coupled": True},
        "coupled input-forget gate LSTM (Greff et al. 2015)",
        forget_bias=True,
    ),
    "gru": CellEntry(GRU, {}, "GRU, reset after the recurrent matmul (torch, cuDNN)"),
    "gru-reset-before": CellEntry(
        GRU, {"reset_after": False}, "GRU as Cho et al. 2014 wrote it (Keras reset_after=False)"
    ),
    "rnn": CellEntry(RNN, {}, "Elman RNN, tanh", gates=False),
    "rnn-relu": CellEntry(RNN, {"nonlinearity": "relu"}, "Elman RNN, ReLU", gates=False),
    "jordan": CellEntry(
        JordanRNN, {}, "Jordan network (output fed back; output size = --hidden)", gates=False
    ),
}

# The flags add_training_args adds, as TrainConfig field names (plus "batch" and "resume").
TRAINING_FLAGS = (
    "max_steps",
    "time_budget",
    "lr",
    "clip",
    "seed",
    "eval_every",
    "checkpoint_every",
    "patience",
    "schedule",
    "warmup",
)


def add_model_args(
    parser: argparse.ArgumentParser,
    *,
    bidirectional: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add ``--cell --hidden --layers --dropout --recurrent-dropout --input-dropout
    --unit-forget-bias --activation --recurrent-activation`` (and ``--bidirectional`` when the
    task can use it). ``defaults`` overrides the defaults by destination name (e.g. ``hidden``).
    """
    d = {
        "cell": "lstm",
        "hidden": 256,
        "layers": 2,
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
        "input_dropout": 0.0,
        **(defaults or {}),
    }
    g = parser.add_argument_group("model")
    names = ", ".join(CELLS)
    g.add_argument(
        "--cell",
        default=d["cell"],
        metavar="NAME",
        help=f"recurrent cell: {names} (default {d['cell']})",
    )
    g.add_argument(
        "--hidden",
        type=int,
        default=d["hidden"],
        metavar="N",
        help=f"hidden units per layer (default {d['hidden']})",
    )
    g.add_argument(
        "--layers",
        type=int,
        default=d["layers"],
        metavar="N",
        help=f"stacked layers (default {d['layers']})",
    )
    g.add_argument(
        "--dropout",
        type=float,
        default=d["dropout"],
        metavar="P",
        help=f"dropout between stacked layers (default {d['dropout']})",
    )
    g.add_argument(
        "--recurrent-dropout",
        type=float,
        default=d["recurrent_dropout"],
        metavar="P",
        help="variational dropout on the recurrent state (Gal & Ghahramani 2016); "
        "runs rnnkit's fused kernel instead of torch's native one",
    )
    g.add_argument(
        "--input-dropout",
        type=float,
        default=d["input_dropout"],
        metavar="P",
        help="variational dropout on each layer's input (fused kernel)",
    )
    g.add_argument(
        "--unit-forget-bias",
        action="store_true",
        help="LSTM family: forget-gate bias initialised to 1 (Jozefowicz et al. 2015)",
    )
    g.add_argument(
        "--activation",
        default=None,
        metavar="NAME",
        help="cell activation (default tanh; for rnn this is the nonlinearity)",
    )
    g.add_argument(
        "--recurrent-activation",
        default=None,
        metavar="NAME",
        help="gate activation for LSTM/GRU (default sigmoid), e.g. hard_sigmoid_keras2",
    )
    if bidirectional:
        g.add_argument("--bidirectional", action="store_true", help="read in both directions")


def layer_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The layer flags as a JSON-able dict (what ``config.json`` stores), checked.

    Raises:
        UserError: an unknown ``--cell``, or a flag that does not apply to the chosen cell.
    """
    spec = {
        "cell": args.cell,
        "hidden": args.hidden,
        "layers": args.layers,
        "dropout": args.dropout,
        "recurrent_dropout": args.recurrent_dropout,
        "input_dropout": args.input_dropout,
        "bidirectional": bool(getattr(args, "bidirectional", False)),
        "unit_forget_bias": bool(args.unit_forget_bias),
        "activation": args.activation,
        "recurrent_activation": args.recurrent_activation,
    }
    _layer_kwargs(spec)  # fail now, before anything is written
    return spec


def _layer_kwargs(spec: Mapping[str, Any]) -> tuple[CellEntry, dict[str, Any]]:
    name = spec["cell"]
    if name not in CELLS:
        raise UserError(f"--cell {name!r} is unknown; choose one of: {', '.join(CELLS)}")
    entry = CELLS[name]
    for flag, key in [("--hidden", "hidden"), ("--layers", "layers")]:
        if not isinstance(spec[key], int) or spec[key] < 1:
            raise UserError(f"{flag} must be a positive integer, got {spec[key]!r}")
    kwargs: dict[str, Any] = {
        **entry.kwargs,
        "num_layers": spec["layers"],
        "dropout": spec["dropout"],
        "input_dropout": spec["input_dropout"],
        "recurrent_dropout": spec["recurrent_dropout"],
        "bidirectional": spec["bidirectional"],
    }
    if spec["unit_forget_bias"]:
        if not entry.forget_bias:
            raise UserError(f"--unit-forget-bias applies to the LSTM cells, not --cell {name}")
        kwargs["unit_forget_bias"] = True
    if spec["recurrent_activation"] is not None:
        if not entry.gates:
            raise UserError(
                f"--recurrent-activation applies to LSTM and GRU cells, not --cell {name}"
            )
        kwargs["recurrent_activation"] = spec["recurrent_activation"]
    if spec["activation"] is not None:
        if entry.layer is RNN:
            if "nonlinearity" in entry.kwargs:
                raise UserError(
                    f"--cell {name} fixes the nonlinearity; use --cell rnn --activation"
                )
            kwargs["nonlinearity"] = spec["activation"]
        else:
            kwargs["activation"] = spec["activation"]
    return entry, kwargs


def build_layer(spec: Mapping[str, Any], input_size: int, **extra: Any) -> RecurrentLayer:
    """Build the rnnkit layer that :func:`layer_spec` describes, reading ``input_size`` features.

    ``extra`` keyword arguments go to the layer's constructor (e.g. ``batch_first=True``).

    >>> spec = {"cell": "peephole", "hidden": 8, "layers": 2, "dropout": 0.0,
    ...         "recurrent_dropout": 0.0, "input_dropout": 0.0, "bidirectional": False,
    ...         "unit_forget_bias": True, "activation": None, "recurrent_activation": None}
    >>> build_layer(spec, 4)
    LSTM(4, 8, num_layers=2)

    Raises:
        UserError: an unknown cell, or an option value the layer refuses (named).
    """
    entry, kwargs = _layer_kwargs(spec)
    hidden = spec["hidden"]
    try:
        if entry.layer is JordanRNN:
            return JordanRNN(input_size, hidden, hidden, **kwargs, **extra)
        return entry.layer(input_size, hidden, **kwargs, **extra)
    except ValueError as e:
        raise UserError(f"--cell {spec['cell']}: {e}") from e


def layer_output_size(layer: RecurrentLayer) -> int:
    """Features per step in the layer's output: ``directions * output units``."""
    return layer.cells[-1].output_size * layer.num_directions


def add_training_args(
    parser: argparse.ArgumentParser, defaults: Mapping[str, Any] | None = None
) -> None:
    """Add ``--max-steps --time-budget --lr --clip --seed --resume --eval-every
    --checkpoint-every --patience --batch --schedule --warmup``.

    ``defaults`` sets the defaults shown in ``--help`` and used by :func:`train_config` (keys:
    TrainConfig field names and ``batch``); the parsed values stay ``None`` when not given.
    """
    d = {**TrainConfig().to_dict(), "batch": 32, **(defaults or {})}
    g = parser.add_argument_group("training")

    def add(flag: str, kind: type, what: str, metavar: str = "N") -> None:
        dest = flag[2:].replace("-", "_")
        g.add_argument(
            flag, type=kind, default=None, metavar=metavar, help=f"{what} (default {d[dest]})"
        )

    add("--max-steps", int, "stop after N optimizer steps; 0: no step limit")
    add("--time-budget", float, "stop after this many seconds; 0: no time limit", "SECONDS")
    add("--lr", float, "peak learning rate of Adam", "X")
    add("--clip", float, "clip the global gradient norm to this; 0: off", "X")
    add("--seed", int, "random seed")
    add("--eval-every", int, "evaluate every N steps (and at the end)")
    add("--checkpoint-every", int, "save a checkpoint every N steps (and at the end)")
    add("--patience", int, "stop after N evaluations without improvement; 0: never")
    add("--batch", int, "rows per batch")
    add("--schedule", str, f"learning-rate decay: {', '.join(SCHEDULES)}", "NAME")
    add("--warmup", int, "steps of linear learning-rate warm-up")
    g.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    parser.set_defaults(_training_defaults=d)


def train_config(args: argparse.Namespace, stored: Mapping[str, Any] | None = None) -> TrainConfig:
    """The :class:`TrainConfig` from the parsed flags: given flags, else ``stored`` (the run's
    config on ``--resume``), else the defaults passed to :func:`add_training_args`.

    Raises:
        UserError: a value TrainConfig refuses, named as its flag.
    """
    d = dict(args._training_defaults)
    values = {f.name: d[f.name] for f in fields(TrainConfig) if f.name in d}
    values.update(stored or {})
    for name in TRAINING_FLAGS:
        given = getattr(args, name, None)
        if given is not None:
            values[name] = given
    try:
        return TrainConfig.from_dict(values)
    except ValueError as e:
        name, _, rest = str(e).partition(" ")
        raise UserError(f"--{name.replace('_', '-')} {rest}") from e


def batch_size(args: argparse.Namespace, stored: int | None = None) -> int:
    """``--batch``, else ``stored``, else the command's default; must be positive."""
    b = args.batch
    if b is None:
        b = stored if stored is not None else args._training_defaults["batch"]
    if b < 1:
        raise UserError(f"--batch must be a positive integer, got {b}")
    return int(b)
