"""Many-to-one tasks: classification (cross-entropy, accuracy, macro-F1) and regression (MSE).

Class weights for imbalanced labels follow the "balanced" heuristic (King & Zeng 2001, as in
scikit-learn): class ``c`` weighs ``N / (C * N_c)``, so every class contributes equally to the loss.
Regression targets are standardised with the training mean and deviation (the model predicts
``(y - mean) / std``, and ``loss`` is in those units); ``mse`` and ``mae`` are reported in the
data's own units, next to ``baseline_mse``, the score of always predicting the training mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batching import Batch, PaddedSet
from ..metrics import classification_report, mae, mse
from .base import SequenceTask

__all__ = ["ClassifyTask", "RegressTask", "balanced_weights"]


def balanced_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``N / (C * N_c)`` per class (1 for a class absent from ``labels``).

    >>> balanced_weights(np.array([0, 0, 0, 1]), 2).tolist()
    [0.6666666666666666, 2.0]
    """
    counts = np.bincount(labels[labels >= 0], minlength=num_classes).astype(np.float64)
    n = counts.sum()
    return np.where(counts > 0, n / (num_classes * np.maximum(counts, 1)), 1.0)


class ClassifyTask(SequenceTask):
    """Cross-entropy on the pooled logits; ``class_weights`` ``(C,)`` for imbalanced labels."""

    kind = "classify"
    curve_label = "cross-entropy (nats)"

    def __init__(self, *args: Any, class_weights: np.ndarray | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weight = (
            None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        )

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        assert batch.y is not None
        return F.cross_entropy(model(batch.x, batch.lengths), batch.y, weight=self.weight), len(
            batch.y
        )

    def outputs(self, model: nn.Module, data: PaddedSet) -> np.ndarray:
        """Class probabilities ``(N, C)``."""
        return torch.cat([o.softmax(-1) for o in self._forward_all(model, data)]).numpy()

    def report(self, data: PaddedSet, outputs: np.ndarray) -> dict[str, Any]:
        assert data.y is not None and self.enc.labels is not None
        y = data.y.astype(np.int64)
        p = outputs[np.arange(len(y)), y]
        scores = classification_report(y, outputs.argmax(-1), self.enc.labels.names)
        return {"loss": float(-np.log(np.maximum(p, 1e-12)).mean()), **scores}

    def describe(self, metrics: dict[str, float]) -> str:
        return f"val accuracy {metrics['val_accuracy']:.2%}, macro-F1 {metrics['val_macro_f1']:.3f}"


class RegressTask(SequenceTask):
    """MSE on standardised targets; predictions and metrics in the data's own units."""

    kind = "regress"
    curve_label = "MSE"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.curve_scale = self.enc.target_std**2  # loss.png in the data's units

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        assert batch.y is not None
        target = (batch.y.float() - self.enc.target_mean) / self.enc.target_std
        return F.mse_loss(model(batch.x, batch.lengths), target), len(batch.y)

    def outputs(self, model: nn.Module, data: PaddedSet) -> np.ndarray:
        """Predicted values ``(N,)``."""
        z = torch.cat(self._forward_all(model, data)).numpy().astype(np.float64)
        return z * self.enc.target_std + self.enc.target_mean

    def report(self, data: PaddedSet, outputs: np.ndarray) -> dict[str, Any]:
        assert data.y is not None
        y = data.y.astype(np.float64)
        err = mse(y, outputs)
        return {
            "loss": err / self.enc.target_std**2,
            "mse": err,
            "mae": mae(y, outputs),
            "baseline_mse": mse(y, np.full_like(y, self.enc.target_mean)),  # predict the mean
            "count": len(y),
        }

    def describe(self, metrics: dict[str, float]) -> str:
        return f"val MSE {metrics['val_mse']:.4g} (predicting the mean: {metrics['val_baseline_mse']:.4g})"
