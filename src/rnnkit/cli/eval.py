"""``rnnkit eval RUN DATA [--json]``: score a trained run on held-out data.

The run's ``config.json`` names its task; :data:`EVALUATORS` maps the task to the module in
``rnnkit.cli`` that evaluates it. Such a module has

* ``add_arguments(parser)`` (optional): extra flags, each of whose help says which task uses it;
* ``evaluate(args, config) -> int`` (``config``: the run's :class:`~rnnkit.tasks.RunConfig`): reads ``args.run`` and ``args.data``, prints the result
  (one JSON object with ``--json``), returns the exit code.

Adding a task is one line in :data:`EVALUATORS`.
"""

from __future__ import annotations

import argparse
import importlib

from ..devices import add_device_flag
from ..errors import UserError
from ..tasks import read_run_config

__all__ = ["EVALUATORS", "register", "run"]

# run config "task" -> evaluating module in rnnkit.cli
EVALUATORS: dict[str, str] = {
    "text": "eval_text",
    "classify": "eval_seq",
    "regress": "eval_seq",
    "tag": "eval_seq",
    "translate": "translate",
    "forecast": "eval_forecast",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="score a trained run on a held-out file",
        description="Score a trained run on held-out data; what DATA is depends "
        "on the run's task (text: a text file, scored in bits per character).",
    )
    p.add_argument("run", metavar="RUN", help="the run directory")
    p.add_argument("data", metavar="DATA", help="the held-out data")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_device_flag(p)
    for module in dict.fromkeys(EVALUATORS.values()):
        mod = importlib.import_module(f"rnnkit.cli.{module}")
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = read_run_config(args.run)
    task = config.task
    if task not in EVALUATORS:
        raise UserError(f"{args.run}: 'rnnkit eval' cannot score a {task!r} run yet")
    return int(importlib.import_module(f"rnnkit.cli.{EVALUATORS[task]}").evaluate(args, config))
