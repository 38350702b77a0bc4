"""Training shared by every task: the loop, checkpoints, run directories and progress display.

* :mod:`.trainer` — :class:`Trainer`, :class:`TrainConfig` and the :class:`Task` protocol a task
  implements (batches, loss, evaluation, data position).
* :mod:`.checkpoint` — the run directory layout, atomic checksummed checkpoints, ``load_run``.
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
