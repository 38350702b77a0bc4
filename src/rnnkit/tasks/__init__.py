"""Sequence tasks for the trainer: many-to-one classification and regression, tagging, their data.

* :mod:`.inputs` — what DATA means (files and built-in sets), encoders fitted on training data;
* :mod:`.model` — the head over a recurrent layer;
* :mod:`.classify`, :mod:`.tag` — the tasks (batches, loss, metrics) for :class:`~rnnkit.train.Trainer`;
* :mod:`.runner` — prepare, train and reload runs.
"""

from .classify import ClassifyTask, RegressTask
from .inputs import DataConfig, Encoders
from .model import HeadConfig, build_model
from .runner import fit, load_sequence_run, prepare
from .tag import TagTask

__all__ = [
    "ClassifyTask",
    "DataConfig",
    "Encoders",
    "HeadConfig",
    "RegressTask",
    "TagTask",
    "build_model",
    "fit",
    "load_sequence_run",
    "prepare",
]
