"""Kernels: ways to run a whole sequence of one recurrent layer (and the driver that stacks them)."""

from .fused_dispatch import fused_kernel_for, fused_unfusable
from .native import run_native, run_native_packed
from .reference import SequenceResult, gates_from_steps, run_reference
from .select import (
    BACKENDS,
    KernelChoice,
    RunRequest,
    SlowPathWarning,
    choose_kernel,
    native_blocker,
    native_mode,
)
from .stack import StackResult, length_mask, reverse_padded, run_stack

__all__ = [
    "BACKENDS",
    "KernelChoice",
    "RunRequest",
    "SequenceResult",
    "SlowPathWarning",
    "StackResult",
    "choose_kernel",
    "fused_kernel_for",
    "fused_unfusable",
    "gates_from_steps",
    "length_mask",
    "native_blocker",
    "native_mode",
    "reverse_padded",
    "run_native",
    "run_native_packed",
    "run_reference",
    "run_stack",
]
