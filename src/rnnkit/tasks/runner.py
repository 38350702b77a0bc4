"""Train and reload sequence-task runs: the library behind ``rnnkit train classify|regress|tag``.

A run directory holds, besides what the trainer writes (``model.safetensors``, ``metrics.jsonl``,
``loss.png``, checkpoints): ``config.json`` (``"task"``, the data path and config, the layer
spec, the head, the training config, the batch size), ``labels.json`` / ``vocab.json`` /
``scaler.json``, ``summary.json`` and ``confusion.png`` (classification and tagging).
:func:`prepare` reads and checks everything before :func:`fit` writes anything, so bad input
never leaves a half-made run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from torch import nn

from ..errors import UserError
from ..runs import save_json
from ..train.checkpoint import WEIGHTS, load_weights, read_config, start_run, write_config
from ..train.trainer import TrainConfig, Trainer, TrainResult, seed_everything
from .base import SequenceTask
from .classify import ClassifyTask, RegressTask, balanced_weights
from .inputs import DataConfig, Encoders, Splits, load_training
from .model import HeadConfig, build_model
from .tag import TagTask

__all__ = ["TASK_CLASSES", "LoadedSequenceRun", "Prepared", "fit", "load_sequence_run", "prepare"]

TASK_CLASSES: dict[str, type[SequenceTask]] = {
    "classify": ClassifyTask,
    "regress": RegressTask,
    "tag": TagTask,
}

LayerFactory = Callable[[int], nn.Module]  # input size -> recurrent layer (batch-first)


@dataclass
class Prepared:
    """A task and model ready to train: everything read and checked, nothing written yet."""

    task: SequenceTask
    model: nn.Module
    config: dict[str, Any]  # what config.json will hold


def prepare(
    kind: str,
    data: str,
    data_cfg: DataConfig,
    head: HeadConfig,
    make_layer: LayerFactory,
    *,
    batch_size: int,
    seed: int,
    class_weights: str = "none",
    extra_config: Mapping[str, Any] | None = None,
) -> Prepared:
    """Read and check ``data``, fit the encoders, build the model and the task (writes nothing).

    Args:
        kind: classify | regress | tag.
        data: a file or a built-in name.
        make_layer: builds the recurrent layer for an input size.
        class_weights: ``"none"`` or ``"balanced"``.
        extra_config: stored in ``config.json`` as well (e.g. the layer spec).
    """
    if class_weights not in ("none", "balanced"):
        raise UserError(f"--class-weights must be none or balanced, got {class_weights!r}")
    if class_weights == "balanced" and kind == "regress":
        raise UserError("--class-weights is for classification and tagging, not regression")
    splits, enc, data_cfg = load_training(
        data, DataConfig(**{**data_cfg.to_json(), "task": kind}), seed
    )
    seed_everything(seed)
    model = build_model(kind, make_layer, head, enc)
    extra: dict[str, Any] = {}
    if class_weights == "balanced":
        assert enc.labels is not None
        labels = splits.train.y if splits.train is not None else splits.val.y
        assert labels is not None
        extra["class_weights"] = balanced_weights(np.asarray(labels).ravel(), len(enc.labels))
    task = TASK_CLASSES[kind](splits, enc, data_cfg, batch_size, seed, **extra)
    config = {
        "task": kind,
        "data_path": data,
        "data": data_cfg.to_json(),
        "head": head.to_json(),
        "batch": batch_size,
        "class_weights": class_weights,
        **(extra_config or {}),
    }
    return Prepared(task, model, config)


def _same_encoders(stored: Encoders, fresh: Encoders, run: Path) -> None:
    for name in ("labels", "vocab"):
        a, b = getattr(stored, name), getattr(fresh, name)
        if (a is None) != (b is None) or (
            a is not None and b is not None and a.to_json() != b.to_json()
        ):
            raise UserError(
                f"{run}: the data's {name} differ from the run's; the data changed since it started"
            )


def fit(
    prep: Prepared,
    run: Path,
    train_cfg: TrainConfig,
    *,
    resume: bool = False,
    stream: TextIO | None = None,
    progress: bool = True,
) -> tuple[TrainResult, dict[str, Any]]:
    """Train in ``run`` (new, or continued with ``resume``); write the summary and pictures."""
    kind = prep.task.kind
    has_checkpoint = start_run(run, kind, resume)
    if resume:
        _same_encoders(Encoders.load(run), prep.task.enc, run)
    else:
        write_config(run, {**prep.config, "train": train_cfg.to_dict()})
        prep.task.enc.save(run)
    trainer = Trainer(prep.model, prep.task, train_cfg, run, stream=stream, progress=progress)
    result = trainer.run(resume=has_checkpoint)
    summary: dict[str, Any] = {
        "steps": result.state.step,
        "seconds": round(result.state.elapsed, 2),
        "stopped": result.state.stop_reason,
        "best_step": result.state.best_step,
        **result.metrics,
    }
    test = prep.task.splits.test
    if test is not None and not result.interrupted:
        scores = prep.task.report(test, prep.task.outputs(prep.model, test))
        summary["test"] = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
    save_json(run / "summary.json", summary)
    if kind != "regress" and not result.interrupted:
        _confusion(prep.task, prep.model, run)
    return result, summary


def _confusion(task: SequenceTask, model: nn.Module, run: Path) -> None:
    from ..viz.confusion import plot_confusion

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


@dataclass
class LoadedSequenceRun:
    """A trained run, ready to predict or score."""

    path: Path
    config: dict[str, Any]
    task: SequenceTask
    model: nn.Module


def load_sequence_run(
    run: str | Path, make_layer: Callable[[Mapping[str, Any], int], nn.Module]
) -> LoadedSequenceRun:
    """Rebuild a run's model with its best weights.

    Args:
        make_layer: ``(config, input size) -> layer``, from the stored layer spec.
    """
    run = Path(run)
    config = read_config(run)
    kind = config["task"]
    if kind not in TASK_CLASSES:
        raise UserError(
            f"{run}: a {kind!r} run; this command handles {', '.join(TASK_CLASSES)} runs"
        )
    data_cfg = DataConfig.from_json(config["data"])
    enc = Encoders.load(run)
    model = build_model(
        kind, lambda n: make_layer(config, n), HeadConfig.from_json(config["head"]), enc
    )
    if not (run / WEIGHTS).is_file():
        raise UserError(f"{run}: has no {WEIGHTS} yet (training has not saved any weights)")
    load_weights(run / WEIGHTS, model)
    model.eval()
    task = TASK_CLASSES[kind](Splits(val=None), enc, data_cfg, 1, 0)  # type: ignore[arg-type]
    return LoadedSequenceRun(run, config, task, model)
