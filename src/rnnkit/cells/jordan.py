"""The three recurrences of the classic texts, each switchable.

Goodfellow, Bengio & Courville (2016), §10.2, draw three recurrent networks: hidden-to-hidden
(Elman 1990), output-to-hidden (Jordan 1986: the previous output feeds the hidden layer) and
output-to-output (the previous output feeds the output layer). One cell has all three::

    h_t = act(W_ih x_t + b_ih  [+ W_hh h_{t-1} + b_hh]  [+ W_yh y_{t-1}])     hidden layer
    y_t = act_o(W_hy h_t + b_y  [+ W_yy y_{t-1}])                             output layer

with ``[hidden_to_hidden]``, ``[output_to_hidden]`` and ``[output_to_output]`` each on or off (at least
one on). Weights: ``weight_ih (H, I)``, ``weight_hh (H, H)``, ``weight_yh (H, O)``, ``weight_hy (O, H)``,
``weight_yy (O, O)``, biases ``bias_ih (H)``, ``bias_hh (H)``, ``bias_y (O)``.

State: ``(y, h)`` — the output first, as for every rnnkit cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ..activations import Activation
from .base import CellMath, State, Weights, WeightSpec, masked

__all__ = ["JordanMath"]


@dataclass(frozen=True)
class JordanMath(CellMath):
    input_size: int
    hidden_size: int
    output_size_: int
    activation: Activation
    output_activation: Activation
    hidden_to_hidden: bool = False
    output_to_hidden: bool = True
    output_to_output: bool = False

    torch_defaults = (
        ("activation", "tanh"),
        ("output_activation", "tanh"),
    )  # rnnkit's own defaults

    def __post_init__(self) -> None:
        if not (self.hidden_to_hidden or self.output_to_hidden or self.output_to_output):
            raise ValueError(
                "JordanRNN: at least one of hidden_to_hidden, output_to_hidden, output_to_output "
                "must be True (otherwise nothing recurs)"
            )

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size_, self.hidden_size)

    @property
    def droppable(self) -> tuple[bool, ...]:
        return (self.output_to_hidden or self.output_to_output, self.hidden_to_hidden)

    def weight_specs(self, bias: bool) -> dict[str, WeightSpec]:
        H, I, O = self.hidden_size, self.input_size, self.output_size_
        specs = {"weight_ih": WeightSpec((H, I), "kernel")}
        if bias:
            specs["bias_ih"] = WeightSpec((H,), "bias")
        if self.hidden_to_hidden:
            specs["weight_hh"] = WeightSpec((H, H), "recurrent")
            if bias:
                specs["bias_hh"] = WeightSpec((H,), "bias")
        if self.output_to_hidden:
            specs["weight_yh"] = WeightSpec((H, O), "recurrent")
        specs["weight_hy"] = WeightSpec((O, H), "kernel")
        if bias:
            specs["bias_y"] = WeightSpec((O,), "bias")
        if self.output_to_output:
            specs["weight_yy"] = WeightSpec((O, O), "recurrent")
        return specs

    def step(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> State:
        y, h = state
        y_rec, h_rec = masked(y, drop, 0), masked(h, drop, 1)
        a = F.linear(x, w["weight_ih"], w.get("bias_ih"))  # (B, H)
        if self.hidden_to_hidden:
            a = a + F.linear(h_rec, w["weight_hh"], w.get("bias_hh"))  # Elman recurrence
        if self.output_to_hidden:
            a = a + F.linear(y_rec, w["weight_yh"])  # Jordan recurrence
        h = self.activation(a)
        b = F.linear(h, w["weight_hy"], w.get("bias_y"))  # (B, O)
        if self.output_to_output:
            b = b + F.linear(y_rec, w["weight_yy"])  # output-to-output recurrence
        y = self.output_activation(b)
        return (y, h)
