"""The GRU's time loops on a GPU: cuBLAS for the recurrent GEMMs, Triton for the gate math.

The math, the symbols and the buffers (``A``, ``U``, ``S``; ``dG``, ``dN``) are those of
:mod:`rnnkit.kernels.fused_gru`, both formulations, any named activations. ``h̃ = ρ ⊙ h_{t-1}``
is written by the step before (as ``_gru_fwd``'s last store), so no launch of its own.

``reset_after=True``: one GEMM and one launch per step each way. Forward::

    UH = h̃ W_hh^T                                   torch.mm (cuBLAS), (B, 3H)
    _gru_fwd: r, z, U_n = UH_n + b_hn, n, h_t       one launch; the length mask, and ρ ⊙ h_t

and backward, with the carried gradient kept as ``DH + ρ ⊙ REC`` so the ``ρ ⊙`` is done in
the next launch (without dropout ``REC`` is empty and the GEMM adds straight into ``DH``)::

    _gru_bwd: dh_t (+ dout_t, masked), dn, dz, dr, dU_n; DH = dh ⊙ z (+ the kept (1 - m) dh)
    REC = dU W_hh                                    torch.mm (without dropout: DH += dU W_hh)

``reset_after=False`` (Cho et al. 2014): the candidate's GEMM needs ``q = r ⊙ h̃``, which needs
the r, z GEMM, so each step is two GEMMs with one launch after each. Forward::

    A_rz += h̃ W_h{r,z}^T                             torch.addmm
    _gru_rzq: r, z, q = r ⊙ h̃                        one launch
    A_n += q W_hn^T                                  torch.addmm
    _gru_fwd: n, h_t                                 one launch; the length mask, and ρ ⊙ h_t

and backward::

    _gru_bwd: dh_t (+ dout_t, masked), dn, dz; DH = dh ⊙ z (+ the kept (1 - m) dh)
    dq = dn W_hn                                     torch.mm
    _gru_bwd_r: dr = dq ⊙ h̃ ⊙ σ'(r), dq ⊙ r           one launch (into REC, or added into DH)
    REC (or DH) += (dr, dz) W_h{r,z}                 torch.addmm

:func:`forward_loop` and :func:`backward_loop` have the signatures and results of the PyTorch
loops in :mod:`rnnkit.kernels.fused_gru`, which call them when the engine is ``triton``
(:func:`rnnkit.kernels.engines.loop_engine`).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..cells.gru import GRUMath
from .triton_common import BLOCK, act, act_args, act_grad, grid, load_c, mask_u8

__all__ = ["backward_loop", "forward_loop"]


@triton.jit
def _gru_rzq(
    A, H_IN, U, H, N,
    F64: tl.constexpr, SIG: tl.constexpr, SIG_S: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Reset-before, between the GEMMs: ``A_r, A_z`` become ``r, z``; ``U_t = q = r ⊙ h̃``."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    row = A + (e // H) * (3 * H) + e % H  # r of this element; z at +H, n at +2H
    r = act(load_c(row, ok, F64), SIG, SIG_S)
    z = act(load_c(row + H, ok, F64), SIG, SIG_S)
    tl.store(row, r, mask=ok)
    tl.store(row + H, z, mask=ok)
    tl.store(U + e, r * load_c(H_IN + e, ok, F64), mask=ok)


@triton.jit
def _gru_fwd(
    A, UH, B_HN, U, S_prev, S_t, M, RHO, HD, H, N,
    AFTER: tl.constexpr, HAS_BHN: tl.constexpr, HAS_MASK: tl.constexpr, HAS_RHO: tl.constexpr,
    F64: tl.constexpr, SIG: tl.constexpr, SIG_S: tl.constexpr, ACT: tl.constexpr,
    ACT_S: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """The end of a step forward: ``n`` and ``h_t`` (with ``AFTER``, first ``r``, ``z``, ``U_n``
    from ``UH = h̃ W_hh^T``; reset-before, ``z`` is already there and ``A_n`` has ``q W_hn^T``).

    ``M`` is this step's row of the ``uint8`` length mask; ``HD`` gets ``ρ ⊙ h_t``.
    """
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    b, j = e // H, e % H
    row = A + b * (3 * H) + j
    a_n = load_c(row + 2 * H, ok, F64)
    if AFTER:
        uh = UH + b * (3 * H) + j
        r = act(load_c(row, ok, F64) + load_c(uh, ok, F64), SIG, SIG_S)
        z = act(load_c(row + H, ok, F64) + load_c(uh + H, ok, F64), SIG, SIG_S)
        u_n = load_c(uh + 2 * H, ok, F64)
        if HAS_BHN:
            u_n += load_c(B_HN + j, ok, F64)
        tl.store(row, r, mask=ok)
        tl.store(row + H, z, mask=ok)
        tl.store(U + e, u_n, mask=ok)
        a_n += r * u_n
    else:
        z = load_c(row + H, ok, F64)
    n = act(a_n, ACT, ACT_S)
    tl.store(row + 2 * H, n, mask=ok)
    h = load_c(S_prev + e, ok, F64)
    h_t = n + z * (h - n)
    if HAS_MASK:  # rows past their length keep their state
        h_t = tl.where(tl.load(M + b, mask=ok) != 0, h_t, h)
    tl.store(S_t + e, h_t, mask=ok)
    if HAS_RHO:
        tl.store(HD + e, h_t * load_c(RHO + e, ok, F64), mask=ok)


@triton.jit
def _gru_bwd(
    A, U, S_prev, DH, REC, RHO, DOUT, M, DG, DN, H, N,
    AFTER: tl.constexpr, HAS_RHO: tl.constexpr, HAS_DOUT: tl.constexpr, HAS_MASK: tl.constexpr,
    F64: tl.constexpr, SIG: tl.constexpr, SIG_S: tl.constexpr, ACT: tl.constexpr,
    ACT_S: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One step backward from the carried ``dh = DH + ρ ⊙ REC`` (``DH`` alone without dropout):
    ``dn``, ``dz`` (with ``AFTER`` also ``dr`` and ``dU_n = dn ⊙ r``) into ``DG``, ``DN``; ``DH``
    becomes ``dh ⊙ z`` plus, past a row's length, the kept ``(1 - m) dh``, in place."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    b, j = e // H, e % H
    row = b * (3 * H) + j
    dh = load_c(DH + e, ok, F64)
    if HAS_RHO:
        dh += load_c(RHO + e, ok, F64) * load_c(REC + e, ok, F64)
    d = dh  # the gradient of the new state: m (dh + dout_t)
    if HAS_DOUT:
        d += load_c(DOUT + e, ok, F64)
    if HAS_MASK:
        m = tl.where(tl.load(M + b, mask=ok) != 0, 1.0, 0.0).to(dh.dtype)
        keep = dh - dh * m
        d = d * m
    r = load_c(A + row, ok, F64)
    z = load_c(A + row + H, ok, F64)
    n = load_c(A + row + 2 * H, ok, F64)
    h = load_c(S_prev + e, ok, F64)
    dn = d * (1.0 - z) * act_grad(n, ACT, ACT_S)
    tl.store(DN + e, dn, mask=ok)
    tl.store(DG + row + H, d * (h - n) * act_grad(z, SIG, SIG_S), mask=ok)  # dz
    if AFTER:
        tl.store(DG + row, dn * load_c(U + e, ok, F64) * act_grad(r, SIG, SIG_S), mask=ok)  # dr
        tl.store(DG + row + 2 * H, dn * r, mask=ok)  # dU_n
    else:
        tl.store(DG + row + 2 * H, dn, mask=ok)  # dA_n
    carry = d * z
    if HAS_MASK:
        carry += keep
    tl.store(DH + e, carry, mask=ok)


@triton.jit
def _gru_bwd_r(
    A, S_prev, RHO, DQ, DH, DG, H, N,
    HAS_RHO: tl.constexpr, F64: tl.constexpr, SIG: tl.constexpr, SIG_S: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """Reset-before, after ``dq = dn W_hn``: ``dr = dq ⊙ h̃ ⊙ σ'(r)`` into ``DG``; the ``dq ⊙ r``
    of ``dh̃`` into ``DQ`` in place (with dropout, for the next step's ``ρ ⊙``), else into ``DH``."""
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = e < N
    row = (e // H) * (3 * H) + e % H
    r = load_c(A + row, ok, F64)
    dq = load_c(DQ + e, ok, F64)
    h = load_c(S_prev + e, ok, F64)
    if HAS_RHO:
        h = h * load_c(RHO + e, ok, F64)  # h̃
    tl.store(DG + row, dq * h * act_grad(r, SIG, SIG_S), mask=ok)
    if HAS_RHO:
        tl.store(DQ + e, dq * r, mask=ok)
    else:
        tl.store(DH + e, load_c(DH + e, ok, F64) + dq * r, mask=ok)


def _consts(cell: GRUMath, x: Tensor, *, sig_only: bool = False) -> dict[str, object]:
    sig, sig_s = act_args(cell.recurrent_activation)
    consts: dict[str, object] = dict(
        F64=x.dtype == torch.float64, SIG=sig, SIG_S=sig_s, BLOCK=BLOCK
    )
    if not sig_only:
        a, a_s = act_args(cell.activation)
        consts.update(ACT=a, ACT_S=a_s)
    return consts


def forward_loop(
    cell: GRUMath,
    A: Tensor,
    W_hh: Tensor,
    b_hn: Tensor | None,
    h0: Tensor,
    mask: Tensor | None,
    rho: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """The forward loop of :mod:`.fused_gru`: ``A`` becomes the gate values in place; returns
    ``U (T, B, H)`` (``U_n`` with reset-after, ``q`` with reset-before) and ``S (T, B, H)``."""
    T, B, _ = A.shape
    H, after = cell.hidden_size, cell.reset_after
    N = B * H
    U, S = A.new_empty(T, B, H), A.new_empty(T, B, H)
    uh = A.new_empty(B, 3 * H) if after else A  # A stands in for every absent tensor
    hd = A.new_empty(B, H) if rho is not None else A  # ρ ⊙ h_t, written by the step's last launch
    m8 = mask_u8(mask)
    consts = _consts(cell, A)
    sig_consts = _consts(cell, A, sig_only=True)
    W_t, W_rz_t, W_n_t = W_hh.t(), W_hh[: 2 * H].t(), W_hh[2 * H :].t()
    h = h0
    h_in = h0 if rho is None else h0 * rho  # h̃, what the recurrent GEMM sees
    for t in range(T):
        A_t, U_t, S_t = A[t], U[t], S[t]  # (B, 3H), (B, H), (B, H)
        if after:
            torch.mm(h_in, W_t, out=uh)
        else:
            A_t[:, : 2 * H].addmm_(h_in, W_rz_t)
            _gru_rzq[grid(N)](A_t, h_in, U_t, H, N, **sig_consts)
            A_t[:, 2 * H :].addmm_(U_t, W_n_t)
        _gru_fwd[grid(N)](
            A_t, uh, A if b_hn is None else b_hn, U_t, h, S_t, A if m8 is None else m8[t],
            A if rho is None else rho, hd, H, N,
            AFTER=after, HAS_BHN=b_hn is not None, HAS_MASK=mask is not None,
            HAS_RHO=rho is not None, **consts,
        )  # fmt: skip
        h = S_t
        h_in = S_t if rho is None else hd
    return U, S


def backward_loop(
    cell: GRUMath,
    A: Tensor,
    U: Tensor,
    S: Tensor,
    h0: Tensor,
    W_hh: Tensor,
    mask: Tensor | None,
    rho: Tensor | None,
    d_out: Tensor | None,
    dh: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """The backward loop of :mod:`.fused_gru`: returns ``dG (T, B, 3H)``, ``dN (T, B, H)`` and the
    gradient of ``h_0``. ``dh`` (contiguous) is updated in place."""
    T, B, _ = A.shape
    H, after = cell.hidden_size, cell.reset_after
    N = B * H
    dG, dN = A.new_empty(T, B, 3 * H), A.new_empty(T, B, H)
    if d_out is not None:
        d_out = d_out.contiguous()
    rec = A.new_zeros(B, H) if rho is not None else A  # the carried gradient is dh + ρ ⊙ rec
    dq = rec if rho is not None else A.new_empty(B, H)  # reset-before's dn W_hn
    into = rec if rho is not None else dh  # where the recurrent GEMM adds dh̃
    m8 = mask_u8(mask)
    consts = _consts(cell, A)
    sig_consts = _consts(cell, A, sig_only=True)
    W_rz, W_n = W_hh[: 2 * H], W_hh[2 * H :]
    for t in range(T - 1, -1, -1):
        A_t, dG_t, dN_t = A[t], dG[t], dN[t]
        h_prev = S[t - 1] if t > 0 else h0
        _gru_bwd[grid(N)](
            A_t, U[t], h_prev, dh, rec, A if rho is None else rho,
            A if d_out is None else d_out[t], A if m8 is None else m8[t], dG_t, dN_t, H, N,
            AFTER=after, HAS_RHO=rho is not None, HAS_DOUT=d_out is not None,
            HAS_MASK=mask is not None, **consts,
        )  # fmt: skip
        if after:
            if rho is None:
                dh.addmm_(dG_t, W_hh)  # dh ⊙ z + dU W_hh
            else:
                torch.mm(dG_t, W_hh, out=rec)
        else:
            torch.mm(dN_t, W_n, out=dq)
            _gru_bwd_r[grid(N)](
                A_t, h_prev, A if rho is None else rho, dq, dh, dG_t, H, N,
                HAS_RHO=rho is not None, **sig_consts,
            )  # fmt: skip
            into.addmm_(dG_t[:, : 2 * H], W_rz)  # + (dr, dz) W_h{r,z}
    if rho is not None:
        dh.addcmul_(rho, rec)  # dh_0 = dh ⊙ z + ρ ⊙ dh̃
    return dG, dN, dh
