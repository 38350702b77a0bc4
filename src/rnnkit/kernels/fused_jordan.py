"""The fused kernel of the three classic recurrences (:mod:`rnnkit.cells.jordan`), any subset on.

``ρ_y``, ``ρ_h`` the recurrent-dropout masks, ``ỹ = ρ_y ⊙ y_{t-1}``, ``h̃ = ρ_h ⊙ h_{t-1}``;
``X W_ih^T + b_ih + b_hh`` for all steps before the loop. Two dependent GEMMs per step::

    h_t = act(X_t W_ih^T + b [+ h̃ W_hh^T] [+ ỹ W_yh^T])
    y_t = act_o(h_t W_hy^T + b_y [+ ỹ W_yy^T])

    dB_t = (dout_t + dy_t) ⊙ act_o'(y_t)                        output pre-activation
    dA_t = (dh_t + dB_t W_hy) ⊙ act'(h_t)                        hidden pre-activation
    dy_{t-1} = ρ_y ⊙ ([dA_t W_yh] + [dB_t W_yy])
    dh_{t-1} = ρ_h ⊙ [dA_t W_hh]
    after the loop (fused_common.input_grads, weight_grad):
        dW_ih = dA^T X, dW_hh = dA^T H̃_prev, dW_yh = dA^T Ỹ_prev, dW_hy = dB^T H,
        dW_yy = dB^T Ỹ_prev, db_ih = db_hh = Σ dA, db_y = Σ dB, dX = dA W_ih

``A_t``, ``B_t`` are the hidden and output pre-activations; their buffers ``AH``, ``AY`` become the
state buffers in place (``h_t`` and ``y_t``). The C++ loops (``csrc/jordan.cpp``) and the Triton
kernels (:mod:`.triton_jordan`) use the same names.

>>> import torch
>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import JordanMath
>>> from rnnkit.kernels.reference import run_reference
>>> tanh = get_activation("tanh")
>>> cell = JordanMath(3, 4, 2, tanh, tanh, hidden_to_hidden=True, output_to_output=True)
>>> w = {n: torch.randn(s.shape) for n, s in cell.weight_specs(True).items()}
>>> x, state = torch.randn(5, 2, 3), (torch.zeros(2, 2), torch.zeros(2, 4))
>>> fused, ref = run_fused_jordan(cell, x, state, w), run_reference(cell, x, state, w)
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
from ..cells.jordan import JordanMath
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

__all__ = ["jordan_unfusable", "run_fused_jordan"]

Opt = Tensor | None


def jordan_unfusable(cell: JordanMath) -> str | None:
    """Why this cell cannot run fused (the option to name), or ``None``."""
    return unfusable_activation(
        activation=cell.activation, output_activation=cell.output_activation
    )


def _forward_loop(
    cell: JordanMath,
    AH: Tensor,
    AY: Tensor,
    W: tuple[Opt, Opt, Tensor, Opt, Opt],
    y0: Tensor,
    h0: Tensor,
    mask: Opt,
    rho_y: Opt,
    rho_h: Opt,
) -> None:
    """The recurrence in PyTorch ops: ``AH`` (input projections) becomes ``h_t``, ``AY`` ``y_t``."""
    W_hh, W_yh, W_hy, b_y, W_yy = W
    ms = mask.unbind(0) if mask is not None else None
    y, h = y0, h0
    for t, (h_t, y_t) in enumerate(zip(AH.unbind(0), AY.unbind(0), strict=True)):
        yd = y if rho_y is None else y * rho_y
        if W_hh is not None:
            h_t.addmm_(h if rho_h is None else h * rho_h, W_hh.t())  # Elman recurrence
        if W_yh is not None:
            h_t.addmm_(yd, W_yh.t())  # Jordan recurrence
        act_(cell.activation, h_t)  # h_t = act(A_t)
        if ms is not None:  # rows past their length keep their state
            torch.where(ms[t], h_t, h, out=h_t)
        if b_y is None:
            torch.mm(h_t, W_hy.t(), out=y_t)
        else:
            torch.addmm(b_y, h_t, W_hy.t(), out=y_t)
        if W_yy is not None:
            y_t.addmm_(yd, W_yy.t())  # output-to-output recurrence
        act_(cell.output_activation, y_t)  # y_t = act_o(B_t)
        if ms is not None:
            torch.where(ms[t], y_t, y, out=y_t)
        y, h = y_t, h_t


def _backward_loop(
    cell: JordanMath,
    AH: Tensor,
    AY: Tensor,
    W: tuple[Opt, Opt, Tensor, Opt, Opt],
    mask: Opt,
    rho_y: Opt,
    rho_h: Opt,
    d_out: Opt,
    d_hs: Opt,
    dy: Tensor,
    dh: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Backward through time in PyTorch ops. Returns ``dA``, ``dB`` and the gradients of
    ``y_0``, ``h_0``."""
    W_hh, W_yh, W_hy, _, W_yy = W
    T = AH.shape[0]
    maskf = float_mask(mask, AH)
    d_out = d_out if d_out is not None else torch.zeros_like(AY)
    if maskf is not None:
        d_out = d_out * maskf
        if d_hs is not None:
            d_hs = d_hs * maskf
    dA, dB = torch.empty_like(AH), torch.empty_like(AY)
    if maskf is None:
        dy = dy + d_out[T - 1]
    for t in range(T - 1, -1, -1):
        dy_keep = dh_keep = None
        if maskf is not None:  # the new state gets m (dout + ds), the kept one (1 - m) ds
            m = maskf[t]
            dy_m, dh_m = dy * m, dh * m
            dy_keep, dh_keep = dy - dy_m, dh - dh_m
            dy, dh = dy_m.add_(d_out[t]), dh_m
        if d_hs is not None:
            dh = dh + d_hs[t]
        dB_t = torch.mul(dy, dact(cell.output_activation, AY[t]), out=dB[t])
        dA_t = torch.mul(torch.addmm(dh, dB_t, W_hy), dact(cell.activation, AH[t]), out=dA[t])
        rec_y = rec_h = None
        if W_yh is not None:
            rec_y = dA_t @ W_yh
        if W_yy is not None:
            rec_y = dB_t @ W_yy if rec_y is None else rec_y.addmm_(dB_t, W_yy)
        if W_hh is not None:
            rec_h = dA_t @ W_hh
        dy = _carry(rec_y, rho_y, dy_keep, dy)
        dh = _carry(rec_h, rho_h, dh_keep, dh)
        if maskf is None and t > 0:
            dy = dy + d_out[t - 1]
    return dA, dB, dy, dh


