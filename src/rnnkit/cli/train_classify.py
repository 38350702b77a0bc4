"""``rnnkit train classify DATA --out RUN``: many-to-one classification.

DATA is a text table (CSV/TSV/JSONL with ``--text-column`` and ``--label-column``), a long-format
CSV (``--format long-csv``), an ``.npz`` (``X``, ``lengths``, ``y``), or a built-in set:
``digits-rows``, ``digits-pixels``, ``dinner``. The sequence commands share their flags; this
module holds them for ``train regress`` and ``train tag`` too.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import UserError
from ..tasks.inputs import BUILTINS, DataConfig
from ..tasks.model import HeadConfig
from ..tasks.runner import fit, prepare
from ..train.checkpoint import read_config
from .common import (
    add_model_args,
    add_training_args,
    batch_size,
    build_layer,
    layer_spec,
    train_config,
)

__all__ = ["add_sequence_args", "make_layer", "register", "run", "run_sequence"]

# Defaults of the sequence tasks (the text task's are larger: it trains for hours).
MODEL_DEFAULTS = {"hidden": 128, "layers": 1}
TRAIN_DEFAULTS = {"max_steps": 2000, "eval_every": 100, "checkpoint_every": 500, "batch": 32}


def add_sequence_args(p: argparse.ArgumentParser, kind: str) -> None:
    """DATA, ``--out``, the data flags, the model, head and training flags of a sequence task."""
    p.add_argument(
        "data", metavar="DATA", help=f"a data file, or a built-in set ({', '.join(BUILTINS)})"
    )
    p.add_argument(
        "--out", required=True, metavar="RUN", help="the run directory to create (or --resume)"
    )
    g = p.add_argument_group("data")
    if kind != "tag":
        g.add_argument(
            "--format",
            default="auto",
            choices=["auto", "text", "long-csv", "npz"],
            help="how to read DATA (default: from the extension and the columns)",
        )
        g.add_argument(
            "--text-column", default="text", metavar="C", help="text column (default text)"
        )
        g.add_argument(
            "--label-column",
            default="label",
            metavar="C",
            help="label or target column (default label)",
        )
        g.add_argument(
            "--level", default="char", choices=["char", "word"], help="text tokens (default char)"
        )
        g.add_argument(
            "--id-column", default="id", metavar="C", help="long CSV: sequence id (default id)"
        )
        g.add_argument(
            "--step-column", default="step", metavar="C", help="long CSV: step order (default step)"
        )
        g.add_argument(
            "--feature-columns",
            default=None,
            metavar="A,B",
            help="long CSV: feature columns (default: all the others)",
        )
    g.add_argument("--lowercase", action="store_true", help="lowercase text before tokenizing")
    g.add_argument(
        "--min-count",
        type=int,
        default=1,
        metavar="N",
        help="rarer tokens become <unk> (default 1)",
    )
    g.add_argument(
        "--max-vocab", type=int, default=None, metavar="N", help="keep the N most frequent tokens"
    )
    g.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="T",
        help="keep the first T steps of each sequence",
    )
    g.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="share of a file held out for validation (default 0.1)",
    )
    g.add_argument(
        "--length",
        type=int,
        default=None,
        metavar="T",
        help="synthetic sets: sequence length (adding 100, copy: delay 20, dinner 6)",
    )
    h = p.add_argument_group("head")
    h.add_argument(
        "--embedding", type=int, default=64, metavar="N", help="token embedding size (default 64)"
    )
    if kind != "tag":
        h.add_argument("--pooling", default="last", choices=["last", "mean", "max"],
                       help="what the head reads: the last valid step (h_n of both directions), "
                       "or the mean or max over valid steps (default last)")  # fmt: skip
    h.add_argument(
        "--head-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help="dropout before the output layer",
    )
    if kind != "regress":
        h.add_argument(
            "--class-weights",
            default="none",
            choices=["none", "balanced"],
            help="balanced: weigh each class by N / (C * N_c) for imbalanced labels",
        )
    add_model_args(p, bidirectional=True, defaults=MODEL_DEFAULTS)
    add_training_args(p, defaults=TRAIN_DEFAULTS)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="many-to-one classification (text, numeric sequences, digits, dinner)",
        description="Train a sequence classifier. DATA: a CSV/JSONL with text and label columns, "
        "a long-format CSV, an .npz (X, lengths, y), or a built-in set.",
    )
    add_sequence_args(p, "classify")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_sequence(args, "classify")


def make_layer(config: Mapping[str, Any], input_size: int) -> nn.Module:
    """The run's recurrent layer (batch-first) from its stored layer spec."""
    return build_layer(config["layer"], input_size, batch_first=True)


def _data_config(args: argparse.Namespace, kind: str) -> DataConfig:
    cols = getattr(args, "feature_columns", None)
    return DataConfig(
        task=kind,
        format=getattr(args, "format", "auto"),
        length=args.length,
        text_column=getattr(args, "text_column", "text"),
        label_column=getattr(args, "label_column", "label"),
        level=getattr(args, "level", "char"),
        lowercase=args.lowercase,
        min_count=args.min_count,
        max_vocab=args.max_vocab,
        max_length=args.max_length,
        id_column=getattr(args, "id_column", "id"),
        step_column=getattr(args, "step_column", "step"),
        feature_columns=[c.strip() for c in cols.split(",")] if cols else None,
        val_fraction=args.val_fraction,
    )


def run_sequence(args: argparse.Namespace, kind: str) -> int:
    """Train (or resume) a sequence-task run from parsed flags; 130 when interrupted."""
    out = Path(args.out)
    stored: dict[str, Any] = (
        read_config(out, kind) if args.resume and (out / "config.json").exists() else {}
    )
    if args.resume and not stored:
        raise UserError(f"{out}: no run to resume (no config.json)")
    if args.length is not None and args.length < 1:
        raise UserError(f"--length must be a positive integer, got {args.length}")
    if stored:  # a resumed run keeps its data, model and head; only training limits may change
        data_cfg = DataConfig.from_json(stored["data"])
        spec = stored["layer"]
        head = HeadConfig.from_json(stored["head"])
        weights = stored.get("class_weights", "none")
    else:
        data_cfg = _data_config(args, kind)
        spec = layer_spec(args)
        head = HeadConfig(args.embedding, getattr(args, "pooling", "last"), args.head_dropout)
        weights = getattr(args, "class_weights", "none")
    train_cfg = train_config(args, stored.get("train"))
    batch = batch_size(args, stored.get("batch"))
    prep = prepare(
        kind, args.data, data_cfg, head, lambda n: build_layer(spec, n, batch_first=True),
        batch_size=batch, seed=train_cfg.seed, class_weights=weights, extra_config={"layer": spec},
    )  # fmt: skip
    result, summary = fit(prep, out, train_cfg, resume=args.resume)
    if "test" in summary:
        t = summary["test"]
        what = (f"MSE {t['mse']:.4g} (predicting the mean: {t['baseline_mse']:.4g})" if kind == "regress"
                else f"accuracy {t['accuracy']:.2%}, macro-F1 {t['macro_f1']:.3f}")  # fmt: skip
        print(f"test ({t['count']} held out): {what}")
    return 130 if result.interrupted else 0
