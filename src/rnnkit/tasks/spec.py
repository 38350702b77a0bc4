"""What a task is to rnnkit: a :class:`TaskSpec`, and the :class:`RunConfig` of one of its runs.

Every task — text, classify, regress, tag, and each one added later — is one module in
``rnnkit/tasks/`` with one :class:`TaskSpec` subclass. The spec says how to read the task's data,
build its model, and what else a run keeps (vocabularies, label maps, scalers); one orchestration
(:mod:`rnnkit.tasks.run`) does the rest for every task: flags to config, the resume checks,
writing the run directory, training, reloading. The trainer sees only the spec's
:class:`~rnnkit.train.trainer.Task` (batches, loss, evaluation).

A run's ``config.json`` is :meth:`RunConfig.to_json`::

    {"format_version": 2, "task": "classify", "rnnkit_version": "0.3.0",
     "sources": ["reviews.csv"], "fingerprint": "<sha256 of the data>",
     "data": {...}, "layer": {...}, "model": {...}, "train": {...}, "info": {...}}

``data``, ``model`` are the task's own configs, ``layer`` the :class:`LayerConfig`, ``train`` the
:class:`~rnnkit.train.trainer.TrainConfig`; each field is a ``rnnkit train`` flag. ``info`` is
what training found out (the corpus size, the symbol to start samples with, ...).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from .. import __version__
from ..config import to_json
from ..train.trainer import Task, TrainConfig, TrainResult
from .layer import LayerConfig

__all__ = ["FORMAT_VERSION", "SECTIONS", "Prepared", "RunConfig", "TaskSpec", "fingerprint"]

FORMAT_VERSION = 2  # 1: before the one task path (read by rnnkit.tasks.format1)
SECTIONS = ("data", "layer", "model", "train")  # the config sections that are flags


def fingerprint(data: str | Path) -> str:
    """The sha256 a run keeps of its data: of a file's bytes (a :class:`~pathlib.Path`), or of a
    string's UTF-8 (a text, or a built-in set's name and settings).

    >>> fingerprint("builtin:adding:100")[:12]
    '1ea86317f8ce'
    """
    h = hashlib.sha256()
    if isinstance(data, Path):
        with open(data, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    else:
        h.update(data.encode("utf-8"))
    return h.hexdigest()


@dataclass
class RunConfig:
    """Everything that defines a run; ``config.json`` holds it (see the module docstring)."""

    task: str
    data: Any  # the task's Data config
    layer: LayerConfig
    model: Any  # the task's Model config
    train: TrainConfig
    sources: list[str] = field(default_factory=list)  # DATA as read (files: absolute paths)
    fingerprint: str | None = None  # sha256 of the data read; None for format-1 sequence runs
    info: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    rnnkit_version: str = __version__

    def section(self, name: str) -> Any:
        return getattr(self, name)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "task": self.task,
            "rnnkit_version": self.rnnkit_version,
            "sources": list(self.sources),
            "fingerprint": self.fingerprint,
            **{name: to_json(self.section(name)) for name in SECTIONS},
            "info": self.info,
        }


@dataclass
class Prepared:
    """A task ready to train: its data read and checked, nothing written yet.

    Attributes:
        task: what the trainer runs (batches, loss, evaluation, data position).
        artifacts: what the run keeps besides the weights (vocabularies, ...), saved by
            :meth:`TaskSpec.save_artifacts`; the model is built from them.
        describe: one line saying what is about to be trained on.
    """

    task: Task
    artifacts: Any
    describe: str = ""


class TaskSpec(ABC):
    """One task: its configs, how it reads data, builds its model and keeps its artifacts.

    Class attributes:
        name: the task's name on the command line (``rnnkit train NAME``) and in ``config.json``.
        help, description: for ``rnnkit train --help`` and ``rnnkit train NAME --help``.
        Data, Model: the dataclasses of the task's data and model settings (built with
            :func:`rnnkit.config.option`; each field becomes a flag).
        defaults: per section (``"layer"``, ``"train"``, ...), the task's own defaults.
        data_nargs: argparse ``nargs`` of the DATA argument (``None``: exactly one).
        data_help: the DATA argument's help.
        hidden: per section, fields that are not flags of this task (they keep their default).
        extra_flags: flags that set a value without naming a field, as
            ``{"--one-hot": ("model", "embedding", 0)}`` (deprecated spellings).
    """

    name: ClassVar[str]
    help: ClassVar[str]
    description: ClassVar[str]
    Data: ClassVar[type]
    Model: ClassVar[type]
    defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    data_nargs: ClassVar[str | None] = None
    data_help: ClassVar[str] = "the training data"
    hidden: ClassVar[Mapping[str, set[str]]] = {}
    extra_flags: ClassVar[Mapping[str, tuple[str, str, Any]]] = {}

    def adjust(self, given: Mapping[str, Mapping[str, Any]], cfg: RunConfig) -> None:  # noqa: B027 (optional hook)
        """Change defaults that depend on what was given (a new run; ``cfg`` holds defaults
        and the given values). E.g. text: a step limit alone means no time limit."""

    @abstractmethod
    def prepare(self, cfg: RunConfig) -> Prepared:
        """Read and check ``cfg.sources``, fit what the run keeps, and set ``cfg.sources``,
        ``cfg.fingerprint`` and ``cfg.info``. Deterministic given the data and ``cfg`` (a resumed
        run calls it again and must get the same artifacts). Writes nothing; a problem is a
        :class:`~rnnkit.errors.UserError`."""

    def prepare_resumed(self, cfg: RunConfig, run: Path) -> Prepared:
        """:meth:`prepare` for the run resumed in ``run`` (its artifacts saved there). The same
        call unless the task reads back what must not be fitted again (translate: its piece
        models)."""
        return self.prepare(cfg)

    @abstractmethod
    def build_model(self, cfg: RunConfig, artifacts: Any) -> nn.Module:
        """The untrained model of a run (the same call for training and for reloading)."""

    @abstractmethod
    def save_artifacts(self, run: Path, artifacts: Any) -> None:
        """Write what :meth:`prepare` fitted into the run directory (atomically)."""

    @abstractmethod
    def load_artifacts(self, run: Path, cfg: RunConfig) -> Any:
        """Read what :meth:`save_artifacts` wrote (a bad file is a UserError naming it)."""

    def same_artifacts(self, stored: Any, fresh: Any) -> str | None:
        """For a run without a data fingerprint (format 1): what differs, or ``None``."""
        return None

    def finish(self, model: nn.Module, prep: Prepared, run: Path, result: TrainResult) -> list[str]:
        """After training: write the run's summary and pictures; lines to print."""
        return []
