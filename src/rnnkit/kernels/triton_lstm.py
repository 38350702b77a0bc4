"""The LSTM's time loops on a GPU: cuBLAS for the recurrent GEMM, one Triton kernel for the gates.

The math and the symbols are those of :mod:`rnnkit.kernels.fused_lstm` (every variant: peepholes,
coupled gates, projection, any named activation). Per step, forward::

    A_t += (ρ ⊙ h_{t-1}) W_hh^T                     torch.addmm (cuBLAS)
    _lstm_fwd: i, f, g, o, c_t, h_t = o ⊙ act(c_t)  one launch; also ρ ⊙ h_t for the next GEMM
    (projection: h_t = (o ⊙ act(c_t)) W_hr^T        torch.mm, then the length mask in PyTorch)

and backward::

    (projection: dH_t = dh, dh_c = dh W_hr)          torch.mm
    _lstm_bwd: dA_t, dc_{t-1} from dh_c, dc          one launch, the length mask included
    dh_{t-1} = ρ ⊙ (dA_t W_hh) + dout_{t-1}          torch.addmm

:func:`forward_loop` and :func:`backward_loop` have the signatures and results of the PyTorch
loops in :mod:`rnnkit.kernels.fused_lstm`, which call them when the engine is ``triton``
(:func:`rnnkit.kernels.engines.loop_engine`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..cells.lstm import LSTMMath
from .fused_common import float_mask
from .triton_common import BLOCK, act, act_args, act_grad, grid, load_c, mask_u8

__all__ = ["backward_loop", "forward_loop"]


@triton.jit
def _lstm_fwd(
    A, C_prev, C_t, S_prev, S_t, HC, P_IN, P_O, M, RHO, HD,
    B, H, t, N,
    G: tl.constexpr, COUPLED: tl.constexpr, HAS_PEEP: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_RHO: tl.constexpr, PROJ: tl.constexpr, F64: tl.constexpr,
    SIG: tl.constexpr, SIG_S: tl.constexpr, ACT: tl.constexpr, ACT_S: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """One step forward over ``N = B*H`` elements; ``A_t`` (pre-activations) becomes i, f, g, o."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    b, j = e // H, e % H
    row = A + b * (G * H) + j  # gate block k of this element: row + k*H
    kf, kg, ko = G - 3, G - 2, G - 1  # f, g, o blocks (i is block 0 unless coupled)
    c = load_c(C_prev + e, ok, F64)
    a_f = load_c(row + kf * H, ok, F64)
    a_g = load_c(row + kg * H, ok, F64)
    a_o = load_c(row + ko * H, ok, F64)
    if HAS_PEEP:
        a_f += load_c(P_IN + kf * H + j, ok, F64) * c
    f = act(a_f, SIG, SIG_S)
    g = act(a_g, ACT, ACT_S)
    if COUPLED:
        c_t = g + f * (c - g)
    else:
        a_i = load_c(row, ok, F64)
        if HAS_PEEP:
            a_i += load_c(P_IN + j, ok, F64) * c
        i = act(a_i, SIG, SIG_S)
        tl.store(row, i, mask=ok)
        c_t = f * c + i * g
    if HAS_PEEP:
        a_o += load_c(P_O + j, ok, F64) * c_t
    o = act(a_o, SIG, SIG_S)
    h = o * act(c_t, ACT, ACT_S)
    tl.store(row + kf * H, f, mask=ok)
    tl.store(row + kg * H, g, mask=ok)
    tl.store(row + ko * H, o, mask=ok)
    if HAS_MASK:  # rows past their length keep their state
        live = tl.load(M + t * B + b, mask=ok) != 0
        c_t = tl.where(live, c_t, c)
    tl.store(C_t + e, c_t, mask=ok)
    if PROJ:
        tl.store(HC + e, h, mask=ok)  # o ⊙ k_t; the projection GEMM and its mask follow
    else:
        if HAS_MASK:
            h = tl.where(live, h, load_c(S_prev + e, ok, F64))
        tl.store(S_t + e, h, mask=ok)
        if HAS_RHO:
            tl.store(HD + e, h * load_c(RHO + e, ok, F64), mask=ok)


