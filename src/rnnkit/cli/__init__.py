"""The ``rnnkit`` command line: a thin layer over the library, one module per command.

Each command module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``(args) -> int``. :func:`main` is what tests call; :func:`run` is the console script.
A :class:`~rnnkit.errors.UserError` becomes one line on stderr and exit code 2. Output piped into
a program that stops reading (``rnnkit sample RUN | head``) ends the command quietly, as Unix tools
do, with the status of a process ended by SIGPIPE (141). Run locks a command took
(:func:`rnnkit.runs.hold_run`) are released when it ends.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ..errors import UserError
from ..runs import release_held_runs

__all__ = ["build_parser", "main", "run"]

# Command modules, in the order `rnnkit --help` lists them.
COMMANDS = [
    "demo",
    "train",
    "sample",
    "eval",
    "predict",
    "translate",
    "forecast",
    "inspect",
    "compare",
    "bench",
    "doctor",
    "export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks: train, sample, evaluate, benchmark, plot.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"rnnkit.cli.{name}").register(sub)
    return parser


_SIGPIPE_STATUS = 128 + 13  # what a shell reports for a process ended by SIGPIPE


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (e.g. in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a reader that went away shows up here, not at exit
        return status
    except UserError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return _SIGPIPE_STATUS
    finally:
        release_held_runs()


def run() -> None:
    sys.exit(main())
