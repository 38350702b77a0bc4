"""The sequence tasks: many-to-one classification and regression, and tagging (many-to-many).

``rnnkit train classify|regress|tag DATA --out RUN``. DATA is a text table (CSV/TSV/JSONL with
``--text-column`` and ``--label-column``), a long-format CSV, an ``.npz`` (``X``, ``lengths``,
``y``), a CoNLL file (tag), or a built-in set (:mod:`rnnkit.tasks.builtin_sets`). The run keeps
``labels.json``, ``vocab.json`` and ``scaler.json`` (:class:`~rnnkit.tasks.config.Encoders`), and
after training ``summary.json`` and, for classification and tagging, ``confusion.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..errors import UserError
from ..runs import save_json
from ..train.trainer import TrainResult
from .base import SequenceTask
from .builtin_sets import BUILTINS
from .classify import ClassifyTask, RegressTask, balanced_weights
from .config import DataConfig, Encoders, Splits
from .inputs import load_training
from .model import HeadConfig, build_model
from .run import TrainedRun, open_run
from .spec import Prepared, RunConfig, TaskSpec, fingerprint
from .tag import TagTask

__all__ = ["CLASSIFY", "REGRESS", "TAG", "SequenceSpec", "open_sequence_run"]

_TASKS: dict[str, type[SequenceTask]] = {
    "classify": ClassifyTask,
    "regress": RegressTask,
    "tag": TagTask,
}
_DEFAULTS = {
    "layer": {"hidden_size": 128, "num_layers": 1},
    "train": {"max_steps": 2000, "eval_every": 100, "checkpoint_every": 500, "batch_size": 32},
}
_TABLE_ONLY = {"format", "text_column", "label_column", "level", "id_column", "step_column",
               "feature_columns"}  # fmt: skip


def _fingerprint(data: DataConfig, source: str) -> str:
    """sha256 of the data file's bytes, or of the built-in set's name and length."""
    if data.builtin is not None:
        return fingerprint(f"builtin:{data.builtin}:{data.length}")
    return fingerprint(Path(source))


class SequenceSpec(TaskSpec):
    """classify, regress and tag share their data reading, their head and their run files."""

    Data = DataConfig
    Model = HeadConfig
    defaults = _DEFAULTS

    def __init__(self, name: str, help: str, description: str) -> None:
        self.name = name  # type: ignore[misc]
        self.help = help  # type: ignore[misc]
        self.description = description  # type: ignore[misc]
        self.data_help = f"a data file, or a built-in set ({', '.join(BUILTINS)})"  # type: ignore[misc]
        hidden_model = (
            {"pooling"} if name == "tag" else {"class_weights"} if name == "regress" else set()
        )
        self.hidden = {"data": _TABLE_ONLY if name == "tag" else set(), "model": hidden_model}  # type: ignore[misc]

    def prepare(self, cfg: RunConfig) -> Prepared:
        if len(cfg.sources) != 1:
            raise UserError(f"rnnkit train {self.name} reads one DATA, got {len(cfg.sources)}")
        source = cfg.sources[0]
        head: HeadConfig = cfg.model
        if head.class_weights == "balanced" and self.name == "regress":
            raise UserError("--class-weights is for classification and tagging, not regression")
        data_cfg = DataConfig.from_json({**cfg.data.to_json(), "task": self.name})
        splits, enc, data_cfg = load_training(source, data_cfg, cfg.train.seed)
        cfg.data = data_cfg
        cfg.fingerprint = _fingerprint(data_cfg, source)
        if data_cfg.builtin is None:
            cfg.sources = [str(Path(source).resolve())]
        extra: dict[str, Any] = {}
        if head.class_weights == "balanced":
            assert enc.labels is not None
            labels = splits.train.y if splits.train is not None else splits.val.y
            assert labels is not None
            extra["class_weights"] = balanced_weights(np.asarray(labels).ravel(), len(enc.labels))
        task = _TASKS[self.name](
            splits, enc, data_cfg, cfg.train.batch_size, cfg.train.seed, **extra
        )
        train_rows = "fresh batches" if splits.train is None else f"{len(splits.train)} sequences"
        describe = f"on {train_rows} from {source}, validating on {len(splits.val)}"
        return Prepared(task, enc, describe)

    def scorer(self, cfg: RunConfig, artifacts: Encoders) -> SequenceTask:
        """The task object that scores and predicts with a trained run's model (no data)."""
        return _TASKS[self.name](Splits(val=None), artifacts, cfg.data, 1, 0)  # type: ignore[arg-type]

    def build_model(self, cfg: RunConfig, artifacts: Any) -> nn.Module:
        layer_cfg = cfg.layer
        return build_model(
            self.name, lambda n: layer_cfg.build(n, batch_first=True), cfg.model, artifacts
        )

    def save_artifacts(self, run: Path, artifacts: Any) -> None:
        artifacts.save(run)

    def load_artifacts(self, run: Path, cfg: RunConfig) -> Encoders:
        return Encoders.load(run, "word" if cfg.data.format == "conll" else cfg.data.level)

    def same_artifacts(self, stored: Any, fresh: Any) -> str | None:
        for name in ("labels", "vocab"):
            a, b = getattr(stored, name), getattr(fresh, name)
            if (a is None) != (b is None):
                return name
            key = "names" if name == "labels" else "symbols"
            if a is not None and getattr(a, key) != getattr(b, key):
                return name
        return None

    def finish(self, model: nn.Module, prep: Prepared, run: Path, result: TrainResult) -> list[str]:
        task = prep.task
        assert isinstance(task, SequenceTask)
        summary: dict[str, Any] = {
            "steps": result.state.step,
            "seconds": round(result.state.elapsed, 2),
            "stopped": result.state.stop_reason,
            "best_step": result.state.best_step,
            **result.metrics,
        }
        lines = []
        test = task.splits.test
        if test is not None and not result.interrupted:
            scores = task.report(test, task.outputs(model, test))
            t = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
            summary["test"] = t
            what = (f"MSE {t['mse']:.4g} (predicting the mean: {t['baseline_mse']:.4g})"
                    if self.name == "regress"
                    else f"accuracy {t['accuracy']:.2%}, macro-F1 {t['macro_f1']:.3f}")  # fmt: skip
            lines.append(f"test ({t['count']} held out): {what}")
        save_json(run / "summary.json", summary)
        if self.name != "regress" and not result.interrupted:
            _confusion(task, model, run)
        return lines


