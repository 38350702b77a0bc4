"""Training shared by every task: the loop, checkpoints, run directories and progress display.

* :mod:`.trainer` — :class:`Trainer`, the loop;
* :mod:`.task` — the :class:`Task` protocol a task implements (batches, loss, evaluation, data
  position); :mod:`.settings` — :class:`TrainConfig`, the learning-rate schedule, seeding;
* :mod:`.rundir` — the run directory: config, checked weights files, ``start_run`` (with its
  lock), ``find_weights``; :mod:`.checkpoint` — atomic checksummed training checkpoints;
* :mod:`.distributed` — data-parallel training over several processes.
* :mod:`.progress` — the live progress bar (periodic lines when not on a terminal).
"""

from .checkpoint import (
    LoadedRun,
    TrainState,
    load_run,
    load_weights,
    read_config,
    save_weights,
    start_run,
    write_config,
)
from .progress import Progress
from .trainer import (
    SCHEDULES,
    Task,
    TrainConfig,
    Trainer,
    TrainResult,
    learning_rate,
    seed_everything,
)

__all__ = [
    "SCHEDULES",
    "LoadedRun",
    "Progress",
    "Task",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "Trainer",
    "learning_rate",
    "load_run",
    "load_weights",
    "read_config",
    "save_weights",
    "seed_everything",
    "start_run",
    "write_config",
]
