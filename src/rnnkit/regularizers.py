"""Weight and activity penalties (Keras's ``kernel_regularizer`` and friends).

``L1(l)(w) = l * sum|w|``, ``L2(l)(w) = l * sum w²`` (Keras's convention: no factor 1/2),
``L1L2(l1, l2)`` is their sum. A layer collects them in ``regularization_loss()``, which a
training loop adds to the data loss.

>>> import torch
>>> float(L2(0.5)(torch.tensor([1.0, 2.0])))
2.5
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

__all__ = ["L1", "L1L2", "L2", "Regularizer", "get_regularizer"]

Regularizer = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class L1L2:
    l1: float = 0.0
    l2: float = 0.0

    def __call__(self, w: Tensor) -> Tensor:
        loss = w.new_zeros(())
        if self.l1:
            loss = loss + self.l1 * w.abs().sum()
        if self.l2:
            loss = loss + self.l2 * (w * w).sum()
        return loss


def L1(l1: float = 0.01) -> L1L2:
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:
    return L1L2(l2=l2)


def get_regularizer(spec: str | Regularizer | None, arg: str) -> Regularizer | None:
    """``None``, a callable, or ``"l1"``, ``"l2"``, ``"l1_l2"`` (Keras's default strength 0.01)."""
    if spec is None or callable(spec):
        return spec
    table = {"l1": L1(), "l2": L2(), "l1_l2": L1L2(0.01, 0.01)}
    if spec not in table:
        raise ValueError(f"{arg}={spec!r} is unknown; choose one of {sorted(table)} or a callable")
    return table[spec]
