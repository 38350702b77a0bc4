"""``rnnkit train regress DATA --out RUN``: many-to-one regression (a real-valued target per sequence).

DATA is read as for ``train classify`` (the label column holds numbers), or the built-in
``adding`` problem (Hochreiter & Schmidhuber 1997) with ``--length T``.
"""

from __future__ import annotations

import argparse

from .train_classify import add_sequence_args, run_sequence

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "regress",
        help="many-to-one regression (numeric target per sequence; the adding problem)",
        description="Train a sequence regressor. DATA: as for classify, with a numeric label "
        "column, or the built-in adding problem (--length T).",
    )
    add_sequence_args(p, "regress")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_sequence(args, "regress")
