"""The fused LSTM kernel: every variant of :mod:`rnnkit.cells.lstm` (peephole, coupled, projection,
any activations with a known derivative) with a hand-written backward through time.

Gate blocks in PyTorch's order ``i, f, g, o`` (coupled: ``f, g, o``), so the weights go in as
they are. ``σ`` the recurrent activation, ``act`` the activation, ``ρ`` the recurrent-dropout
mask, ``p_*`` the peepholes, ``W_hr`` the projection. Forward, per step::

    A_t  = X_t W_ih^T + b + (ρ ⊙ h_{t-1}) W_hh^T       the pre-activations (B, G*H) of i, f, g, o
    i, f = σ(A_i + p_i ⊙ c_{t-1}), σ(A_f + p_f ⊙ c_{t-1})    coupled: i = 1 - f
    g    = act(A_g)
    c_t  = f ⊙ c_{t-1} + i ⊙ g
    o    = σ(A_o + p_o ⊙ c_t)
    k_t  = act(c_t);  h_t = o ⊙ k_t  (then h_t W_hr^T with a projection)

``X W_ih^T + b`` is one GEMM for all steps before the loop, into the buffer ``A (T, B, G*H)``;
the loop adds the recurrent GEMM and then writes the gate values ``i, f, g, o`` over ``A_t`` in
place. Saved for backward: ``X``, those gate values, ``c_t`` and ``h_t`` (``k_t`` is recomputed).
Backward, per step, from ``dh`` (gradient of ``h_t``, its output's included) and ``dc``::

    dh_c     = dh W_hr                                   (dh without a projection)
    dA_o     = dh_c ⊙ k_t ⊙ σ'(o)
    dc_hat   = dc + dh_c ⊙ o ⊙ act'(k_t) + p_o ⊙ dA_o      the gradient of c_t through both paths
    dA_i     = dc_hat ⊙ g ⊙ σ'(i)    dA_f = dc_hat ⊙ c_{t-1} ⊙ σ'(f)    dA_g = dc_hat ⊙ i ⊙ act'(g)
               coupled: dA_f = dc_hat ⊙ (c_{t-1} - g) ⊙ σ'(f),  dA_g = dc_hat ⊙ (1 - f) ⊙ act'(g)
    dc_{t-1} = dc_hat ⊙ f + p_i ⊙ dA_i + p_f ⊙ dA_f
    dh_{t-1} = ρ ⊙ (dA_t W_hh) + dout_{t-1}

    after the loop, over all steps at once (fused_common.input_grads, weight_grad):
    dW_ih = dA^T X     dW_hh = dA^T (ρ ⊙ H_prev)     db = Σ dA     dX = dA W_ih
    dW_hr = dH^T (o ⊙ k)     dp_{i,f} = Σ dA_{i,f} ⊙ c_{t-1}     dp_o = Σ dA_o ⊙ c_t

(``σ'``, ``act'`` are written in terms of outputs: :attr:`Activation.grad_from_output`.) The C++
loops (``csrc/lstm.cpp``) use the same names.

>>> import torch
>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import LSTMMath
>>> from rnnkit.kernels.reference import run_reference
>>> cell = LSTMMath(3, 4, get_activation("tanh"), get_activation("sigmoid"), peephole=True)
>>> w = {n: torch.randn(s.shape) for n, s in cell.weight_specs(True).items()}
>>> x, state = torch.randn(5, 2, 3), (torch.zeros(2, 4), torch.zeros(2, 4))
>>> fused, ref = run_fused_lstm(cell, x, state, w), run_reference(cell, x, state, w)
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
from ..cells.lstm import LSTMMath
from .engines import loop_engine
from .fused_c import ccall, loaded_lib
from .fused_common import (
    act_,
    act_out,
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

__all__ = ["lstm_unfusable", "run_fused_lstm"]


def lstm_unfusable(cell: LSTMMath) -> str | None:
    """Why this LSTM cannot run fused (the option to name), or ``None``."""
    return unfusable_activation(
        activation=cell.activation, recurrent_activation=cell.recurrent_activation
    )


def _forward_loop(
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
    """The recurrence in PyTorch ops: ``A`` (pre-activations) becomes the gate values in place.

    Returns ``C`` (c_t) and ``S`` (h_t), each ``(T, B, ·)``.
    """
    T, B, _ = A.shape
    H, G, R = cell.hidden_size, cell.gates, cell.output_size
    sigma, act = cell.recurrent_activation, cell.activation
    n_in = (G - 2) * H  # the σ gates before g: i, f (coupled: f alone)
    C, S = A.new_empty(T, B, H), A.new_empty(T, B, R)
    k = A.new_empty(B, H)  # k_t = act(c_t)
    hc = A.new_empty(B, H) if W_hr is not None else None  # o ⊙ k_t before the projection
    W_hh_t = W_hh.t()
    As, Cs, Ss = A.unbind(0), C.unbind(0), S.unbind(0)
    ms = mask.unbind(0) if mask is not None else None
    h, c = h0, c0
    for t in range(T):
        A_t = As[t]  # (B, G*H)
        A_t.addmm_(h if rho is None else h * rho, W_hh_t)
        i_f, g, o = A_t[:, :n_in], A_t[:, n_in : n_in + H], A_t[:, n_in + H :]
        f = A_t[:, n_in - H : n_in]
        if p_in is not None:  # peepholes on c_{t-1} into i, f
            i_f.view(B, G - 2, H).addcmul_(p_in, c.unsqueeze(1))
        act_(sigma, i_f)
        act_(act, g)
        c_t = Cs[t]
        if cell.coupled:  # c_t = f c + (1 - f) g = g + f (c - g)
            torch.sub(c, g, out=c_t)
            torch.addcmul(g, f, c_t, out=c_t)
        else:
            i = A_t[:, :H]
            torch.mul(f, c, out=c_t)
            c_t.addcmul_(i, g)
        if p_o is not None:  # peephole on c_t into o
            o.addcmul_(p_o, c_t)
        act_(sigma, o)
        k_t = act_out(act, c_t, k)
        if hc is None:
            torch.mul(o, k_t, out=Ss[t])
        else:
            assert W_hr is not None
            torch.mm(torch.mul(o, k_t, out=hc), W_hr.t(), out=Ss[t])
        if ms is not None:  # rows past their length keep their state
            torch.where(ms[t], Ss[t], h, out=Ss[t])
            torch.where(ms[t], c_t, c, out=c_t)
        h, c = Ss[t], c_t
    return C, S


def _backward_loop(
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
    """Backward through time in PyTorch ops, from the gate values ``A``. Returns ``dA (T, B, G*H)``,
    ``dH`` (the gradient of each projected ``h_t``, with a projection), and the gradients of the
    initial ``h``, ``c``."""
    T, B, _ = A.shape
    H, G, R = cell.hidden_size, cell.gates, cell.output_size
    sigma, act = cell.recurrent_activation, cell.activation
    n_in = (G - 2) * H
    maskf = float_mask(mask, A)
    d_out = d_out if d_out is not None else A.new_zeros(T, B, R)
    if maskf is not None:
        d_out = d_out * maskf
        if d_cs is not None:
            d_cs = d_cs * maskf
    dA = A.new_empty(T, B, G * H)  # the gradients of the pre-activations A_t
    dH = A.new_empty(T, B, R) if W_hr is not None else None
    As, Cs, dAs = A.unbind(0), C.unbind(0), dA.unbind(0)
    if maskf is None:
        dh = dh + d_out[T - 1]
    for t in range(T - 1, -1, -1):
        A_t, dA_t = As[t], dAs[t]
        c_prev = Cs[t - 1] if t > 0 else c0
        if maskf is not None:  # the new state gets m (dout + ds), the kept one (1 - m) ds
            m = maskf[t]
            dh_m, dc_m = dh * m, dc * m
            dh_keep, dc_keep = dh - dh_m, dc - dc_m
            dh, dc = dh_m.add_(d_out[t]), dc_m
        if d_cs is not None:
            dc = dc + d_cs[t]
        dh_c = dh
        if dH is not None:
            assert W_hr is not None
            dH[t] = dh
            dh_c = dh @ W_hr
        k_t = act.fn(Cs[t])
        i_f, g, o = A_t[:, :n_in], A_t[:, n_in : n_in + H], A_t[:, n_in + H :]
        f = A_t[:, n_in - H : n_in]
        dA_f, dA_g = dA_t[:, n_in - H : n_in], dA_t[:, n_in : n_in + H]
        D = dact(sigma, i_f)  # σ'(i), σ'(f) (coupled: σ'(f))
        dA_o = torch.mul(dh_c, k_t, out=dA_t[:, n_in + H :]).mul_(dact(sigma, o))
        dc_hat = torch.addcmul(dc, dh_c, o * dact(act, k_t))
        if p_o is not None:
            dc_hat.addcmul_(dA_o, p_o)
        if cell.coupled:  # c_t = f c_{t-1} + (1 - f) g
            torch.sub(c_prev, g, out=dA_f).mul_(dc_hat).mul_(D)
            torch.mul(dc_hat, dact(act, g), out=dA_g).addcmul_(dA_g, f, value=-1)
        else:
            i, dA_i = A_t[:, :H], dA_t[:, :H]
            torch.mul(dc_hat, g, out=dA_i).mul_(D[:, :H])
            torch.mul(dc_hat, c_prev, out=dA_f).mul_(D[:, H:])
            torch.mul(dc_hat, i, out=dA_g).mul_(dact(act, g))
        dc = dc_hat.mul_(f)  # dc_{t-1}
        if p_in is not None:
            dc.add_((dA_t[:, :n_in].view(B, G - 2, H) * p_in).sum(1))
        if rho is None and maskf is None and t > 0:
            dh = torch.addmm(d_out[t - 1], dA_t, W_hh)  # dh_{t-1}, with its output's gradient
            continue
        dh = dA_t @ W_hh
        if rho is not None:
            dh.mul_(rho)
        if maskf is not None:
            dh.add_(dh_keep)
            dc.add_(dc_keep)
        elif t > 0:
            dh.add_(d_out[t - 1])
    return dA, dH, dh, dc


class _FusedLSTM(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        cell: LSTMMath,
        keep_steps: bool,
        x: Tensor,
        h0: Tensor,
        c0: Tensor,
        W_ih: Tensor,
        W_hh: Tensor,
        b: Tensor | None,
        W_hr: Tensor | None,
        p_in: Tensor | None,
        p_o: Tensor | None,
        mask: Tensor | None,
        rho: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        ctx.set_materialize_grads(False)
        T, B, I = x.shape
        H, G, R = cell.hidden_size, cell.gates, cell.output_size
        x2 = x.reshape(T * B, I)
        A = torch.mm(x2, W_ih.t()) if b is None else torch.addmm(b, x2, W_ih.t())
        A = A.view(T, B, G * H)  # X W_ih^T + b; the loop makes them A_t, then the gate values
        h0, c0, W_hh = h0.contiguous(), c0.contiguous(), W_hh.contiguous()  # for the C loops
        W_hr, p_in, p_o = (None if t is None else t.contiguous() for t in (W_hr, p_in, p_o))
        ctx.engine = engine = loop_engine(x, cell)
        if engine == "torch":
            C, S = _forward_loop(cell, A, W_hh, W_hr, p_in, p_o, h0, c0, mask, rho)
        elif engine == "triton":
            from .triton_lstm import forward_loop

            C, S = forward_loop(cell, A, W_hh, W_hr, p_in, p_o, h0, c0, mask, rho)
        else:
            C, S = x.new_empty(T, B, H), x.new_empty(T, B, R)
            ccall(
                loaded_lib(), "lstm_fwd", x.dtype, T, B, H, cell.proj_size, G,
                cell.recurrent_activation, cell.activation, A, W_hh, W_hr, p_in, p_o, h0, c0,
                None if mask is None else mask.reshape(T, B), rho, C, S,
                x.new_empty(B * (R + 2 * H)),
            )  # fmt: skip
        maskf = float_mask(mask, x)
        out = S if maskf is None else S * maskf
        c_steps = None
        if keep_steps:
            c_steps = C if maskf is None else C * maskf
        ctx.cell = cell
        ctx.save_for_backward(
            x,
            h0,
            c0,
            W_ih if ctx.needs_input_grad[2] else None,
            W_hh,
            W_hr,
            p_in,
            p_o,
            mask,
            rho,
            A,
            C,
            S,
        )
        return out, S[T - 1].clone(), C[T - 1].clone(), c_steps

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any,
        d_out: Tensor | None,
        d_hT: Tensor | None,
        d_cT: Tensor | None,
        d_cs: Tensor | None,
    ) -> tuple[Tensor | None, ...]:
        x, h0, c0, W_ih, W_hh, W_hr, p_in, p_o, mask, rho, A, C, S = ctx.saved_tensors
        cell: LSTMMath = ctx.cell
        T, B, _ = x.shape
        H, G, R = cell.hidden_size, cell.gates, cell.output_size
        dh, dc = x.new_zeros(B, R), x.new_zeros(B, H)  # carried gradients, updated in place
        if d_hT is not None:
            dh.copy_(d_hT)
        if d_cT is not None:
            dc.copy_(d_cT)
        if ctx.engine == "torch":
            dA, dH, dh, dc = _backward_loop(
                cell, A, C, c0, W_hh, W_hr, p_in, p_o, mask, rho, d_out, d_cs, dh, dc
            )
        elif ctx.engine == "triton":
            from .triton_lstm import backward_loop

            dA, dH, dh, dc = backward_loop(
                cell, A, C, c0, W_hh, W_hr, p_in, p_o, mask, rho, d_out, d_cs, dh, dc
            )
        else:
            dA = x.new_empty(T, B, G * H)
            dH = x.new_empty(T, B, R) if W_hr is not None else None
            ccall(
                loaded_lib(), "lstm_bwd", x.dtype, T, B, H, cell.proj_size, G,
                cell.recurrent_activation, cell.activation, A, C, c0, W_hh, W_hr, p_in, p_o,
                None if mask is None else mask.reshape(T, B), rho,
                None if d_out is None else d_out.contiguous(),
                None if d_cs is None else d_cs.contiguous(), dh, dc, dA, dH,
                x.new_empty(B * (2 * R + H) + (G + 2) * H),
            )  # fmt: skip

        need = ctx.needs_input_grad
        dx, dW_ih, db = input_grads(dA, x, W_ih, (need[2], need[5], need[7]))
        dW_hh = weight_grad(dA, prev_steps(h0, S, rho)) if need[6] else None
        dW_hr = None
        if dH is not None and need[8]:
            dW_hr = weight_grad(dH, A[..., (G - 1) * H :] * cell.activation.fn(C))  # dH^T (o ⊙ k)
        dp_in = dp_o = None
        dA_gates = dA.view(T, B, G, H)
        if p_in is not None and need[9]:
            dp_in = (dA_gates[:, :, : G - 2] * prev_steps(c0, C).unsqueeze(2)).sum((0, 1))
        if p_o is not None and need[10]:
            dp_o = (dA_gates[:, :, G - 1] * C).sum((0, 1))
        return (None, None, dx, dh, dc, dW_ih, dW_hh, db, dW_hr, dp_in, dp_o, None, None)


def run_fused_lstm(
    cell: LSTMMath,
    x: Tensor,
    state: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
    keep_steps: bool = False,
) -> SequenceResult:
    """Run one LSTM layer over ``x (T, B, I)``: the same contract as ``run_reference``."""
    if x.shape[0] == 0:
        return empty_result(cell, x, state, keep_steps)
    h0, c0 = state
    W_ih, W_hh = w["weight_ih"], w["weight_hh"]
    b = w["bias_ih"] + w["bias_hh"] if "bias_ih" in w else None
    p_in = p_o = None
    if cell.peephole:
        p_in = (
            w["weight_cf"][None] if cell.coupled else torch.stack([w["weight_ci"], w["weight_cf"]])
        )
        p_o = w["weight_co"]
    dtype = autocast_dtype(x)
    args = cast_all(dtype, x, h0, c0, W_ih, W_hh, b, w.get("weight_hr"), p_in, p_o)
    rho = drop_mask(drop, 0, dtype)
    with no_autocast(x):
        out, hT, cT, c_steps = _FusedLSTM.apply(cell, keep_steps, *args, mask, rho)
    return SequenceResult(out, (hT, cT), (out, c_steps) if keep_steps else None)
