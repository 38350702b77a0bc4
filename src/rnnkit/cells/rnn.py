"""The Elman network (Elman 1990, "Finding structure in time").

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

``act`` is tanh by default (PyTorch's ``nonlinearity="tanh"``), ReLU, or any callable. Weights as in
``torch.nn.RNN``: ``weight_ih (H, I)``, ``weight_hh (H, H)``, ``bias_ih (H)``, ``bias_hh (H)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ..activations import Activation
from .base import CellMath, State, Weights, WeightSpec, masked

__all__ = ["ElmanMath"]


@dataclass(frozen=True)
class ElmanMath(CellMath):
    input_size: int
    hidden_size: int
    activation: Activation

    torch_defaults = (("activation", "tanh"),)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    @property
    def droppable(self) -> tuple[bool, ...]:
        return (True,)

    def weight_specs(self, bias: bool) -> dict[str, WeightSpec]:
        H, I = self.hidden_size, self.input_size
        specs = {
            "weight_ih": WeightSpec((H, I), "kernel"),
            "weight_hh": WeightSpec((H, H), "recurrent"),
        }
        if bias:
            specs["bias_ih"] = WeightSpec((H,), "bias")
            specs["bias_hh"] = WeightSpec((H,), "bias")
        return specs

    def step(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> State:
        (h,) = state
        h_rec = masked(h, drop, 0)
        h = self.activation(
            F.linear(x, w["weight_ih"], w.get("bias_ih"))
            + F.linear(h_rec, w["weight_hh"], w.get("bias_hh"))
        )
        return (h,)

    def formulation(self) -> str | None:
        """``None`` for tanh and ReLU (``torch.nn.RNN``'s two); else ``"Elman(activation=...)"``."""
        if self.activation.name == "relu":
            return None
        return super().formulation()
