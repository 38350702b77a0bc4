"""``rnnkit train TASK DATA --out RUN``: one command for every task in :data:`rnnkit.tasks.TASKS`.

Each task's flags are made from its configs (:mod:`rnnkit.cli.flags`): the data and model
settings of the task, the layer (:class:`~rnnkit.tasks.layer.LayerConfig`) and the training
(:class:`~rnnkit.train.trainer.TrainConfig`) — the same flag means the same thing for every
task. ``--resume`` continues the run in ``--out`` from its last checkpoint; a flag that
contradicts the stored run is refused by name, the training limits may change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..tasks import TASKS
from ..tasks.run import configure, defaults, train_run
from ..tasks.spec import SECTIONS, TaskSpec
from .flags import add_config_flags, add_extra_flags, given

__all__ = ["register", "run"]

_TITLES = {"data": "data", "model": "model", "layer": "recurrent layer", "train": "training"}


def add_task_parser(sub: argparse._SubParsersAction, spec: TaskSpec) -> argparse.ArgumentParser:
    p = sub.add_parser(spec.name, help=spec.help, description=spec.description)
    p.add_argument("data", nargs=spec.data_nargs, metavar="DATA", help=spec.data_help)
    p.add_argument(
        "--out", required=True, metavar="RUN", help="the run directory to create (or --resume)"
    )
    for section in SECTIONS:
        add_config_flags(
            p,
            _TITLES[section],
            section,
            _section_class(spec, section),
            defaults(spec, section),
            spec.hidden.get(section, set()),
        )
    add_extra_flags(p, spec.extra_flags)
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run, spec=spec)
    return p


def _section_class(spec: TaskSpec, section: str) -> type:
    from ..tasks.run import section_class

    return section_class(spec, section)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model into a run directory",
        description="Train a model; each TASK has its own flags (rnnkit train TASK -h).",
    )
    tasks = p.add_subparsers(dest="task", required=True, metavar="TASK")
    for spec in TASKS.values():
        add_task_parser(tasks, spec)


def run(args: argparse.Namespace) -> int:
    spec: TaskSpec = args.spec
    sources = args.data if isinstance(args.data, list) else [args.data]
    cfg, stored = configure(spec, given(args, SECTIONS), sources, Path(args.out), args.resume)
    result, lines = train_run(spec, cfg, args.out, stored=stored, progress=not args.quiet)
    for line in lines:
        print(line, flush=True)
    return 130 if result.interrupted else 0
