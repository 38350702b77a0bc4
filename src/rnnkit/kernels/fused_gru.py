"""The fused GRU kernel, both formulations of :mod:`rnnkit.cells.gru`, with a hand-written backward.

Gate order ``r, z, n`` as PyTorch's. ``σ`` the recurrent activation, ``act`` the activation, ``ρ``
the recurrent-dropout mask, ``h̃ = ρ ⊙ h_{t-1}``; ``X W_ih^T + b_ih`` for all steps before the loop,
into the buffer ``A (T, B, 3H)``, which the loop turns into the gate values ``r, z, n`` in place.
``dG`` is the gradient the recurrent GEMM sees: ``dU`` with reset-after, ``dA = (dr, dz, dn)`` with
reset-before. The C++ loops (``csrc/gru.cpp``) use the same names.

``reset_after=True`` — one GEMM per step in each direction::

    U_t   = h̃ W_hh^T + b_hh                                   (B, 3H); U_n is saved
    r, z  = σ(X_r + U_r), σ(X_z + U_z)
    n     = act(X_n + r ⊙ U_n)
    h_t   = n + z ⊙ (h_{t-1} - n)

    dn  = dh ⊙ (1 - z) ⊙ act'(n)        dz = dh ⊙ (h_{t-1} - n) ⊙ σ'(z)
    dr  = dn ⊙ U_n ⊙ σ'(r)              dU = (dr, dz, dn ⊙ r)
    dh_{t-1} = dh ⊙ z + ρ ⊙ (dU W_hh)
    after the loop: dW_ih = (dr, dz, dn)^T X, dW_hh = dU^T H̃_prev, db_ih = Σ (dr, dz, dn), db_hh = Σ dU
                    (fused_common.input_grads per block, weight_grad)

``reset_after=False`` (Cho et al. 2014) — the candidate's GEMM waits for the reset gate::

    r, z  = σ(X_r + h̃ W_hr^T, X_z + h̃ W_hz^T)                 (biases b_ih + b_hh folded into X)
    q     = r ⊙ h̃                                              saved
    n     = act(X_n + q W_hn^T)
    h_t   = n + z ⊙ (h_{t-1} - n)

    dn  = dh ⊙ (1 - z) ⊙ act'(n)        dq = dn W_hn          dz = dh ⊙ (h_{t-1} - n) ⊙ σ'(z)
    dr  = dq ⊙ h̃ ⊙ σ'(r)
    dh_{t-1} = dh ⊙ z + ρ ⊙ (dq ⊙ r + (dr, dz) W_h{r,z})
    after the loop: dW_ih = dA^T X, dW_h{r,z} = (dr, dz)^T H̃_prev, dW_hn = dn^T Q, db = Σ dA

>>> import torch
>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import GRUMath
>>> from rnnkit.kernels.reference import run_reference
>>> cell = GRUMath(3, 4, get_activation("tanh"), get_activation("sigmoid"), reset_after=False)
>>> w = {n: torch.randn(s.shape) for n, s in cell.weight_specs(True).items()}
>>> x, state = torch.randn(5, 2, 3), (torch.zeros(2, 4),)
>>> fused, ref = run_fused_gru(cell, x, state, w), run_reference(cell, x, state, w)
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
from ..cells.gru import GRUMath
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

__all__ = ["gru_unfusable", "run_fused_gru"]


def gru_unfusable(cell: GRUMath) -> str | None:
    """Why this GRU cannot run fused (the option to name), or ``None``."""
    return unfusable_activation(
        activation=cell.activation, recurrent_activation=cell.recurrent_activation
    )


def _forward_loop(
    cell: GRUMath,
    A: Tensor,
    W_hh: Tensor,
    b_hn: Tensor | None,
    h0: Tensor,
    mask: Tensor | None,
    rho: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """The recurrence in PyTorch ops; ``A`` (input projections) becomes the gate values in place.

    Returns ``U (T, B, H)`` (``U_n`` with reset-after, ``q`` with reset-before) and ``S`` (h_t).
    """
    T, B, _ = A.shape
    H = cell.hidden_size
    sigma, act = cell.recurrent_activation, cell.activation
    U, S = A.new_empty(T, B, H), A.new_empty(T, B, H)
    uh = A.new_empty(B, 3 * H)
    W_t, W_rz_t, W_n_t = W_hh.t(), W_hh[: 2 * H].t(), W_hh[2 * H :].t()
    As, Us, Ss = A.unbind(0), U.unbind(0), S.unbind(0)
    ms = mask.unbind(0) if mask is not None else None
    h = h0
    for t in range(T):
        A_t, u, h_t = As[t], Us[t], Ss[t]
        h_drop = h if rho is None else h * rho  # h̃
        rz, r, z, n = A_t[:, : 2 * H], A_t[:, :H], A_t[:, H : 2 * H], A_t[:, 2 * H :]
        if cell.reset_after:
            torch.mm(h_drop, W_t, out=uh)
            act_(sigma, rz.add_(uh[:, : 2 * H]))  # r, z
            if b_hn is None:
                u.copy_(uh[:, 2 * H :])
            else:
                torch.add(uh[:, 2 * H :], b_hn, out=u)  # U_n
            act_(act, n.addcmul_(r, u))  # n = act(X_n + r ⊙ U_n)
        else:
            act_(sigma, rz.addmm_(h_drop, W_rz_t))  # r, z
            torch.mul(r, h_drop, out=u)  # q = r ⊙ h̃
            act_(act, n.addmm_(u, W_n_t))  # n = act(X_n + q W_hn^T)
        torch.sub(h, n, out=h_t).mul_(z).add_(n)  # h_t = n + z (h_{t-1} - n)
        if ms is not None:  # rows past their length keep their state
            torch.where(ms[t], h_t, h, out=h_t)
        h = h_t
    return U, S


def _backward_loop(
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
    """Backward through time in PyTorch ops.

    Returns ``dG (T, B, 3H)`` (``dU`` with reset-after, ``dA`` with reset-before), ``dN (T, B, H)``
    (the candidate's ``dn``; with reset-before it equals ``dA_n``) and the gradient of ``h_0``.
    """
    T, B, _ = A.shape
    H = cell.hidden_size
    sigma, act = cell.recurrent_activation, cell.activation
    maskf = float_mask(mask, A)
    d_out = d_out if d_out is not None else A.new_zeros(T, B, H)
    if maskf is not None:
        d_out = d_out * maskf
    dG, dN = A.new_empty(T, B, 3 * H), A.new_empty(T, B, H)
    As, Us, Ss, dGs, dNs = A.unbind(0), U.unbind(0), S.unbind(0), dG.unbind(0), dN.unbind(0)
    W_rz, W_n = W_hh[: 2 * H], W_hh[2 * H :]
    if maskf is None:
        dh = dh + d_out[T - 1]
    for t in range(T - 1, -1, -1):
        A_t, dG_t, dn = As[t], dGs[t], dNs[t]
        h_prev = Ss[t - 1] if t > 0 else h0
        if maskf is not None:  # the new state gets m (dout + dh), the kept one (1 - m) dh
            dh_m = dh * maskf[t]
            dh_keep, dh = dh - dh_m, dh_m.add_(d_out[t])
        r, z, n = A_t[:, :H], A_t[:, H : 2 * H], A_t[:, 2 * H :]
        dr, dz = dG_t[:, :H], dG_t[:, H : 2 * H]
        D = dact(sigma, A_t[:, : 2 * H])  # σ'(r), σ'(z)
        torch.mul(dh, dact(act, n), out=dn).addcmul_(dn, z, value=-1)  # dn = dh (1 - z) act'(n)
        torch.sub(h_prev, n, out=dz).mul_(dh).mul_(D[:, H:])
        zdh = torch.mul(dh, z) if maskf is None else torch.addcmul(dh_keep, dh, z)
        if cell.reset_after:
            torch.mul(dn, Us[t], out=dr).mul_(D[:, :H])
            torch.mul(dn, r, out=dG_t[:, 2 * H :])  # dU_n = dn ⊙ r
            rec = dG_t @ W_hh
        else:
            dG_t[:, 2 * H :] = dn
            dq = dn @ W_n
            h_drop = h_prev if rho is None else h_prev * rho  # h̃
            torch.mul(dq, h_drop, out=dr).mul_(D[:, :H])
            rec = torch.addmm(dq.mul_(r), dG_t[:, : 2 * H], W_rz)  # dh̃
        dh = zdh.addcmul_(rec, rho) if rho is not None else zdh.add_(rec)
        if maskf is None and t > 0:
            dh.add_(d_out[t - 1])
    return dG, dN, dh


class _FusedGRU(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        cell: GRUMath,
        x: Tensor,
        h0: Tensor,
        W_ih: Tensor,
        W_hh: Tensor,
        b_ih: Tensor | None,
        b_hh: Tensor | None,
        mask: Tensor | None,
        rho: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        T, B, I = x.shape
        H = cell.hidden_size
        b_x = b_hn = None  # the bias added to the input projection, and reset-after's b_hn
        if b_ih is not None and b_hh is not None:
            b_x = b_ih + b_hh
            if cell.reset_after:
                b_x[2 * H :] = b_ih[2 * H :]
                b_hn = b_hh[2 * H :].contiguous()
        x2 = x.reshape(T * B, I)
        A = torch.mm(x2, W_ih.t()) if b_x is None else torch.addmm(b_x, x2, W_ih.t())
        A = A.view(T, B, 3 * H)
        h0, W_hh = h0.contiguous(), W_hh.contiguous()  # the C loops read raw memory
        ctx.engine = engine = loop_engine(x, cell)
        if engine == "torch":
            U, S = _forward_loop(cell, A, W_hh, b_hn, h0, mask, rho)
        elif engine == "triton":
            from .triton_gru import forward_loop

            U, S = forward_loop(cell, A, W_hh, b_hn, h0, mask, rho)
        else:
            U, S = x.new_empty(T, B, H), x.new_empty(T, B, H)
            ccall(
                loaded_lib(), "gru_fwd", x.dtype, T, B, H, cell.reset_after,
                cell.recurrent_activation, cell.activation, A, W_hh, b_hn, h0,
                None if mask is None else mask.reshape(T, B), rho, U, S, x.new_empty(4 * B * H),
            )  # fmt: skip
        maskf = float_mask(mask, x)
        ctx.cell = cell
        ctx.save_for_backward(
            x, h0, W_ih if ctx.needs_input_grad[1] else None, W_hh, mask, rho, A, U, S
        )
        return (S if maskf is None else S * maskf), S[T - 1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor | None, d_hT: Tensor | None) -> tuple[Tensor | None, ...]:
        x, h0, W_ih, W_hh, mask, rho, A, U, S = ctx.saved_tensors
        cell: GRUMath = ctx.cell
        T, B, _ = x.shape
        H = cell.hidden_size
        dh = x.new_zeros(B, H)  # carried gradient, updated in place
        if d_hT is not None:
            dh.copy_(d_hT)
        if ctx.engine == "torch":
            dG, dN, dh = _backward_loop(cell, A, U, S, h0, W_hh, mask, rho, d_out, dh)
        elif ctx.engine == "triton":
            from .triton_gru import backward_loop

            dG, dN, dh = backward_loop(cell, A, U, S, h0, W_hh, mask, rho, d_out, dh)
        else:
            dG, dN = x.new_empty(T, B, 3 * H), x.new_empty(T, B, H)
            ccall(
                loaded_lib(), "gru_bwd", x.dtype, T, B, H, cell.reset_after,
                cell.recurrent_activation, cell.activation, A, U, S, h0, W_hh,
                None if mask is None else mask.reshape(T, B), rho,
                None if d_out is None else d_out.contiguous(), dh, dG, dN,
                x.new_empty(5 * B * H + 3 * H),
            )  # fmt: skip

        need = ctx.needs_input_grad
        need_in = (need[1], need[3], need[5])  # dX, dW_ih, db_ih
        dA_rz = dG[..., : 2 * H]  # dr, dz: the same on the input and the recurrent side
        dW_hh = db_hh = None
        if cell.reset_after:  # the input side sees (dr, dz, dn), the recurrent side dU
            W_ih_rz, W_ih_n = (None, None) if W_ih is None else (W_ih[: 2 * H], W_ih[2 * H :])
            dx_rz, dW_ih_rz, db_ih_rz = input_grads(dA_rz, x, W_ih_rz, need_in)
            dx_n, dW_ih_n, db_ih_n = input_grads(dN, x, W_ih_n, need_in)
            dx = None if dx_rz is None or dx_n is None else dx_rz.add_(dx_n)
            dW_ih, db_ih = _cat(dW_ih_rz, dW_ih_n), _cat(db_ih_rz, db_ih_n)
            if need[4]:
                dW_hh = weight_grad(dG, prev_steps(h0, S, rho))  # dU^T H̃_prev
            if need[6]:
                db_hh = dG.sum((0, 1))
        else:  # dG = dA = (dr, dz, dn) on both sides; W_hn multiplies q = r ⊙ h̃
            dx, dW_ih, db_ih = input_grads(dG, x, W_ih, need_in)
            if need[4]:
                H_prev = prev_steps(h0, S, rho)  # h̃ entering each step
                dW_hh = torch.cat([weight_grad(dA_rz, H_prev), weight_grad(dN, U)])
            if need[6]:
                db_hh = db_ih if db_ih is not None else dG.sum((0, 1))
        return (None, dx, dh, dW_ih, dW_hh, db_ih, db_hh, None, None)


def _cat(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return None if a is None or b is None else torch.cat([a, b])


def run_fused_gru(
    cell: GRUMath,
    x: Tensor,
    state: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
    keep_steps: bool = False,
) -> SequenceResult:
    """Run one GRU layer over ``x (T, B, I)``: the same contract as ``run_reference``."""
    if x.shape[0] == 0:
        return empty_result(cell, x, state, keep_steps)
    dtype = autocast_dtype(x)
    args = cast_all(
        dtype, x, state[0], w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh")
    )
    rho = drop_mask(drop, 0, dtype)
    with no_autocast(x):
        out, hT = _FusedGRU.apply(cell, *args, mask, rho)
    return SequenceResult(out, (hT,), (out,) if keep_steps else None)
