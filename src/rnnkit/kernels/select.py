"""Which kernel runs a layer — torch's own, rnnkit's fused one, or the reference loop — and why.

:func:`native_blocker` is the one place that answers "can torch's own kernel run this
configuration, and if not, which option stops it"; :func:`choose_kernel` turns that answer, the
fused kernels' own limits and the user's ``backend`` into a :class:`KernelChoice`, warning once
(:class:`SlowPathWarning`) when only the reference loop can run an option.

>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import GRUMath
>>> tanh, sigmoid = get_activation("tanh"), get_activation("sigmoid")
>>> native_blocker(GRUMath(3, 4, tanh, sigmoid)) is None
True
>>> native_blocker(GRUMath(3, 4, tanh, sigmoid, reset_after=False))
'reset_after=False'
>>> native_blocker(GRUMath(3, 4, tanh, sigmoid), RunRequest(keep_gates=True))
'return_gates=True'
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

from ..cells import CellMath, ElmanMath, GRUMath, JordanMath, LSTMMath
from .fused_dispatch import fused_kernel_for, fused_unfusable
from .native import NativeMode, run_native_layer
from .reference import run_reference
from .stack import Kernel

__all__ = [
    "BACKENDS",
    "KernelChoice",
    "RunRequest",
    "SlowPathWarning",
    "choose_kernel",
    "native_blocker",
    "native_mode",
]

BACKENDS = ("auto", "native", "fused", "reference")


class SlowPathWarning(UserWarning):
    """A layer runs a slower kernel than the fastest one, because of the option it names."""


@dataclass(frozen=True)
class RunRequest:
    """What one call asks of a kernel beyond the cell's math.

    Attributes:
        training: the layer is in training mode (so its dropout is active).
        input_dropout, recurrent_dropout: the layer's variational dropout rates.
        keep_steps: every step's state is wanted (``return_states=True``).
        keep_gates: every step's gates are wanted (``return_gates=True``).
        single_step: one step through torch's cell functions (``torch.lstm_cell`` ...).
    """

    training: bool = False
    input_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    keep_steps: bool = False
    keep_gates: bool = False
    single_step: bool = False


def _cell_blocker(cell: CellMath) -> str | None:
    """The option of the cell's math that torch has no kernel for."""
    kind = type(cell)  # exact type: a subclass may change the math
    if kind is ElmanMath:
        name = cell.activation.name  # type: ignore[attr-defined]
        return None if name in ("tanh", "relu") else f"nonlinearity={name!r}"
    if kind is LSTMMath:
        assert isinstance(cell, LSTMMath)
        if cell.peephole:
            return "peephole=True"
        if cell.coupled:
            return "coupled=True"
    elif kind is GRUMath:
        assert isinstance(cell, GRUMath)
        if not cell.reset_after:
            return "reset_after=False"
    elif kind is JordanMath:
        return "JordanRNN"
    else:
        return f"{kind.__name__} (torch has no such cell)"
    for option, torch_value in cell.torch_defaults:
        value = getattr(cell, option)
        name = getattr(value, "name", value)
        if name != torch_value:
            return f"{option}={name!r}"
    return None


def native_blocker(cell: CellMath, run: RunRequest | None = None) -> str | None:
    """The option that keeps ``cell`` (every layer of a stack has the same options) off torch's
    own kernel for this call, or ``None`` when torch's kernel computes exactly this."""
    why = _cell_blocker(cell)
    if why is not None or run is None:
        return why
    if run.single_step and isinstance(cell, LSTMMath) and cell.proj_size:
        return "proj_size"  # torch.lstm_cell has no projection
    if run.training and run.input_dropout > 0:
        return "input_dropout"
    if run.training and run.recurrent_dropout > 0:
        return "recurrent_dropout"
    if run.keep_steps:
        return "return_states=True"
    if run.keep_gates:
        return "return_gates=True"
    return None


_MODES: dict[type, NativeMode] = {LSTMMath: "lstm", GRUMath: "gru"}


def native_mode(cell: CellMath, run: RunRequest | None = None) -> NativeMode | None:
    """torch's kernel (a ``torch._VF`` mode) that computes ``cell`` exactly, or ``None``."""
    if native_blocker(cell, run) is not None:
        return None
    if isinstance(cell, ElmanMath):
        return "rnn_relu" if cell.activation.name == "relu" else "rnn_tanh"
    return _MODES[type(cell)]


@dataclass(frozen=True)
class KernelChoice:
    """A kernel for one call: the per-layer ``kernel`` that :func:`~rnnkit.kernels.run_stack`
    calls, or ``None`` for torch's kernel over the whole stack at once (``native``; with
    ``backend="native"`` and per-step states or gates asked for, torch's kernel runs layer by
    layer through :func:`~rnnkit.kernels.native.run_native_layer` instead)."""

    name: Literal["native", "fused", "reference"]
    kernel: Kernel | None = None


def choose_kernel(
    layer: str,
    cell: CellMath,
    backend: str,
    run: RunRequest,
    warned: set[str],
    stacklevel: int = 2,
) -> KernelChoice:
    """The fastest kernel that computes exactly this configuration, or the one ``backend`` names.

    Args:
        layer: the layer's name, for messages.
        cell: the math of the stack's first layer.
        backend: ``"auto"``, ``"native"``, ``"fused"`` or ``"reference"``.
        run: what this call asks for.
        warned: the options already warned about (updated): a layer warns once per option.
        stacklevel: passed to :func:`warnings.warn`, so the warning points at the user's call.

    Raises:
        ValueError: ``backend`` names a kernel that cannot run this configuration, naming why.
    """
    if backend == "reference":
        return KernelChoice("reference", run_reference)
    blocker = native_blocker(cell, run)
    if blocker is None and backend != "fused":
        return KernelChoice("native")
    if backend == "native":
        plain = replace(run, keep_steps=False, keep_gates=False)
        mode = native_mode(cell, plain)
        if mode is not None:  # torch's kernel layer by layer, so every step's state is there
            return KernelChoice("native", partial(run_native_layer, mode))
        raise ValueError(f"{layer}: backend='native' cannot run {blocker}")
    fused = fused_kernel_for(cell)
    if fused is not None:
        return KernelChoice("fused", fused)
    why = fused_unfusable(cell)
    if backend == "fused":
        raise ValueError(f"{layer}: backend='fused' cannot run {why}")
    assert why is not None
    if why not in warned:
        warned.add(why)
        warnings.warn(
            f"{layer}: {why} has no fused kernel; running the reference loop (much slower)",
            SlowPathWarning,
            stacklevel=stacklevel + 1,
        )
    return KernelChoice("reference", run_reference)
