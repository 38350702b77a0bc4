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
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from torch import Tensor

from ..activations import ACTIVATIONS, Activation, get_activation

__all__ = ["CellMath", "Gates", "State", "WeightSpec", "Weights"]

State = tuple[Tensor, ...]
Weights = Mapping[str, Tensor]
Gates = dict[str, Tensor]
"""One step's gate values by the names of the cell's equations (``i, f, g, o``; ``r, z, n``)."""
WeightKind = Literal["kernel", "recurrent", "bias", "peephole"]


@dataclass(frozen=True)
class WeightSpec:
    """Shape of one weight and which Keras-style initialiser/regulariser family it belongs to."""

    shape: tuple[int, ...]
    kind: WeightKind


class CellMath(ABC):
    """The equations of one recurrent cell for one layer (a fixed input size).

    Subclasses are frozen dataclasses whose fields are the cell's hyper-parameters, so two cells
    with the same options compare equal and a kernel can be cached per cell. They pickle as plain
    data (a registered activation by its name), so a saved layer loads with
    ``torch.load(..., weights_only=True)``.
    """

    input_size: int
    hidden_size: int

    gate_names: ClassVar[tuple[str, ...]] = ()
    """The gates :meth:`step_with_gates` reports, in the order of the equations (none by default)."""

    torch_defaults: ClassVar[tuple[tuple[str, str | bool], ...]] = ()
    """The options that leave the weight shapes alone, with ``torch.nn``'s value of each (an
    activation by its name): a cell that differs in one of them computes something else from
    the same weights, and its layer's ``state_dict`` says so (see :meth:`formulation`)."""

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

    def step_with_gates(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> tuple[State, Gates]:
        """:meth:`step`, plus the step's gate values named as in :attr:`gate_names`."""
        return self.step(x, state, w, drop), {}

    def gate_values(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> Gates:
        """The gate values of one step from ``x`` and the previous ``state`` (``{}`` without gates).

        The math is row-wise, so ``x`` and ``state`` may hold many steps' rows at once.
        """
        return self.step_with_gates(x, state, w, drop)[1]

    def formulation(self) -> str | None:
        """What this cell computes that its weight shapes do not show, or ``None`` when that is
        ``torch.nn``'s own formulation. E.g. ``"GRU(reset_after=False, activation='tanh', ...)"``.
        """
        options = [(k, _name(getattr(self, k))) for k, _ in self.torch_defaults]
        if all(v == d for (_, v), (_, d) in zip(options, self.torch_defaults, strict=True)):
            return None
        family = type(self).__name__.removesuffix("Math")
        return f"{family}(" + ", ".join(f"{k}={v!r}" for k, v in options) + ")"

    def __getstate__(self) -> dict[str, Any]:
        """Plain data: a registered activation is kept by its name (no function in a pickle)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = state[f.name]
            if f.type in ("Activation", Activation) and isinstance(value, str):
                value = get_activation(value)
            object.__setattr__(self, f.name, value)  # frozen dataclass

    def init_adjust(self, w: Mapping[str, Tensor]) -> None:  # noqa: B027 - optional hook
        """Adjust freshly initialised weights in place (e.g. a forget-gate bias of 1)."""


def _plain(value: Any) -> Any:
    """A registered activation as its name; anything else unchanged."""
    if isinstance(value, Activation) and ACTIVATIONS.get(value.name) is value:
        return value.name
    return value


def _name(value: Any) -> Any:
    """An activation (registered or not) as its name; anything else unchanged."""
    return value.name if isinstance(value, Activation) else value


def masked(h: Tensor, drop: Sequence[Tensor | None] | None, k: int) -> Tensor:
    """``h * drop[k]`` when a recurrent-dropout mask is given for state entry ``k``, else ``h``."""
    if drop is None or drop[k] is None:
        return h
    m = drop[k]
    assert m is not None
    return h * m
