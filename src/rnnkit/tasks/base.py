"""What every sequence task shares: batches to train on, scoring a set, saving where the data stands.

A task implements the trainer's :class:`~rnnkit.train.trainer.Task` protocol: it owns its data (a
fixed training set read in shuffled epochs, or a generator of fresh synthetic batches), its loss
and its metrics; :meth:`state_dict` goes into each checkpoint so a resumed run draws the same
batches. The full report on a set (per-class F1, confusion matrix) comes from :meth:`report`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..data.batching import Batch, PaddedSet, batch_indices
from ..train.trainer import Task
from .inputs import DataConfig, Encoders, Splits

__all__ = ["EVAL_BATCH", "SequenceTask"]

EVAL_BATCH = 256


class SequenceTask(Task):
    """Base of the classify, regress and tag tasks.

    Args:
        splits: training data or generator, and the validation set.
        enc: the fitted encoders.
        data_cfg: how the data was read.
        batch_size: rows per training batch.
        seed: seeds the order of the training rows (or the synthetic generator).
    """

    kind: ClassVar[str]
    unit = "sequence"

    def __init__(
        self, splits: Splits, enc: Encoders, data_cfg: DataConfig, batch_size: int, seed: int
    ) -> None:
        self.splits = splits
        self.enc = enc
        self.data_cfg = data_cfg
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self._order: list[np.ndarray] = []

    # ----- training data ----------------------------------------------------------------------

    def next_batch(self) -> Batch:
        """The next training batch: fresh synthetic rows, or the next slice of a shuffled epoch."""
        if self.splits.stream is not None:
            return self.splits.stream(self.batch_size, self.rng).batch(np.arange(self.batch_size))
        train = self.splits.train
        assert train is not None
        if not self._order:
            self._order = list(batch_indices(len(train), self.batch_size, self.rng))
            self.epoch += 1
        return train.batch(self._order.pop(0))

    def state_dict(self) -> dict[str, Any]:
        """JSON values: the generator's state, the epoch and the batches left in it."""
        return {"rng": self.rng.bit_generator.state, "epoch": self.epoch,
                "order": [o.tolist() for o in self._order]}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.epoch = int(state["epoch"])
        self._order = [np.array(o, dtype=np.int64) for o in state["order"]]

    # ----- scoring ----------------------------------------------------------------------------

    @abstractmethod
    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        """``(mean loss, units)`` of one batch."""

    @abstractmethod
    def outputs(self, model: nn.Module, data: PaddedSet) -> np.ndarray:
        """Model outputs for every row: probabilities, values or per-step probabilities."""

    @abstractmethod
    def report(self, data: PaddedSet, outputs: np.ndarray) -> dict[str, Any]:
        """Every metric of ``outputs`` against ``data.y``, JSON-ready; ``"loss"`` among them."""

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """The validation set's numeric metrics, as ``val_<name>``."""
        scores = self.report(self.splits.val, self.outputs(model, self.splits.val))
        return {f"val_{k}": float(v) for k, v in scores.items() if isinstance(v, (int, float))}

    @torch.no_grad()
    def _forward_all(self, model: nn.Module, data: PaddedSet) -> list[Tensor]:
        was_training = model.training
        model.eval()
        try:
            return [model(b.x, b.lengths)
                    for b in (data.batch(i) for i in batch_indices(len(data), EVAL_BATCH))]  # fmt: skip
        finally:
            model.train(was_training)