@triton.jit
def _lstm_bwd(
    A, C_t, C_prev, P_IN, P_O, DH, DOUT, M, DC, DCS, DA, KH,
    B, H, t, N,
    G: tl.constexpr, COUPLED: tl.constexpr, HAS_PEEP: tl.constexpr, HAS_MASK: tl.constexpr,
    MASK_H: tl.constexpr, HAS_DCS: tl.constexpr, F64: tl.constexpr,
    SIG: tl.constexpr, SIG_S: tl.constexpr, ACT: tl.constexpr, ACT_S: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """One step backward: ``dA_t`` and ``dc_{t-1}`` (into ``DC``, in place) from ``dh_c``, ``dc``.

    With ``MASK_H`` the kernel also splits the carried ``dh`` by the length mask (the new state
    gets ``m (dh + dout_t)``, the kept one ``(1 - m) dh``, written to ``KH``).
    """
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    b, j = e // H, e % H
    row = b * (G * H) + j
    kf, kg, ko = G - 3, G - 2, G - 1
    dh = load_c(DH + e, ok, F64)
    dc = load_c(DC + e, ok, F64)
    c_t = load_c(C_t + e, ok, F64)
    c = load_c(C_prev + e, ok, F64)
    f = load_c(A + row + kf * H, ok, F64)
    g = load_c(A + row + kg * H, ok, F64)
    o = load_c(A + row + ko * H, ok, F64)
    if HAS_MASK:
        m = tl.where(tl.load(M + t * B + b, mask=ok) != 0, 1.0, 0.0).to(dc.dtype)
        if MASK_H:
            tl.store(KH + e, dh - dh * m, mask=ok)
            dh = dh * m + load_c(DOUT + e, ok, F64)
        kc = dc - dc * m
        dc = dc * m
    if HAS_DCS:
        dc += load_c(DCS + e, ok, F64)
    k = act(c_t, ACT, ACT_S)
    dA_o = dh * k * act_grad(o, SIG, SIG_S)
    dc_hat = dc + dh * o * act_grad(k, ACT, ACT_S)
    if HAS_PEEP:
        dc_hat += dA_o * load_c(P_O + j, ok, F64)
    if COUPLED:  # c_t = f c_{t-1} + (1 - f) g
        dA_f = dc_hat * (c - g) * act_grad(f, SIG, SIG_S)
        dA_g = dc_hat * (1.0 - f) * act_grad(g, ACT, ACT_S)
    else:
        i = load_c(A + row, ok, F64)
        dA_i = dc_hat * g * act_grad(i, SIG, SIG_S)
        dA_f = dc_hat * c * act_grad(f, SIG, SIG_S)
        dA_g = dc_hat * i * act_grad(g, ACT, ACT_S)
        tl.store(DA + row, dA_i, mask=ok)
    dc_prev = dc_hat * f
    if HAS_PEEP:
        dc_prev += load_c(P_IN + kf * H + j, ok, F64) * dA_f
        if not COUPLED:
            dc_prev += load_c(P_IN + j, ok, F64) * dA_i
    if HAS_MASK:
        dc_prev += kc
    tl.store(DA + row + kf * H, dA_f, mask=ok)
    tl.store(DA + row + kg * H, dA_g, mask=ok)
    tl.store(DA + row + ko * H, dA_o, mask=ok)
    tl.store(DC + e, dc_prev, mask=ok)


def _consts(cell: LSTMMath, x: Tensor) -> dict[str, object]:
    sig, sig_s = act_args(cell.recurrent_activation)
    a, a_s = act_args(cell.activation)
    return dict(
        G=cell.gates, COUPLED=cell.coupled, HAS_PEEP=cell.peephole, F64=x.dtype == torch.float64,
        SIG=sig, SIG_S=sig_s, ACT=a, ACT_S=a_s, BLOCK=BLOCK,
    )  # fmt: skip


def forward_loop(
    cell: LSTMMath,
    A: Tensor,
    W_hh: Tensor,
    W_hr: Tensor | None,
    p_in: Tensor | None,
    p_o: Tensor | None,
    h0: Tensor,
    c0: Tensor,
    mask: Tensor | None,
    rho: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """The forward loop of :mod:`.fused_lstm`: ``A`` becomes the gate values in place; returns
    ``C (T, B, H)`` and ``S (T, B, R)``."""
    T, B, _ = A.shape
    H, R = cell.hidden_size, cell.output_size
    C, S = A.new_empty(T, B, H), A.new_empty(T, B, R)
    proj = W_hr is not None
    hc = A.new_empty(B, H) if proj else A  # A stands in for every absent tensor
    hd = A.new_empty(B, H) if rho is not None and not proj else A
    m8 = mask_u8(mask)
    ms = mask.unbind(0) if mask is not None else None
    consts = _consts(cell, A)
    W_hh_t = W_hh.t()
    h, c = h0, c0
    h_in = h0 if rho is None else h0 * rho  # what the recurrent GEMM sees
    for t in range(T):
        A_t, C_t, S_t = A[t], C[t], S[t]
        A_t.addmm_(h_in, W_hh_t)
        _lstm_fwd[grid(B * H)](
            A_t, c, C_t, h, S_t, hc, A if p_in is None else p_in, A if p_o is None else p_o,
            A if m8 is None else m8, A if rho is None else rho, hd, B, H, t, B * H,
            HAS_MASK=mask is not None, HAS_RHO=rho is not None, PROJ=proj, **consts,
        )  # fmt: skip
        if proj:
            assert W_hr is not None
            torch.mm(hc, W_hr.t(), out=S_t)
            if ms is not None:
                torch.where(ms[t], S_t, h, out=S_t)
            h_in = S_t if rho is None else S_t * rho
        else:
            h_in = S_t if rho is None else hd
        h, c = S_t, C_t
    return C, S


def backward_loop(
    cell: LSTMMath,
    A: Tensor,
    C: Tensor,
    c0: Tensor,
    W_hh: Tensor,
    W_hr: Tensor | None,
    p_in: Tensor | None,
    p_o: Tensor | None,
    mask: Tensor | None,
    rho: Tensor | None,
    d_out: Tensor | None,
    d_cs: Tensor | None,
    dh: Tensor,
    dc: Tensor,
) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """The backward loop of :mod:`.fused_lstm`: returns ``dA``, ``dH`` (with a projection) and the
    gradients of the initial ``h``, ``c``. ``dc`` is updated in place."""
    T, B, _ = A.shape
    H, G, R = cell.hidden_size, cell.gates, cell.output_size
    proj = W_hr is not None
    maskf = float_mask(mask, A)
    d_out = A.new_zeros(T, B, R) if d_out is None else d_out.contiguous()
    if maskf is not None:
        d_out = d_out * maskf
        if d_cs is not None:
            d_cs = d_cs * maskf
    if d_cs is not None:
        d_cs = d_cs.contiguous()
    dA = A.new_empty(T, B, G * H)
    dH = A.new_empty(T, B, R) if proj else None
    kh = A.new_empty(B, H) if mask is not None and not proj else A
    m8 = mask_u8(mask)
    consts = _consts(cell, A)
    if maskf is None:
        dh = dh + d_out[T - 1]
    for t in range(T - 1, -1, -1):
        dh_c, dh_keep = dh, kh
        if proj:
            assert W_hr is not None and dH is not None
            if maskf is not None:
                dh_m = dh * maskf[t]
                dh_keep, dh = dh - dh_m, dh_m.add_(d_out[t])
            dH[t] = dh
            dh_c = dh @ W_hr
        _lstm_bwd[grid(B * H)](
            A[t], C[t], C[t - 1] if t > 0 else c0, A if p_in is None else p_in,
            A if p_o is None else p_o, dh_c, d_out[t], A if m8 is None else m8, dc,
            A if d_cs is None else d_cs[t], dA[t], kh, B, H, t, B * H,
            HAS_MASK=mask is not None, MASK_H=mask is not None and not proj,
            HAS_DCS=d_cs is not None, **consts,
        )  # fmt: skip
        if rho is None and maskf is None and t > 0:
            dh = torch.addmm(d_out[t - 1], dA[t], W_hh)  # dh_{t-1}, with its output's gradient
            continue
        dh = dA[t] @ W_hh
        if rho is not None:
            dh.mul_(rho)
        if maskf is not None:
            dh.add_(dh_keep)
        elif t > 0:
            dh.add_(d_out[t - 1])
    return dA, dH, dh, dc
