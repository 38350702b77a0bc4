"""Which fused kernel runs a cell, or why none can.

>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import LSTMMath
>>> tanh, sig = get_activation("tanh"), get_activation("sigmoid")
>>> fused_kernel_for(LSTMMath(3, 4, tanh, sig, peephole=True)).__name__
'run_fused_lstm'
>>> fused_unfusable(LSTMMath(3, 4, get_activation(lambda x: x.tanh()), sig))
"activation='<lambda>' (a callable without a known derivative)"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cells import CellMath, ElmanMath, GRUMath, JordanMath, LSTMMath
from .fused_elman import elman_unfusable, run_fused_elman
from .fused_gru import gru_unfusable, run_fused_gru
from .fused_jordan import jordan_unfusable, run_fused_jordan
from .fused_lstm import lstm_unfusable, run_fused_lstm
from .stack import Kernel

__all__ = ["fused_kernel_for", "fused_unfusable"]

# Exact cell type -> (kernel, why-not check). A subclass may change the math: it is not listed.
_FUSED: dict[type, tuple[Kernel, Callable[[Any], str | None]]] = {
    LSTMMath: (run_fused_lstm, lstm_unfusable),
    GRUMath: (run_fused_gru, gru_unfusable),
    ElmanMath: (run_fused_elman, elman_unfusable),
    JordanMath: (run_fused_jordan, jordan_unfusable),
}


def fused_unfusable(cell: CellMath) -> str | None:
    """The option that keeps ``cell`` off the fused kernels (for a warning), or ``None``."""
    entry = _FUSED.get(type(cell))
    if entry is None:
        return f"{type(cell).__name__} (no fused kernel for this cell)"
    return entry[1](cell)


def fused_kernel_for(cell: CellMath) -> Kernel | None:
    """The fused kernel that computes ``cell`` exactly, or ``None`` (then run the reference)."""
    entry = _FUSED.get(type(cell))
    if entry is None or entry[1](cell) is not None:
        return None
    return entry[0]
