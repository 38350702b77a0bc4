"""Gated recurrent unit (Cho et al. 2014), in both of its formulations.

Fused weights in PyTorch's gate order ``r, z, n``; ``σ`` is ``recurrent_activation`` (sigmoid),
``act`` is ``activation`` (tanh)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                  reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                  update gate
    n_t = act(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))        reset_after=True  (PyTorch, cuDNN)
    n_t = act(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)        reset_after=False (Cho et al., Keras v1)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

The two differ only in where the reset gate is applied: after the recurrent matmul (one GEMM per
step for all three gates, the form cuDNN implements; ONNX ``linear_before_reset=1``) or before it
(the paper's form; the ``n`` rows need a second, dependent GEMM). Both use ``torch.nn.GRU``'s
parameter names and shapes: ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh (3H)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from ..activations import Activation
from .base import CellMath, Gates, State, Weights, WeightSpec, masked

__all__ = ["GRUMath"]


@dataclass(frozen=True)
class GRUMath(CellMath):
    input_size: int
    hidden_size: int
    activation: Activation
    recurrent_activation: Activation
    reset_after: bool = True

    gate_names = ("r", "z", "n")
    torch_defaults = (
        ("reset_after", True),
        ("activation", "tanh"),
        ("recurrent_activation", "sigmoid"),
    )

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    @property
    def droppable(self) -> tuple[bool, ...]:
        return (True,)

    def weight_specs(self, bias: bool) -> dict[str, WeightSpec]:
        H, I = self.hidden_size, self.input_size
        specs = {
            "weight_ih": WeightSpec((3 * H, I), "kernel"),
            "weight_hh": WeightSpec((3 * H, H), "recurrent"),
        }
        if bias:
            specs["bias_ih"] = WeightSpec((3 * H,), "bias")
            specs["bias_hh"] = WeightSpec((3 * H,), "bias")
        return specs

    def step(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> State:
        return self.step_with_gates(x, state, w, drop)[0]

    def step_with_gates(
        self, x: Tensor, state: State, w: Weights, drop: Sequence[Tensor | None] | None = None
    ) -> tuple[State, Gates]:
        """One step and its gates ``r, z, n``, each ``(B, H)`` (``n`` is the candidate state)."""
        (h,) = state
        sigma, act, H = self.recurrent_activation, self.activation, self.hidden_size
        h_rec = masked(h, drop, 0)
        x_r, x_z, x_n = F.linear(x, w["weight_ih"], w.get("bias_ih")).chunk(3, 1)  # (B, H) each
        W_hh, b_hh = w["weight_hh"], w.get("bias_hh")
        if self.reset_after:
            h_r, h_z, h_n = F.linear(h_rec, W_hh, b_hh).chunk(3, 1)
            r = sigma(x_r + h_r)  # reset gate
            z = sigma(x_z + h_z)  # update gate
            n = act(x_n + r * h_n)  # candidate, reset after the matmul
        else:
            b_rz = None if b_hh is None else b_hh[: 2 * H]
            b_n = None if b_hh is None else b_hh[2 * H :]
            h_r, h_z = F.linear(h_rec, W_hh[: 2 * H], b_rz).chunk(2, 1)
            r = sigma(x_r + h_r)  # reset gate
            z = sigma(x_z + h_z)  # update gate
            n = act(
                x_n + F.linear(r * h_rec, W_hh[2 * H :], b_n)
            )  # candidate, reset before the matmul
        h = (1 - z) * n + z * h
        return (h,), {"r": r, "z": z, "n": n}
