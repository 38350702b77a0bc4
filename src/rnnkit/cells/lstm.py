"""Long short-term memory with a forget gate, and its classic variants.

The vanilla LSTM (Hochreiter & Schmidhuber 1997; forget gate: Gers, Schmidhuber & Cummins 2000), as
``torch.nn.LSTM`` computes it, fused weights in gate order ``i, f, g, o``::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi + w_ci ⊙ c_{t-1})   input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf + w_cf ⊙ c_{t-1})   forget gate
    g_t = act(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)                  candidate cell
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                                   cell state
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho + w_co ⊙ c_t)       output gate
    h_t = o_t ⊙ act(c_t)                                              output
    h_t = W_hr h_t                                                    (only with proj_size > 0)

Variants, each a constructor option:

* ``peephole=True`` — the ``w_c*`` terms above (Gers & Schmidhuber 2000): diagonal weights
  ``weight_ci``, ``weight_cf``, ``weight_co`` of shape ``(H,)``; ``c_{t-1}`` feeds ``i`` and ``f``,
  the new ``c_t`` feeds ``o``. Without it these terms are absent.
* ``coupled=True`` — CIFG (Greff et al. 2015): ``i_t = 1 - f_t``. The input-gate rows do not exist:
  ``weight_ih`` is ``(3H, I)`` with gate order ``f, g, o``, and there is no ``weight_ci``.
* ``proj_size=P`` — LSTMP (Sak et al. 2014), exactly as PyTorch: ``weight_hr (P, H)``, ``h_t`` is
  ``(B, P)`` and ``weight_hh`` is ``(G*H, P)``.
* ``activation`` (``act``, default tanh) and ``recurrent_activation`` (``σ``, default sigmoid) —
  Keras's names; see :mod:`rnnkit.activations`.

State: ``(h, c)`` with ``h (B, P or H)`` and ``c (B, H)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ..activations import Activation
from .base import CellMath, Gates, State, Weights, WeightSpec, masked

__all__ = ["LSTMMath"]


@dataclass(frozen=True)
class LSTMMath(CellMath):
    input_size: int
    hidden_size: int
    activation: Activation
    recurrent_activation: Activation
    proj_size: int = 0
    peephole: bool = False
    coupled: bool = False
    unit_forget_bias: bool = False

    gate_names = ("i", "f", "g", "o")
    torch_defaults = (("activation", "tanh"), ("recurrent_activation", "sigmoid"))

    @property
    def gates(self) -> int:
        """Number of gate blocks in the fused matrices: 4 (``i,f,g,o``) or 3 when coupled (``f,g,o``)."""
        return 3 if self.coupled else 4

    @property
    def forget_rows(self) -> slice:
        H = self.hidden_size
        return slice(0, H) if self.coupled else slice(H, 2 * H)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    @property
    def droppable(self) -> tuple[bool, ...]:
        return (True, False)

    def weight_specs(self, bias: bool) -> dict[str, WeightSpec]:
        H, I, G = self.hidden_size, self.input_size, self.gates
        R = self.proj_size or H
        specs = {
            "weight_ih": WeightSpec((G * H, I), "kernel"),
            "weight_hh": WeightSpec((G * H, R), "recurrent"),
        }
        if bias:
            specs["bias_ih"] = WeightSpec((G * H,), "bias")
            specs["bias_hh"] = WeightSpec((G * H,), "bias")
        if self.proj_size:
            specs["weight_hr"] = WeightSpec((self.proj_size, H), "kernel")
        if self.peephole:
            if not self.coupled:
                specs["weight_ci"] = WeightSpec((H,), "peephole")
            specs["weight_cf"] = WeightSpec((H,), "peephole")
            specs["weight_co"] = WeightSpec((H,), "peephole")
        return specs

    def step(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> State:
        return self.step_with_gates(x, state, w, drop)[0]

    def step_with_gates(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> tuple[State, Gates]:
        """One step and its gates ``i, f, g, o``, each ``(B, H)`` (CIFG: ``i`` is ``1 - f``)."""
        h, c = state
        sigma, act = self.recurrent_activation, self.activation
        gates = F.linear(x, w["weight_ih"], w.get("bias_ih")) + F.linear(
            masked(h, drop, 0), w["weight_hh"], w.get("bias_hh")
        )  # (B, G*H)
        if self.coupled:
            x_f, x_g, x_o = gates.chunk(3, 1)
        else:
            x_i, x_f, x_g, x_o = gates.chunk(4, 1)
        if self.peephole:
            f = sigma(x_f + w["weight_cf"] * c)  # forget gate, peeks at c_{t-1}
            i = 1 - f if self.coupled else sigma(x_i + w["weight_ci"] * c)  # input gate
        else:
            f = sigma(x_f)
            i = 1 - f if self.coupled else sigma(x_i)
        g = act(x_g)  # candidate cell
        c = f * c + i * g  # new cell state
        o = (
            sigma(x_o + w["weight_co"] * c) if self.peephole else sigma(x_o)
        )  # output gate, peeks at c_t
        h = o * act(c)
        if self.proj_size:
            h = F.linear(h, w["weight_hr"])  # (B, P)
        return (h, c), {"i": i, "f": f, "g": g, "o": o}

    def init_adjust(self, w: Mapping[str, Tensor]) -> None:
        """``unit_forget_bias``: forget-gate bias 1 (Jozefowicz et al. 2015; Keras's default).

        With PyTorch's two bias vectors the effective bias is ``b_ih + b_hh``: we set the forget rows
        of ``bias_ih`` to 1 and of ``bias_hh`` to 0, so their sum is exactly 1.
        """
        if self.unit_forget_bias and "bias_ih" in w:
            w["bias_ih"].data[self.forget_rows] = 1.0
            w["bias_hh"].data[self.forget_rows] = 0.0
