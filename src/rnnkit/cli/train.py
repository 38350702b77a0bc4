"""``rnnkit train TASK ...``: one subcommand per task, each in its own module.

A task module ``rnnkit/cli/<name>.py`` has ``register(subparsers)``, which adds the task's parser
(e.g. ``text``) with ``set_defaults(func=run)``. Adding a task is one line in :data:`TASKS`.
The shared flags are in :mod:`rnnkit.cli.common`.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["TASKS", "register"]

# Task modules in rnnkit.cli, in the order `rnnkit train --help` lists them.
TASKS: list[str] = ["train_text", "train_classify", "train_regress", "train_tag"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model into a run directory",
        description="Train a model; each TASK has its own flags (rnnkit train TASK -h).",
    )
    tasks = p.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in TASKS:
        importlib.import_module(f"rnnkit.cli.{name}").register(tasks)
