"""How to train (:class:`TrainConfig`, one field per ``rnnkit train`` flag), the learning-rate
schedule, and seeding.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import check, from_json, option, to_json

__all__ = ["SCHEDULES", "TrainConfig", "learning_rate", "seed_everything"]

SCHEDULES = ("constant", "cosine", "linear")  # TrainConfig.schedule


@dataclass
class TrainConfig:
    """How to train; stored in a run's ``config.json`` under ``"train"``.

    Each field is one ``rnnkit train`` flag (``max_steps`` <-> ``--max-steps``); the fields marked
    ``fixed=False`` may change when a run is resumed, the others are the run's for good.
    ``batch_size`` is read by the task (the trainer itself never sees batches).
    """

    lr: float = option(
        2e-3, "peak learning rate of Adam", low=0, low_open=True, fixed=False, metavar="X"
    )
    max_steps: int = option(0, "stop after N optimizer steps; 0: no step limit", low=0, fixed=False)
    time_budget: float = option(
        0.0, "stop after this many seconds; 0: no time limit", low=0, fixed=False, metavar="SECONDS"
    )
    clip: float = option(
        5.0, "clip the global gradient norm to this; 0: off", low=0, fixed=False, metavar="X"
    )
    eval_every: int = option(
        200, "evaluate every N steps (and at the end); 0: at the end only", low=0, fixed=False
    )
    checkpoint_every: int = option(
        1000, "save a checkpoint every N steps (and at the end)", low=0, fixed=False
    )
    log_every: int = option(50, "log the mean training loss every N steps", low=1, fixed=False)
    patience: int = option(
        0, "stop after N evaluations without improvement; 0: never", low=0, fixed=False
    )
    seed: int = option(0, "random seed (weights, batches, dropout)", low=0, high=2**63 - 1)
    schedule: str = option(
        "cosine",
        "learning-rate decay after warm-up",
        choices=("constant", "cosine", "linear"),
        fixed=False,
        metavar="NAME",
    )
    warmup: int = option(0, "steps of linear learning-rate warm-up", low=0, fixed=False)
    min_lr: float = option(
        0.1,
        "the final learning rate, as a fraction of --lr",
        low=0,
        high=1,
        fixed=False,
        metavar="F",
    )
    weight_decay: float = option(
        0.0, "Adam's (coupled) L2 penalty", low=0, fixed=False, metavar="X"
    )
    betas: tuple[float, float] = option(
        (0.9, 0.999),
        "Adam's moment decay rates",
        low=0,
        high=1,
        high_open=True,
        fixed=False,
        metavar="B",
    )
    batch_size: int = option(
        32, "rows (text: parallel streams) per batch", low=1, aliases=("--batch",)
    )

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        check(self)

    def to_dict(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys are refused."""
        return from_json(cls, d, "the training settings")


def learning_rate(config: TrainConfig, step: int, elapsed: float) -> float:
    """The learning rate for optimizer step ``step + 1`` after ``elapsed`` seconds.

    >>> c = TrainConfig(lr=1.0, max_steps=100, warmup=10, min_lr=0.0)
    >>> [round(learning_rate(c, s, 0.0), 3) for s in (0, 9, 10, 50, 100)]
    [0.1, 1.0, 0.976, 0.5, 0.0]
    """
    if config.warmup and step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    parts = []
    if config.max_steps:
        parts.append(step / config.max_steps)
    if config.time_budget:
        parts.append(elapsed / config.time_budget)
    if not parts or config.schedule == "constant":
        return config.lr
    p = min(1.0, max(parts))
    floor = config.lr * config.min_lr
    if config.schedule == "linear":
        return config.lr - (config.lr - floor) * p
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * p))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy's global generator and Python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
