"""The Elman recurrence's time loops on a GPU: cuBLAS for the recurrent GEMM, one Triton kernel.

The math and the symbols are those of :mod:`rnnkit.kernels.fused_elman`. Per step, forward::

    A_t += (ρ ⊙ h_{t-1}) W_hh^T                        torch.addmm (cuBLAS)
    _step_fwd: h_t = act(A_t), the length mask          one launch; also ρ ⊙ h_t for the next GEMM

and backward, where ``R_t = dA_{t+1} W_hh`` is the previous GEMM's raw result and ``K`` the part
of the carried gradient kept by rows past their length::

    _step_bwd: dh_t = ρ ⊙ R_t + K;  K = (1 - m) dh_t;  dA_t = m (dh_t + dout_t) ⊙ act'(h_t)
                                                        one launch, mask and dropout included
    R_{t-1} = dA_t W_hh                                 torch.mm

So a step costs one GEMM and one launch each way, and the PyTorch loop's masking and dropout ops
are gone. The two kernels are written for any "state = act(pre-activation)" step over ``N``
elements of width ``W``, not only Elman's: :mod:`.triton_jordan` runs each of its two layers
(hidden, output) through them.

:func:`forward_loop` and :func:`backward_loop` have the signatures and results of the PyTorch
loops in :mod:`rnnkit.kernels.fused_elman`, which call them when the engine is ``triton``
(:func:`rnnkit.kernels.engines.loop_engine`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..activations import Activation
from ..cells.rnn import ElmanMath
from .triton_common import BLOCK, act, act_args, act_grad, grid, load_c, mask_u8

__all__ = ["backward_loop", "forward_loop", "step_bwd", "step_fwd"]


@triton.jit
def _step_fwd(
    A, S_prev, M, RHO, SD,
    B, W, t, N,
    HAS_MASK: tl.constexpr, HAS_RHO: tl.constexpr, F64: tl.constexpr,
    ACT: tl.constexpr, ACT_S: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One step forward over ``N = B*W`` elements: ``A_t`` becomes ``s_t = act(A_t)`` in place
    (rows past their length keep ``s_{t-1}``); with ``HAS_RHO`` also ``ρ ⊙ s_t`` into ``SD``."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    s = act(load_c(A + e, ok, F64), ACT, ACT_S)
    if HAS_MASK:
        live = tl.load(M + t * B + e // W, mask=ok) != 0
        s = tl.where(live, s, load_c(S_prev + e, ok, F64))
    tl.store(A + e, s, mask=ok)
    if HAS_RHO:
        tl.store(SD + e, s * load_c(RHO + e, ok, F64), mask=ok)


@triton.jit
def _step_bwd(
    R, RHO, K, D1, D2, S, M, DA,
    B, W, t, N,
    HAS_R: tl.constexpr, HAS_RHO: tl.constexpr, ADD_K: tl.constexpr, HAS_D1: tl.constexpr,
    HAS_D2: tl.constexpr, HAS_MASK: tl.constexpr, F64: tl.constexpr,
    ACT: tl.constexpr, ACT_S: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One step backward: ``dA_t`` from the gradient reaching ``s_t``.

    That gradient is ``ds = [ρ ⊙] R [+ K]`` (``R`` the raw recurrent GEMM of the step after, or
    the final state's gradient; ``K`` what rows past their length kept). With ``HAS_MASK`` the
    kernel writes the new kept part ``(1 - m) ds`` over ``K``; then ``dA_t = m (ds + D1 + D2) ⊙
    act'(s_t)`` (``D1``, ``D2`` the gradients reaching ``s_t`` from outside the recurrence).
    """
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    s = load_c(S + e, ok, F64)
    ds = tl.zeros_like(s)
    if HAS_R:
        ds = load_c(R + e, ok, F64)
        if HAS_RHO:
            ds = ds * load_c(RHO + e, ok, F64)
    if ADD_K:
        ds += load_c(K + e, ok, F64)
    if HAS_MASK:
        m = tl.where(tl.load(M + t * B + e // W, mask=ok) != 0, 1.0, 0.0).to(s.dtype)
        tl.store(K + e, ds - ds * m, mask=ok)
    if HAS_D1:
        ds += load_c(D1 + e, ok, F64)
    if HAS_D2:
        ds += load_c(D2 + e, ok, F64)
    if HAS_MASK:
        ds = ds * m
    tl.store(DA + e, ds * act_grad(s, ACT, ACT_S), mask=ok)


def step_fwd(
    activation: Activation,
    A_t: Tensor,
    s_prev: Tensor,
    m8: Tensor | None,
    rho: Tensor | None,
    sd: Tensor,
    t: int,
) -> None:
    """Launch :func:`_step_fwd` on the ``(B, W)`` step ``A_t``; ``m8`` from :func:`mask_u8`."""
    B, W = A_t.shape
    a, a_s = act_args(activation)
    _step_fwd[grid(B * W)](
        A_t, s_prev, A_t if m8 is None else m8, A_t if rho is None else rho, sd, B, W, t, B * W,
        HAS_MASK=m8 is not None, HAS_RHO=rho is not None, F64=A_t.dtype == torch.float64,
        ACT=a, ACT_S=a_s, BLOCK=BLOCK,
    )  # fmt: skip


def step_bwd(
    activation: Activation,
    s_t: Tensor,
    dA_t: Tensor,
    r: Tensor | None,
    rho: Tensor | None,
    keep: Tensor,
    add_keep: bool,
    d1: Tensor | None,
    d2: Tensor | None,
    m8: Tensor | None,
    t: int,
) -> None:
    """Launch :func:`_step_bwd`: ``dA_t`` from ``[ρ ⊙] r [+ keep] + d1 + d2`` and the state
    ``s_t``; ``keep`` (``(B, W)``) is read when ``add_keep`` and rewritten when ``m8`` is given."""
    B, W = s_t.shape
    a, a_s = act_args(activation)
    _step_bwd[grid(B * W)](
        s_t if r is None else r, s_t if rho is None else rho, keep, s_t if d1 is None else d1,
        s_t if d2 is None else d2, s_t, s_t if m8 is None else m8, dA_t, B, W, t, B * W,
        HAS_R=r is not None, HAS_RHO=rho is not None, ADD_K=add_keep, HAS_D1=d1 is not None,
        HAS_D2=d2 is not None, HAS_MASK=m8 is not None, F64=s_t.dtype == torch.float64,
        ACT=a, ACT_S=a_s, BLOCK=BLOCK,
    )  # fmt: skip


def forward_loop(
    cell: ElmanMath, A: Tensor, W_hh: Tensor, h0: Tensor, mask: Tensor | None, rho: Tensor | None
) -> None:
    """The forward loop of :mod:`.fused_elman`: ``A`` (pre-activations) becomes the states ``h_t``
    in place."""
    B, H = h0.shape
    hd = A.new_empty(B, H) if rho is not None else A  # ρ ⊙ h_t, what the next GEMM sees
    m8 = mask_u8(mask)
    W_hh_t = W_hh.t()
    h = h0
    h_in = h0 if rho is None else h0 * rho
    for t, A_t in enumerate(A.unbind(0)):
        A_t.addmm_(h_in, W_hh_t)
        step_fwd(cell.activation, A_t, h, m8, rho, hd, t)
        h = A_t
        h_in = A_t if rho is None else hd


def backward_loop(
    cell: ElmanMath,
    S: Tensor,
    W_hh: Tensor,
    mask: Tensor | None,
    rho: Tensor | None,
    d_out: Tensor | None,
    dh: Tensor,
) -> tuple[Tensor, Tensor]:
    """The backward loop of :mod:`.fused_elman`: returns ``dA (T, B, H)`` and the gradient of
    ``h_0``."""
    T = S.shape[0]
    m8 = mask_u8(mask)
    d_out = None if d_out is None else d_out.contiguous()
    dA = torch.empty_like(S)
    keep = torch.empty_like(dh)  # (1 - m) dh, the part kept by rows past their length
    r = dh  # the gradient reaching h_t before dropout and the kept part: dh_T at first
    for t in range(T - 1, -1, -1):
        last = t == T - 1
        step_bwd(
            cell.activation, S[t], dA[t], r, None if last else rho, keep,
            mask is not None and not last, None if d_out is None else d_out[t], None, m8, t,
        )  # fmt: skip
        r = dA[t] @ W_hh
    if rho is not None:
        r.mul_(rho)
    if mask is not None:
        r.add_(keep)
    return dA, r
