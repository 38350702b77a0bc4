"""What the trainer needs from a task: the :class:`Task` protocol (see :mod:`.trainer` for an
example)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from torch import Tensor, nn

__all__ = ["Task"]


class Task(ABC):
    """What the trainer needs from a task; see the module docstring for an example.

    Attributes:
        unit: what ``n_units`` counts, singular (``"char"``, ``"token"``, ``"sequence"``).
        curve_label: the y-axis label of ``loss.png``.
        curve_scale: ``loss * curve_scale`` is what ``loss.png`` draws (e.g. ``1 / ln 2`` for bits).
        batch_dim: the batch dimension of the tensors in a batch (0: batch-first rows; text's
            ``(T, B)`` windows: 1). With several processes each takes its part along it, and the
            tensors of :meth:`state_dict` are per-row along it too (gathered for a checkpoint,
            split on resume); state that is not per-row must be JSON values.
    """

    unit: str = "unit"
    batch_dim: int = 0
    curve_label: str = "loss"
    curve_scale: float = 1.0

    @abstractmethod
    def next_batch(self) -> Any:
        """The next training batch, in a deterministic order given the task's state."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]:
        """``(loss, n_units)``: the mean loss per unit (what backward uses) and the unit count."""

    @abstractmethod
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics; must include ``"val_loss"`` (lower is better)."""

    def state_dict(self) -> dict[str, Any]:
        """The data position: a flat dict of Tensors and JSON values (saved with checkpoints)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what :meth:`state_dict` returned."""

    def describe(self, metrics: dict[str, float]) -> str:
        """Validation metrics in words, for the summary line."""
        return f"val loss {metrics['val_loss']:.4f}"
