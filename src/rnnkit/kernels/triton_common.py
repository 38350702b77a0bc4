"""What the Triton step kernels share: the activations by code, the launch grid, the flags.

Each ``triton_<family>.py`` module has one forward and one backward kernel for a single time step
of its family: the pointwise gate math of the matching ``fused_<family>.py`` docstring, with the
same symbols, fused into one launch over the ``B * H`` elements of the step. The recurrent GEMMs
stay with cuBLAS (``torch.addmm``) between the launches, so per step a layer costs one GEMM and
one kernel each way, where the PyTorch loop costs a GEMM and about ten pointwise kernels.

Conventions of the kernels:

* one program per ``BLOCK`` consecutive elements of the flattened ``(B, H)`` step; ``b = e // H``
  and ``j = e % H`` give the row and unit, and a gate block ``k`` of a ``(B, G*H)`` row is at
  ``b * G*H + k*H + j``;
* the math runs in float32 (float64 for float64 tensors, so ``gradcheck`` sees exact functions)
  and stores in the tensor's dtype (:func:`load_c` loads in that compute dtype);
* an absent tensor (no peepholes, no mask, no dropout) is passed as any tensor with its
  ``HAS_*`` flag off: Triton compiles a variant per flag combination, with no dead loads;
* the length mask travels as ``uint8 (T, B)``.

The activations are rnnkit's named ones, by the code of :func:`rnnkit.kernels.fused_c.act_code`
(the C loops use the same codes): ``0`` identity, ``1`` tanh, ``2`` sigmoid, ``3`` relu, ``4``
softsign, ``5`` hard sigmoid with a slope. ``tanh`` is written with ``exp`` as the C loops write
it (``sign(x) (1 - e) / (1 + e)``, ``e = exp(-2|x|)``), which also runs in Triton's interpreter.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..activations import Activation
from .fused_c import act_code

__all__ = ["BLOCK", "act", "act_args", "act_grad", "grid", "load_c", "mask_u8"]

BLOCK = 512  # elements per program: 4 warps of 128 threads, 4 elements each


@triton.jit
def act(x, CODE: tl.constexpr, SLOPE: tl.constexpr):
    """``y = f(x)`` for activation ``CODE``."""
    if CODE == 1:
        e = tl.exp(-2.0 * tl.abs(x))
        t = (1.0 - e) / (1.0 + e)
        y = tl.where(x < 0, -t, t)
    elif CODE == 2:
        y = 1.0 / (1.0 + tl.exp(-x))
    elif CODE == 3:
        y = tl.where(x > 0, x, 0.0)
    elif CODE == 4:
        y = x / (1.0 + tl.abs(x))
    elif CODE == 5:
        y = tl.minimum(tl.maximum(x * SLOPE + 0.5, 0.0), 1.0)
    else:
        y = x
    return y


@triton.jit
def act_grad(y, CODE: tl.constexpr, SLOPE: tl.constexpr):
    """``dy/dx`` from the output ``y`` of activation ``CODE``."""
    if CODE == 1:
        d = 1.0 - y * y
    elif CODE == 2:
        d = y * (1.0 - y)
    elif CODE == 3:
        d = tl.where(y > 0, 1.0, 0.0)
    elif CODE == 4:
        u = 1.0 - tl.abs(y)
        d = u * u
    elif CODE == 5:
        d = tl.where((y > 0) & (y < 1), SLOPE, 0.0)
    else:
        d = y * 0.0 + 1.0
    return d


@triton.jit
def load_c(P, ok, F64: tl.constexpr):
    """``P`` loaded where ``ok``, in the compute dtype (float64 for float64 tensors, else float32)."""
    v = tl.load(P, mask=ok)
    if not F64:
        v = v.to(tl.float32)
    return v


def act_args(a: Activation) -> tuple[int, float]:
    """The kernels' ``(CODE, SLOPE)`` constants for one of rnnkit's named activations."""
    code = act_code(a)
    assert code is not None, f"activation {a.name!r} has no Triton form"
    return code


def grid(n: int) -> tuple[int]:
    """The launch grid over ``n`` elements."""
    return (triton.cdiv(n, BLOCK),)


def mask_u8(mask: Tensor | None) -> Tensor | None:
    """The ``(T, B, 1)`` boolean length mask as the kernels read it: contiguous ``uint8 (T, B)``."""
    if mask is None:
        return None
    return mask.reshape(mask.shape[0], mask.shape[1]).to(torch.uint8).contiguous()
