"""The fused Elman kernel (:mod:`rnnkit.cells.rnn`: tanh, ReLU or any activation with a known
derivative) with a hand-written backward through time.

``ρ`` the recurrent-dropout mask; ``X W_ih^T + b_ih + b_hh`` for all steps before the loop::

    A_t = X_t W_ih^T + b + (ρ ⊙ h_{t-1}) W_hh^T              the pre-activations (B, H)
    h_t = act(A_t)

    dA_t     = (dout_t + dh_t) ⊙ act'(h_t)
    dh_{t-1} = ρ ⊙ (dA_t W_hh)
    after the loop (fused_common.input_grads, weight_grad):
    dW_ih = dA^T X, dW_hh = dA^T (ρ ⊙ H_prev), db_ih = db_hh = Σ dA, dX = dA W_ih

The pre-activation buffer becomes the state buffer ``S`` in place (``A_t`` in, ``h_t`` out), so
forward keeps one ``(T, B, H)`` tensor, which is also the output (and, with lengths, the output
times the mask). The C++ loops (``csrc/elman.cpp``) and the Triton kernels (:mod:`.triton_elman`)
use the same names.

>>> import torch
>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import ElmanMath
>>> from rnnkit.kernels.reference import run_reference
>>> cell = ElmanMath(3, 4, get_activation("relu"))
>>> w = {n: torch.randn(s.shape) for n, s in cell.weight_specs(True).items()}
>>> x, state = torch.randn(5, 2, 3), (torch.zeros(2, 4),)
>>> fused, ref = run_fused_elman(cell, x, state, w), run_reference(cell, x, state, w)
>>> torch.allclose(fused.output, ref.output, atol=1e-6)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..cells.base import State, Weights
from ..cells.rnn import ElmanMath
from .engines import loop_engine
from .fused_c import ccall, loaded_lib
from .fused_common import (
    act_,
    autocast_dtype,
    cast_all,
    dact,
    drop_mask,
    empty_result,
    float_mask,
    input_grads,
    no_autocast,
    prev_steps,
    unfusable_activation,
    weight_grad,
)
from .reference import SequenceResult

__all__ = ["elman_unfusable", "run_fused_elman"]


def elman_unfusable(cell: ElmanMath) -> str | None:
    """Why this Elman cell cannot run fused (the option to name), or ``None``."""
    return unfusable_activation(nonlinearity=cell.activation)


def _forward_loop(
    cell: ElmanMath, A: Tensor, W_hh: Tensor, h0: Tensor, mask: Tensor | None, rho: Tensor | None
) -> None:
    """The recurrence in PyTorch ops: ``A`` (pre-activations) becomes the states ``h_t`` in place."""
    W_hh_t = W_hh.t()
    ms = mask.unbind(0) if mask is not None else None
    h = h0
    for t, A_t in enumerate(A.unbind(0)):
        h_t = act_(cell.activation, A_t.addmm_(h if rho is None else h * rho, W_hh_t))
        if ms is not None:  # rows past their length keep their state
            torch.where(ms[t], h_t, h, out=h_t)
        h = h_t


def _backward_loop(
    cell: ElmanMath,
    S: Tensor,
    W_hh: Tensor,
    mask: Tensor | None,
    rho: Tensor | None,
    d_out: Tensor | None,
    dh: Tensor,
) -> tuple[Tensor, Tensor]:
    """Backward through time in PyTorch ops. Returns ``dA (T, B, H)`` and the gradient of ``h_0``."""
    T = S.shape[0]
    maskf = float_mask(mask, S)
    d_out = d_out if d_out is not None else torch.zeros_like(S)
    if maskf is not None:
        d_out = d_out * maskf
    dA = torch.empty_like(S)
    Ss, dAs = S.unbind(0), dA.unbind(0)
    if maskf is None:
        dh = dh + d_out[T - 1]
    for t in range(T - 1, -1, -1):
        if maskf is not None:  # the new state gets m (dout + dh), the kept one (1 - m) dh
            dh_m = dh * maskf[t]
            dh_keep, dh = dh - dh_m, dh_m.add_(d_out[t])
        dA_t = torch.mul(dh, dact(cell.activation, Ss[t]), out=dAs[t])
        if rho is None and maskf is None and t > 0:
            dh = torch.addmm(d_out[t - 1], dA_t, W_hh)  # dh_{t-1}, with its output's gradient
            continue
        dh = dA_t @ W_hh
        if rho is not None:
            dh.mul_(rho)
        if maskf is not None:
            dh.add_(dh_keep)
        elif t > 0:
            dh.add_(d_out[t - 1])
    return dA, dh


class _FusedElman(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        cell: ElmanMath,
        x: Tensor,
        h0: Tensor,
        W_ih: Tensor,
        W_hh: Tensor,
        b: Tensor | None,
        mask: Tensor | None,
        rho: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        T, B, I = x.shape
        H = cell.hidden_size
        x2 = x.reshape(T * B, I)
        S = torch.mm(x2, W_ih.t()) if b is None else torch.addmm(b, x2, W_ih.t())
        S = S.view(T, B, H)  # X W_ih^T + b, then (in place) A_t, then the states h_t
        h0, W_hh = h0.contiguous(), W_hh.contiguous()  # the C loops read raw memory
        ctx.engine = engine = loop_engine(x, cell)
        if engine == "torch":
            _forward_loop(cell, S, W_hh, h0, mask, rho)
        elif engine == "triton":
            from .triton_elman import forward_loop

            forward_loop(cell, S, W_hh, h0, mask, rho)
        else:
            m = None if mask is None else mask.reshape(T, B)
            ccall(loaded_lib(), "elman_fwd", x.dtype, T, B, H, cell.activation, S, W_hh, h0, m, rho)
        maskf = float_mask(mask, x)
        ctx.cell = cell
        ctx.save_for_backward(x, h0, W_ih if ctx.needs_input_grad[1] else None, W_hh, mask, rho, S)
        return (S if maskf is None else S * maskf), S[T - 1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor | None, d_hT: Tensor | None) -> tuple[Tensor | None, ...]:
        x, h0, W_ih, W_hh, mask, rho, S = ctx.saved_tensors
        cell: ElmanMath = ctx.cell
        T, B, _ = x.shape
        H = cell.hidden_size
        dh = x.new_zeros(B, H)  # carried gradient, updated in place
        if d_hT is not None:
            dh.copy_(d_hT)
        if ctx.engine == "torch":
            dA, dh = _backward_loop(cell, S, W_hh, mask, rho, d_out, dh)
        elif ctx.engine == "triton":
            from .triton_elman import backward_loop

            dA, dh = backward_loop(cell, S, W_hh, mask, rho, d_out, dh)
        else:
            dA = torch.empty_like(S)
            ccall(
                loaded_lib(), "elman_bwd", x.dtype, T, B, H, cell.activation, S, W_hh,
                None if mask is None else mask.reshape(T, B), rho,
                None if d_out is None else d_out.contiguous(), dh, dA, x.new_empty(2 * B * H),
            )  # fmt: skip
        need = ctx.needs_input_grad
        dx, dW_ih, db = input_grads(dA, x, W_ih, (need[1], need[3], need[5]))
        dW_hh = weight_grad(dA, prev_steps(h0, S, rho)) if need[4] else None
        return (None, dx, dh, dW_ih, dW_hh, db, None, None)


def run_fused_elman(
    cell: ElmanMath,
    x: Tensor,
    state: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
    keep_steps: bool = False,
) -> SequenceResult:
    """Run one Elman layer over ``x (T, B, I)``: the same contract as ``run_reference``."""
    if x.shape[0] == 0:
        return empty_result(cell, x, state, keep_steps)
    b = w["bias_ih"] + w["bias_hh"] if "bias_ih" in w else None
    dtype = autocast_dtype(x)
    args = cast_all(dtype, x, state[0], w["weight_ih"], w["weight_hh"], b)
    rho = drop_mask(drop, 0, dtype)
    with no_autocast(x):
        out, hT = _FusedElman.apply(cell, *args, mask, rho)
    return SequenceResult(out, (hT,), (out,) if keep_steps else None)
