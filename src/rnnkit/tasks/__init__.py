"""Tasks: each one module with a :class:`~rnnkit.tasks.spec.TaskSpec`, all served by one path.

* :mod:`.spec` — what a task says (:class:`TaskSpec`) and a run's config (:class:`RunConfig`);
* :mod:`.run` — the one orchestration: :func:`configure`, :func:`train_run`, :func:`open_run`;
* :mod:`.layer` — :class:`LayerConfig`, the recurrent stack of every run, and the cell names;
* :mod:`.text` — language modelling (char-rnn);
* :mod:`.sequence` — classify, regress, tag (with :mod:`.inputs`, :mod:`.config`, :mod:`.model`,
  :mod:`.classify`, :mod:`.tag`, :mod:`.builtin_sets`);
* :mod:`.format1` — runs written before this layout.

Adding a task is one module here and one line in :data:`TASKS` (see docs/ARCHITECTURE.md).
"""

from .classify import ClassifyTask, RegressTask
from .config import DataConfig, Encoders
from .forecast_run import FORECAST
from .layer import CELLS, LayerConfig
from .model import HeadConfig, build_model
from .run import TrainedRun, configure, open_run, read_run_config, train_run
from .sequence import CLASSIFY, REGRESS, TAG
from .spec import FORMAT_VERSION, Prepared, RunConfig, TaskSpec
from .tag import TagTask
from .text import TEXT, TextTask
from .translate import TRANSLATE

# Every task, by its name on the command line and in config.json, in `rnnkit train --help` order.
TASKS: dict[str, TaskSpec] = {
    spec.name: spec for spec in (TEXT, CLASSIFY, REGRESS, TAG, FORECAST, TRANSLATE)
}

__all__ = [
    "CELLS",
    "FORMAT_VERSION",
    "TASKS",
    "ClassifyTask",
    "DataConfig",
    "Encoders",
    "HeadConfig",
    "LayerConfig",
    "Prepared",
    "RegressTask",
    "RunConfig",
    "TagTask",
    "TaskSpec",
    "TextTask",
    "TrainedRun",
    "build_model",
    "configure",
    "open_run",
    "read_run_config",
    "train_run",
]
