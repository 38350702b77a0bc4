"""What the fused kernels share: in-place activations, autocast, masks and the empty sequence.

Every fused kernel has the signature of :func:`rnnkit.kernels.reference.run_reference` and wraps one
``torch.autograd.Function`` whose forward runs the whole sequence of one layer in one direction:

1. the input projection for all ``T`` steps as one GEMM, ``(T*B, I) @ (I, G*H)``;
2. per step, one GEMM ``h_{t-1} @ W_hh^T`` added in place into that step's slice of the projection,
   then the gate math — in compiled C++ (:mod:`rnnkit.kernels.fused_c`) where it builds, else as
   in-place PyTorch ops on preallocated buffers (the two loops write the same buffers);
3. backward through time by hand: per step only the pointwise gate derivatives ``dA_t`` (the
   gradient of the pre-activations ``A_t``) and ``dh_{t-1} = dA_t @ W_hh``; the weight, bias and
   input gradients are single GEMMs (or sums) over all steps after the loop, here:
   :func:`input_grads` (``dX = dA W_ih``, ``dW_ih = dA^T X``, ``db = Σ dA``) and
   :func:`weight_grad` (``dW_hh = dA^T (ρ ⊙ H_prev)`` with :func:`prev_steps`).

Shapes: ``T`` steps, ``B`` batch, ``I`` input, ``H`` hidden, ``R`` recurrent state size (``H`` or
the LSTM projection ``P``), ``G`` gates.

Lengths follow :func:`~rnnkit.kernels.reference.run_reference`: with ``m_t = [t < length]`` the state
is ``s_t = m_t ŝ_t + (1 - m_t) s_{t-1}`` and the output ``m_t ŝ_t``, so in backward the new value
gets ``m_t (dout_t + ds_t)`` and the kept one ``(1 - m_t) ds_t``.

Activation derivatives come from :attr:`rnnkit.activations.Activation.grad_from_output`; a user
callable without one cannot be fused (:func:`unfusable_activation` says which option).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor

from ..activations import Activation
from ..cells.base import CellMath, State
from .reference import SequenceResult

__all__ = [
    "act_",
    "act_out",
    "autocast_dtype",
    "cast_all",
    "dact",
    "drop_mask",
    "empty_result",
    "float_mask",
    "input_grads",
    "no_autocast",
    "prev_steps",
    "unfusable_activation",
    "weight_grad",
]

# In-place forms of the activations whose function we recognise by identity (not by name, so a
# user's Activation("tanh", something_else) is never mistaken for torch.tanh).
_INPLACE: dict[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]] = {
    torch.tanh: torch.tanh_,
    torch.sigmoid: torch.sigmoid_,
    torch.relu: torch.relu_,
}


def act_(act: Activation, t: Tensor) -> Tensor:
    """Apply ``act`` to ``t`` in place (a view into a gate buffer) and return it."""
    inplace = _INPLACE.get(act.fn)
    if inplace is not None:
        return inplace(t)
    if act.name == "identity":
        return t
    return t.copy_(act.fn(t))


def act_out(act: Activation, src: Tensor, out: Tensor) -> Tensor:
    """``act(src)``, written into ``out`` when the function allows it."""
    if act.fn is torch.tanh or act.fn is torch.sigmoid:
        return act.fn(src, out=out)
    return act.fn(src)


def dact(act: Activation, y: Tensor) -> Tensor:
    """``dy/dx`` from the output ``y``: one op for sigmoid (``y - y²``) and tanh (``1 - y²``)."""
    if act.fn is torch.sigmoid:
        return torch.addcmul(y, y, y, value=-1)
    if act.fn is torch.tanh:
        return torch.addcmul(y.new_ones(()), y, y, value=-1)
    grad = act.grad_from_output
    assert grad is not None, f"activation {act.name!r} has no derivative"
    return grad(y)


def unfusable_activation(**acts: Activation) -> str | None:
    """The first ``option=name`` whose activation has no known derivative, else ``None``."""
    for option, act in acts.items():
        if act.grad_from_output is None:
            return f"{option}={act.name!r} (a callable without a known derivative)"
    return None


def float_mask(mask: Tensor | None, like: Tensor) -> Tensor | None:
    """The ``(T, B, 1)`` boolean length mask as 0/1 in ``like``'s dtype (``None`` stays ``None``)."""
    return None if mask is None else mask.to(like.dtype)


