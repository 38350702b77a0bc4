"""``rnnkit train TASK DATA --out RUN``: one command for every task in :data:`rnnkit.tasks.TASKS`.

Each task's flags are made from its configs (:mod:`rnnkit.cli.flags`): the data and model
settings of the task, the layer (:class:`~rnnkit.tasks.layer.LayerConfig`) and the training
(:class:`~rnnkit.train.trainer.TrainConfig`) — the same flag means the same thing for every
task. ``--resume`` continues the run in ``--out`` from its last checkpoint; a flag that
contradicts the stored run is refused by name, the training limits may change.

``--device`` and ``--precision`` say where this session trains (they may differ on each resume;
the run records them). ``--nproc N`` trains on N processes of this machine, data-parallel; under
``torchrun --nproc_per_node N -m rnnkit train ...`` the same happens across machines
(docs/DEVICES.md).
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

from ..devices import PRECISIONS, add_device_flag, resolve_device
from ..errors import UserError
from ..tasks import TASKS
from ..tasks.run import configure, defaults, section_class, train_run
from ..tasks.spec import SECTIONS, TaskSpec
from ..train.distributed import launch
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
            section_class(spec, section),
            defaults(spec, section),
            spec.hidden.get(section, set()),
        )
    add_extra_flags(p, spec.extra_flags)
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    where = p.add_argument_group("devices (this session's; may change on --resume)")
    add_device_flag(where)
    where.add_argument("--precision", default="fp32", choices=tuple(PRECISIONS),
                       help="autocast precision of the forward pass: fp32 (default), bf16 (CPU or "
                       "recent GPUs), fp16 (GPUs)")  # fmt: skip
    where.add_argument("--nproc", type=int, default=1, metavar="N",
                       help="train data-parallel on N processes of this machine (at most its "
                       "cores, or its GPUs); or launch with torchrun")  # fmt: skip
    where.add_argument("--dist-timeout", type=float, default=300.0, metavar="SECONDS",
                       help="with several processes: how long one waits for the others "
                       "(to start, and at each step) before the job stops (default 300)")  # fmt: skip
    p.set_defaults(func=run, spec=spec)
    return p


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
    job = (spec.name, given(args, SECTIONS), sources, str(args.out), args.resume, args.quiet,
           args.device, args.precision, args.dist_timeout)  # fmt: skip
    if args.nproc < 1:
        raise UserError(f"--nproc {args.nproc}: must be at least 1")
    if args.dist_timeout <= 0:
        raise UserError(f"--dist-timeout {args.dist_timeout:g}: must be positive")
    if args.nproc == 1:
        return train_process(*job)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError(f"--nproc {args.nproc}: already one of {os.environ['WORLD_SIZE']} "
                        "processes started by torchrun; give one or the other")  # fmt: skip
    configure(spec, job[1], sources, Path(args.out), args.resume)  # bad flags: say so once, here
    kind = resolve_device(args.device).type
    if kind not in ("cpu", "cuda"):
        raise UserError(f"--nproc {args.nproc}: several processes train on CPUs or CUDA GPUs, "
                        f"not on {kind}")  # fmt: skip
    # Ctrl-C reaches every process: they save a checkpoint and stop; this one waits for them
    previous = signal.signal(signal.SIGINT, _wait)
    try:
        launch(args.nproc, kind, train_process, job)
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0


def _wait(signum: int, frame: Any) -> None:
    pass


def train_process(
    task: str,
    flags: dict[str, dict[str, Any]],
    sources: list[str],
    out: str,
    resume: bool,
    quiet: bool,
    device: str,
    precision: str,
    dist_timeout: float,
) -> int:
    """One training process (of one, or of a ``--nproc`` or torchrun job)."""
    spec = TASKS[task]
    cfg, stored = configure(spec, flags, sources, Path(out), resume)
    result, lines = train_run(spec, cfg, out, stored=stored, progress=not quiet, device=device,
                              precision=precision, dist_timeout=dist_timeout)  # fmt: skip
    for line in lines:
        print(line, flush=True)
    return 130 if result.interrupted else 0