def _carry(rec: Opt, rho: Opt, keep: Opt, like: Tensor) -> Tensor:
    """``keep + ρ ⊙ rec`` with absent terms left out (zeros when all are absent)."""
    out = torch.zeros_like(like) if keep is None else keep
    if rec is not None:
        out = out + (rec if rho is None else rec * rho)
    return out


class _FusedJordan(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        cell: JordanMath,
        keep_steps: bool,
        x: Tensor,
        y0: Tensor,
        h0: Tensor,
        W_ih: Tensor,
        b: Opt,
        W_hh: Opt,
        W_yh: Opt,
        W_hy: Tensor,
        b_y: Opt,
        W_yy: Opt,
        mask: Opt,
        rho_y: Opt,
        rho_h: Opt,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        ctx.set_materialize_grads(False)
        T, B, I = x.shape
        H, O = cell.hidden_size, cell.output_size_
        x2 = x.reshape(T * B, I)
        AH = torch.mm(x2, W_ih.t()) if b is None else torch.addmm(b, x2, W_ih.t())
        AH = AH.view(T, B, H)  # input projections, then (in place) the states h_t
        AY = x.new_empty(T, B, O)  # y_t
        y0, h0 = y0.contiguous(), h0.contiguous()
        W_hh, W_yh, b_y, W_yy = (
            None if w is None else w.contiguous() for w in (W_hh, W_yh, b_y, W_yy)
        )  # the C loops read raw memory
        W = (W_hh, W_yh, W_hy.contiguous(), b_y, W_yy)
        ctx.engine = engine = loop_engine(x, cell)
        if engine == "torch":
            _forward_loop(cell, AH, AY, W, y0, h0, mask, rho_y, rho_h)
        elif engine == "triton":
            from .triton_jordan import forward_loop

            forward_loop(cell, AH, AY, W, y0, h0, mask, rho_y, rho_h)
        else:
            ccall(
                loaded_lib(), "jordan_fwd", x.dtype, T, B, H, O,
                cell.activation, cell.output_activation, AH, AY, *W, y0, h0,
                None if mask is None else mask.reshape(T, B), rho_y, rho_h,
                x.new_empty(B * (H + O)),
            )  # fmt: skip
        maskf = float_mask(mask, x)
        ctx.cell = cell
        y_rec, h_rec = W_yh is not None or W_yy is not None, W_hh is not None
        ctx.save_for_backward(
            x,
            y0 if y_rec else None,
            h0 if h_rec else None,
            W_ih if ctx.needs_input_grad[2] else None,
            *W,
            mask,
            rho_y,
            rho_h,
            AH,
            AY,
        )
        out = AY if maskf is None else AY * maskf
        h_steps = None
        if keep_steps:
            h_steps = AH if maskf is None else AH * maskf
        return out, AY[T - 1].clone(), AH[T - 1].clone(), h_steps

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, d_out: Opt, d_yT: Opt, d_hT: Opt, d_hs: Opt
    ) -> tuple[Tensor | None, ...]:
        x, y0, h0, W_ih, W_hh, W_yh, W_hy, b_y, W_yy, mask, rho_y, rho_h, AH, AY = ctx.saved_tensors
        W = (W_hh, W_yh, W_hy, b_y, W_yy)
        cell: JordanMath = ctx.cell
        T, B, _ = x.shape
        H, O = cell.hidden_size, cell.output_size_
        dy, dh = x.new_zeros(B, O), x.new_zeros(B, H)  # carried gradients, updated in place
        if d_yT is not None:
            dy.copy_(d_yT)
        if d_hT is not None:
            dh.copy_(d_hT)
        if ctx.engine == "torch":
            dA, dB, dy, dh = _backward_loop(
                cell, AH, AY, W, mask, rho_y, rho_h, d_out, d_hs, dy, dh
            )
        elif ctx.engine == "triton":
            from .triton_jordan import backward_loop

            dA, dB, dy, dh = backward_loop(cell, AH, AY, W, mask, rho_y, rho_h, d_out, d_hs, dy, dh)
        else:
            dA, dB = torch.empty_like(AH), torch.empty_like(AY)
            ccall(
                loaded_lib(), "jordan_bwd", x.dtype, T, B, H, O,
                cell.activation, cell.output_activation, AH, AY, *W,
                None if mask is None else mask.reshape(T, B), rho_y, rho_h,
                None if d_out is None else d_out.contiguous(),
                None if d_hs is None else d_hs.contiguous(), dy, dh, dA, dB,
                x.new_empty(2 * B * (H + O)),
            )  # fmt: skip
        need = ctx.needs_input_grad
        dx, dW_ih, db = input_grads(dA, x, W_ih, (need[2], need[5], need[6]))
        dW_hh = dW_yh = dW_hy = db_y = dW_yy = None
        if need[8] or need[11]:  # ỹ entering each step
            Y_prev = prev_steps(y0, AY, rho_y)
            dW_yh = weight_grad(dA, Y_prev) if need[8] and W_yh is not None else None
            dW_yy = weight_grad(dB, Y_prev) if need[11] and W_yy is not None else None
        if need[7] and W_hh is not None:
            dW_hh = weight_grad(dA, prev_steps(h0, AH, rho_h))  # dA^T H̃_prev
        if need[9]:
            dW_hy = weight_grad(dB, AH)  # dB^T H
        if need[10]:
            db_y = dB.sum((0, 1))
        return (
            None, None, dx, dy, dh, dW_ih, db, dW_hh, dW_yh, dW_hy, db_y, dW_yy, None, None, None,
        )  # fmt: skip


def run_fused_jordan(
    cell: JordanMath,
    x: Tensor,
    state: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
    keep_steps: bool = False,
) -> SequenceResult:
    """Run one layer of the classic recurrences over ``x (T, B, I)``: the contract of ``run_reference``."""
    if x.shape[0] == 0:
        return empty_result(cell, x, state, keep_steps)
    b = w.get("bias_ih")
    if b is not None and "bias_hh" in w:
        b = b + w["bias_hh"]
    dtype = autocast_dtype(x)
    args = cast_all(
        dtype, x, state[0], state[1], w["weight_ih"], b, w.get("weight_hh"), w.get("weight_yh"),
        w["weight_hy"], w.get("bias_y"), w.get("weight_yy"),
    )  # fmt: skip
    rhos = drop_mask(drop, 0, dtype), drop_mask(drop, 1, dtype)
    with no_autocast(x):
        out, yT, hT, h_steps = _FusedJordan.apply(cell, keep_steps, *args, mask, *rhos)
    return SequenceResult(out, (yT, hT), (out, h_steps) if keep_steps else None)
