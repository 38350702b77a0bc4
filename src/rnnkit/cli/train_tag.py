"""``rnnkit train tag DATA --out RUN``: a tag for every time step.

DATA is a CoNLL-style file (token and tag per line, a blank line between sequences; with more
columns the first is the token and the last the tag), or a built-in set: ``copy`` (copy-memory)
or ``dinner`` (every day's dish).
"""

from __future__ import annotations

import argparse

from .train_classify import add_sequence_args, run_sequence

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tag",
        help="sequence tagging: a label per time step (CoNLL files, copy, dinner)",
        description="Train a sequence tagger. DATA: a CoNLL-style file (token ... tag per line, "
        "blank line between sequences) or a built-in set (copy, dinner).",
    )
    add_sequence_args(p, "tag")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_sequence(args, "tag")