def drop_mask(
    drop: Sequence[Tensor | None] | None, k: int, dtype: torch.dtype | None = None
) -> Tensor | None:
    """The recurrent-dropout mask ``ρ`` for state entry ``k`` (cast to ``dtype`` when given, and
    contiguous for the C loops), or ``None``."""
    rho = None if drop is None else drop[k]
    if rho is None:
        return None
    return (rho if dtype is None else rho.to(dtype)).contiguous()


def prev_steps(first: Tensor, steps: Tensor, rho: Tensor | None = None) -> Tensor:
    """``(T, B, n)``: the state entering each step, ``[first, steps[0], ..., steps[T-2]]``, as the
    recurrent GEMM saw it (times the dropout mask ``rho`` when there is one)."""
    prev = torch.cat([first.unsqueeze(0), steps[:-1]])
    return prev if rho is None else prev * rho


def weight_grad(dA: Tensor, inp: Tensor) -> Tensor:
    """``dW = dA^T inp`` over all steps at once, for a weight used as ``inp_t W^T`` at every step.

    ``dA (T, B, n)`` the gradient of its output, ``inp (T, B, k)`` its input -> ``(n, k)``.
    """
    n, k = dA.shape[-1], inp.shape[-1]
    return (inp.reshape(-1, k).t() @ dA.reshape(-1, n)).t()


def input_grads(
    dA: Tensor, x: Tensor, W_ih: Tensor | None, need: Sequence[bool]
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """The backward of the input projection ``A = X W_ih^T + b`` over all steps at once.

    Args:
        dA: ``(T, B, n)`` the gradient of ``A``.
        x: ``(T, B, I)`` the input ``X``.
        W_ih: ``(n, I)``; read only for ``dX``.
        need: which of ``dX, dW_ih, db`` to compute (from ``ctx.needs_input_grad``).

    Returns:
        ``dX = dA W_ih (T, B, I)``, ``dW_ih = dA^T X (n, I)`` and ``db = Σ dA (n,)``, each ``None``
        where not needed.
    """
    T, B, n = dA.shape
    dX = dW_ih = db = None
    if need[0]:
        assert W_ih is not None
        dX = (dA.reshape(T * B, n) @ W_ih).view(T, B, -1)
    if need[1]:
        dW_ih = weight_grad(dA, x)
    if need[2]:
        db = dA.reshape(T * B, n).sum(0)
    return dX, dW_ih, db


def empty_result(cell: CellMath, x: Tensor, state: State, keep_steps: bool) -> SequenceResult:
    """The result for ``T = 0``: no outputs, the state unchanged."""
    B = x.shape[1]
    steps = tuple(x.new_zeros((0, B, n)) for n in cell.state_sizes) if keep_steps else None
    return SequenceResult(x.new_zeros((0, B, cell.output_size)), state, steps)


def autocast_dtype(x: Tensor) -> torch.dtype | None:
    """The autocast dtype when autocast is on for ``x``'s device and ``x`` is float32, else ``None``."""
    dev = x.device.type
    if x.dtype != torch.float32:
        return None
    try:
        on, dtype = torch.is_autocast_enabled(dev), torch.get_autocast_dtype(dev)
    except TypeError:  # torch < 2.4 has only the per-device functions
        cpu = dev == "cpu"
        on = torch.is_autocast_cpu_enabled() if cpu else torch.is_autocast_enabled()
        dtype = torch.get_autocast_cpu_dtype() if cpu else torch.get_autocast_gpu_dtype()
    return dtype if on else None


def cast_all(dtype: torch.dtype | None, *tensors: Tensor | None) -> list[Tensor | None]:
    """Cast floating tensors to ``dtype`` (differentiably); ``None`` entries and ``dtype=None`` pass."""
    if dtype is None:
        return list(tensors)
    return [t if t is None or not t.is_floating_point() else t.to(dtype) for t in tensors]


@contextmanager
def no_autocast(x: Tensor) -> Iterator[None]:
    """Run a fused Function with autocast off: its inputs were already cast by :func:`cast_all`.

    Under ``torch.autocast("cpu", dtype=torch.bfloat16)`` the whole kernel then runs in bfloat16
    (GEMMs and pointwise math), as torch's own RNN kernels do under autocast.
    """
    with torch.autocast(x.device.type, enabled=False):
        yield
