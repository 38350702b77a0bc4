"""The classic recurrences' time loops on a GPU: cuBLAS for the GEMMs, two Triton launches a step.

The math and the symbols are those of :mod:`rnnkit.kernels.fused_jordan` (any subset of the
hidden-to-hidden, output-to-hidden and output-to-output recurrences). A step is two layers of
the form "state = act(pre-activation)", the output layer reading the new ``h_t``, so each runs
through the step kernels of :mod:`.triton_elman` with its own activation. Forward::

    A_t += h̃ W_hh^T;  A_t += ỹ W_yh^T                   torch.addmm (cuBLAS), where present
    step_fwd: h_t = act(A_t), mask; ρ_h ⊙ h_t            one launch
    B_t = h_t W_hy^T + b_y;  B_t += ỹ W_yy^T              torch.addmm
    step_fwd: y_t = act_o(B_t), mask; ρ_y ⊙ y_t          one launch

and backward, ``RY``, ``RH`` the raw recurrent GEMMs of the step after (the final states'
gradients at ``t = T-1``) and ``KY``, ``KH`` the parts kept by rows past their length::

    step_bwd: dy_t = ρ_y ⊙ RY + KY, KY = (1 - m) dy_t, dB_t = m (dy_t + dout_t) ⊙ act_o'(y_t)
    Q = dB_t W_hy                                        torch.mm
    step_bwd: dh_t = ρ_h ⊙ RH + KH, KH = (1 - m) dh_t, dA_t = m (dh_t + dhs_t + Q) ⊙ act'(h_t)
    RY = [dA_t W_yh] + [dB_t W_yy];  RH = [dA_t W_hh]    torch.mm / addmm

(``Q`` is zero in the rows past their length, as ``dB_t`` is, so masking it changes nothing.)

:func:`forward_loop` and :func:`backward_loop` have the signatures and results of the PyTorch
loops in :mod:`rnnkit.kernels.fused_jordan`, which call them when the engine is ``triton``
(:func:`rnnkit.kernels.engines.loop_engine`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..cells.jordan import JordanMath
from .fused_jordan import Opt, _carry
from .triton_common import mask_u8
from .triton_elman import step_bwd, step_fwd

__all__ = ["backward_loop", "forward_loop"]


def forward_loop(
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
    """The forward loop of :mod:`.fused_jordan`: ``AH`` (input projections) becomes ``h_t``,
    ``AY`` ``y_t``."""
    W_hh, W_yh, W_hy, b_y, W_yy = W
    rho_h = rho_h if W_hh is not None else None  # a dropout mask only where its GEMM reads it
    rho_y = rho_y if W_yh is not None or W_yy is not None else None
    hd = AH.new_empty(h0.shape) if rho_h is not None else AH  # ρ_h ⊙ h_t (AH: a stand-in)
    yd = AY.new_empty(y0.shape) if rho_y is not None else AY  # ρ_y ⊙ y_t
    m8 = mask_u8(mask)
    y, h = y0, h0
    h_in = h0 if rho_h is None else h0 * rho_h
    y_in = y0 if rho_y is None else y0 * rho_y
    for t, (h_t, y_t) in enumerate(zip(AH.unbind(0), AY.unbind(0), strict=True)):
        if W_hh is not None:
            h_t.addmm_(h_in, W_hh.t())  # Elman recurrence
        if W_yh is not None:
            h_t.addmm_(y_in, W_yh.t())  # Jordan recurrence
        step_fwd(cell.activation, h_t, h, m8, rho_h, hd, t)  # h_t = act(A_t)
        if b_y is None:
            torch.mm(h_t, W_hy.t(), out=y_t)
        else:
            torch.addmm(b_y, h_t, W_hy.t(), out=y_t)
        if W_yy is not None:
            y_t.addmm_(y_in, W_yy.t())  # output-to-output recurrence
        step_fwd(cell.output_activation, y_t, y, m8, rho_y, yd, t)  # y_t = act_o(B_t)
        y, h = y_t, h_t
        h_in = h_t if rho_h is None else hd
        y_in = y_t if rho_y is None else yd


def backward_loop(
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
    """The backward loop of :mod:`.fused_jordan`: returns ``dA``, ``dB`` and the gradients of
    ``y_0``, ``h_0``."""
    W_hh, W_yh, W_hy, _, W_yy = W
    T = AH.shape[0]
    m8 = mask_u8(mask)
    d_out = None if d_out is None else d_out.contiguous()
    d_hs = None if d_hs is None else d_hs.contiguous()
    dA, dB = torch.empty_like(AH), torch.empty_like(AY)
    ky, kh = torch.empty_like(dy), torch.empty_like(dh)  # the kept parts (1 - m) dy, (1 - m) dh
    ry: Opt = dy  # the raw recurrent GEMMs of the step after: the final states' gradients first
    rh: Opt = dh
    keep = mask is not None
    for t in range(T - 1, -1, -1):
        last = t == T - 1
        step_bwd(
            cell.output_activation, AY[t], dB[t], ry, None if last else rho_y, ky,
            keep and not last, None if d_out is None else d_out[t], None, m8, t,
        )  # fmt: skip
        q = dB[t] @ W_hy  # the gradient reaching h_t through y_t
        step_bwd(
            cell.activation, AH[t], dA[t], rh, None if last else rho_h, kh, keep and not last,
            None if d_hs is None else d_hs[t], q, m8, t,
        )  # fmt: skip
        ry = None if W_yh is None else dA[t] @ W_yh
        if W_yy is not None:
            ry = dB[t] @ W_yy if ry is None else ry.addmm_(dB[t], W_yy)
        rh = None if W_hh is None else dA[t] @ W_hh
    dy = _carry(ry, rho_y, ky if keep else None, dy)
    dh = _carry(rh, rho_h, kh if keep else None, dh)
    return dA, dB, dy, dh
