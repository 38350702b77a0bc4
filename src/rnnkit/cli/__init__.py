"""The ``rnnkit`` command line: a thin layer over the library, one module per command.

Each command module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``(args) -> int``. :func:`main` is what tests call; :func:`run` is the console script.
A :class:`~rnnkit.errors.UserError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import UserError

__all__ = ["build_parser", "main", "run"]

# Command modules, in the order `rnnkit --help` lists them.
COMMANDS = ["demo", "train", "sample", "eval", "predict", "compare", "bench"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks: train, sample, evaluate, benchmark, plot.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"rnnkit.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    sys.exit(main())
