"""The recurrent layer of a run: :class:`LayerConfig`, named with the layer's own arguments.

``hidden_size`` is ``hidden_size`` from the flag (``--hidden-size``) through ``config.json`` to
``rnnkit.LSTM(hidden_size=...)``: one name in three hops. The cell names a user types
(``lstm``, ``peephole``, ``gru-reset-before``, ...) map to a layer class and the keyword
arguments that make the variant in :data:`CELLS`, the one name-to-class table of the project.

>>> LayerConfig(cell="peephole", hidden_size=8, num_layers=2, unit_forget_bias=True).build(4)
LSTM(4, 8, num_layers=2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, check, option
from ..layers import GRU, LSTM, RNN, JordanRNN, RecurrentLayer

__all__ = ["CELLS", "CellEntry", "LayerConfig", "layer_output_size"]


@dataclass(frozen=True)
class CellEntry:
    """A cell name: the layer class, the keyword arguments that make the variant, and which of
    the optional settings apply to it."""

    layer: Callable[..., RecurrentLayer]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""
    gates: bool = True  # recurrent_activation applies
    forget_bias: bool = False  # unit_forget_bias applies


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
        JordanRNN, {}, "Jordan network (output fed back; output size = hidden size)", gates=False
    ),
}


@dataclass
class LayerConfig:
    """The recurrent stack of a run; each field is a ``rnnkit train`` flag of the same name."""

    cell: str = option("lstm", f"recurrent cell: {', '.join(CELLS)}", choices=tuple(CELLS),
                       metavar="NAME")  # fmt: skip
    hidden_size: int = option(256, "hidden units per layer", low=1, high=1 << 16,
                              aliases=("--hidden",))  # fmt: skip
    num_layers: int = option(2, "stacked layers", low=1, high=64, aliases=("--layers",))
    dropout: float = option(0.0, "dropout between stacked layers", low=0, high=1, high_open=True,
                            metavar="P")  # fmt: skip
    recurrent_dropout: float = option(
        0.0, "variational dropout on the recurrent state (Gal & Ghahramani 2016); runs "
        "rnnkit's fused kernel instead of torch's native one", low=0, high=1, high_open=True,
        metavar="P")  # fmt: skip
    input_dropout: float = option(0.0, "variational dropout on each layer's input (fused kernel)",
                                  low=0, high=1, high_open=True, metavar="P")  # fmt: skip
    bidirectional: bool = option(False, "read in both directions (sequence tasks)")
    unit_forget_bias: bool = option(
        False, "LSTM family: forget-gate bias initialised to 1 (Jozefowicz et al. 2015)"
    )
    activation: str | None = option(
        None, "cell activation (default tanh; for rnn this is the nonlinearity)", metavar="NAME"
    )
    recurrent_activation: str | None = option(
        None, "gate activation for LSTM/GRU (default sigmoid), e.g. hard_sigmoid_keras2",
        metavar="NAME")  # fmt: skip

    def __post_init__(self) -> None:
        check(self)
        kw = self.kwargs()
        try:  # every value the layer itself checks (activation names, ...), on a tiny layer
            self._make(1, 1, kw)
        except ValueError as e:
            name = str(e).partition("=")[0]
            if name in ("activation", "recurrent_activation", "nonlinearity"):
                raise ConfigError("activation" if name == "nonlinearity" else name,
                                  str(e)[len(name) + 1 :]) from e  # fmt: skip
            raise ConfigError("cell", f"{self.cell}: {e}") from e

    def kwargs(self) -> dict[str, Any]:
        """The layer's keyword arguments (all but the sizes).

        Raises:
            ConfigError: a setting that does not apply to the chosen cell.
        """
        entry = CELLS[self.cell]
        kw: dict[str, Any] = {
            **entry.kwargs,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "input_dropout": self.input_dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "bidirectional": self.bidirectional,
        }
        if self.unit_forget_bias:
            if not entry.forget_bias:
                raise ConfigError(
                    "unit_forget_bias", f"applies to the LSTM cells, not cell {self.cell}"
                )
            kw["unit_forget_bias"] = True
        if self.recurrent_activation is not None:
            if not entry.gates:
                raise ConfigError(
                    "recurrent_activation", f"applies to LSTM and GRU cells, not cell {self.cell}"
                )
            kw["recurrent_activation"] = self.recurrent_activation
        if self.activation is not None:
            if entry.layer is RNN:
                if "nonlinearity" in entry.kwargs:
                    raise ConfigError(
                        "activation", f"cannot change cell {self.cell}'s fixed nonlinearity; "
                        "use cell rnn with an activation")  # fmt: skip
                kw["nonlinearity"] = self.activation
            else:
                kw["activation"] = self.activation
        return kw

    def build(self, input_size: int, **extra: Any) -> RecurrentLayer:
        """The rnnkit layer reading ``input_size`` features; ``extra`` goes to its constructor
        (e.g. ``batch_first=True``)."""
        return self._make(input_size, self.hidden_size, {**self.kwargs(), **extra})

    def _make(self, input_size: int, hidden_size: int, kw: dict[str, Any]) -> RecurrentLayer:
        entry = CELLS[self.cell]
        if entry.layer is JordanRNN:
            return JordanRNN(input_size, hidden_size, hidden_size, **kw)
        return entry.layer(input_size, hidden_size, **kw)


def layer_output_size(layer: RecurrentLayer) -> int:
    """Features per step in the layer's output: ``directions * output units``."""
    return layer.cells[-1].output_size * layer.num_directions