def open_sequence_run(
    path: str | Path, device: str | None = None
) -> tuple[TrainedRun, SequenceTask]:
    """A classify, regress or tag run (its model on ``device``, default the CPU), and the task
    object that scores and predicts with it."""
    run = open_run(path, tuple(_TASKS), device)
    spec = run.spec
    assert isinstance(spec, SequenceSpec)
    return run, spec.scorer(run.config, run.artifacts)


def _confusion(task: SequenceTask, model: nn.Module, run: Path) -> None:
    from ..viz.confusion import plot_confusion  # matplotlib loads only when it draws

    assert task.enc.labels is not None
    which, data = (
        ("test", task.splits.test)
        if task.splits.test is not None
        else ("validation", task.splits.val)
    )
    scores = task.report(data, task.outputs(model, data))
    plot_confusion(
        np.array(scores["confusion"]), task.enc.labels.names, run / "confusion.png", which
    )


CLASSIFY = SequenceSpec(
    "classify",
    "many-to-one classification (text, numeric sequences, digits, dinner)",
    "Train a sequence classifier. DATA: a CSV/JSONL with text and label columns, a long-format "
    "CSV, an .npz (X, lengths, y), or a built-in set.",
)
REGRESS = SequenceSpec(
    "regress",
    "many-to-one regression (numeric target per sequence; the adding problem)",
    "Train a sequence regressor. DATA: as for classify, with a numeric label column, or the "
    "built-in adding problem (--length T).",
)
TAG = SequenceSpec(
    "tag",
    "sequence tagging: a label per time step (CoNLL files, copy, dinner)",
    "Train a sequence tagger. DATA: a CoNLL-style file (token ... tag per line, blank line "
    "between sequences) or a built-in set (copy, dinner).",
)
