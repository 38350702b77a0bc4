"""What every cell is: one time step of pure math over named weights.

Shape letters used throughout rnnkit:

* ``T`` time steps, ``B`` batch, ``I`` input features, ``H`` hidden units,
* ``P`` LSTM projection size, ``O`` Jordan output size, ``G`` number of gates,
* ``L`` layers, ``D`` directions (1 or 2), ``V`` vocabulary size.

A cell maps ``(x_t, state_{t-1}) -> state_t``; ``state_t[0]`` is always the step's output (``h_t``
for RNN/GRU/LSTM, ``y_t`` for a Jordan network). Cells never loop over time: the kernels in
:mod:`rnnkit.kernels` unroll them, and the layers in :mod:`rnnkit.layers` own the parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from torch import Tensor

__all__ = ["CellMath", "State", "WeightSpec", "Weights"]

State = tuple[Tensor, ...]
Weights = Mapping[str, Tensor]
WeightKind = Literal["kernel", "recurrent", "bias", "peephole"]


@dataclass(frozen=True)
class WeightSpec:
    """Shape of one weight and which Keras-style initialiser/regulariser family it belongs to."""

    shape: tuple[int, ...]
    kind: WeightKind


class CellMath(ABC):
    """The equations of one recurrent cell for one layer (a fixed input size).

    Subclasses are frozen dataclasses whose fields are the cell's hyper-parameters, so two cells
    with the same options compare equal and a kernel can be cached per cell.
    """

    input_size: int
    hidden_size: int

    @property
    @abstractmethod
    def state_sizes(self) -> tuple[int, ...]:
        """Last-dimension size of each state tensor; ``state_sizes[0]`` is the output size."""

    @property
    def output_size(self) -> int:
        return self.state_sizes[0]

    @property
    @abstractmethod
    def droppable(self) -> tuple[bool, ...]:
        """Which state tensors feed a recurrent matmul (and so take recurrent dropout)."""

    @abstractmethod
    def weight_specs(self, bias: bool) -> dict[str, WeightSpec]:
        """The weights of this cell, by name (without PyTorch's ``_l{k}`` suffix), in torch's order."""

    @abstractmethod
    def step(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> State:
        """One time step.

        Args:
            x: ``(B, I)`` input at time t.
            state: the state at t-1, one ``(B, state_sizes[k])`` tensor per entry.
            w: the weights named as in :meth:`weight_specs`.
            drop: recurrent-dropout masks aligned with ``state`` (already scaled by 1/(1-p)),
                applied to the previous state where it enters a recurrent matmul; ``None`` for none.

        Returns:
            the state at t; its first entry is the output ``(B, output_size)``.
        """

    def is_standard(self) -> bool:
        """True when ``torch.nn`` has exactly this cell (so its native kernel may run it)."""
        return False

    def init_adjust(self, w: Mapping[str, Tensor]) -> None:  # noqa: B027 - optional hook
        """Adjust freshly initialised weights in place (e.g. a forget-gate bias of 1)."""


def masked(h: Tensor, drop: Sequence[Tensor | None] | None, k: int) -> Tensor:
    """``h * drop[k]`` when a recurrent-dropout mask is given for state entry ``k``, else ``h``."""
    if drop is None or drop[k] is None:
        return h
    m = drop[k]
    assert m is not None
    return h * m
