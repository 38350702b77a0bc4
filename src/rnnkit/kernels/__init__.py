"""Kernels: ways to run a whole sequence of one recurrent layer (and the driver that stacks them)."""

from .fused_dispatch import fused_kernel_for, fused_unfusable
from .native import run_native, run_native_packed
from .reference import SequenceResult, run_reference
from .stack import length_mask, reverse_padded, run_stack

__all__ = [
    "SequenceResult",
    "fused_kernel_for",
    "fused_unfusable",
    "length_mask",
    "reverse_padded",
    "run_native",
    "run_native_packed",
    "run_reference",
    "run_stack",
]
