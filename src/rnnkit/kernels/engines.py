"""Which implementation runs a fused kernel's two time loops: compiled C++, Triton, or PyTorch ops.

Every fused kernel (:mod:`rnnkit.kernels.fused_common`) hoists the input GEMM before its loop and
the weight-gradient GEMMs after it; only the loops differ. Per step they do one recurrent GEMM and
then the pointwise gate math, which is where the engines differ:

==========  ===================================================  ==============================
engine      per step                                             runs when
==========  ===================================================  ==============================
``c``       the whole loop in one C++ call (:mod:`.fused_c`)      CPU, float32/float64
``triton``  cuBLAS GEMM + one fused Triton kernel for the gates   a CUDA tensor, Triton installed
            (:mod:`.triton_steps`)
``torch``   cuBLAS/MKL GEMM + about ten PyTorch pointwise ops     everywhere else
==========  ===================================================  ==============================

All three write the same buffers, so the tests compare them to the reference and to each other.
On a CPU-only machine the Triton kernels still run, slowly, under Triton's interpreter
(``TRITON_INTERPRET=1`` set before Triton is imported): that is how CI checks their numbers.

>>> import torch
>>> from rnnkit.activations import get_activation
>>> from rnnkit.cells import ElmanMath
>>> cell = ElmanMath(3, 4, get_activation("tanh"))
>>> loop_engine(torch.zeros(1, dtype=torch.bfloat16), cell)
'torch'
>>> with use_engine("torch"):
...     loop_engine(torch.zeros(1), cell)
'torch'
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import torch
from torch import Tensor

from ..activations import Activation
from ..cells.base import CellMath
from .fused_c import act_code, clib

__all__ = [
    "ENGINES",
    "Engine",
    "cell_activations",
    "loop_engine",
    "triton_info",
    "triton_usable",
    "use_engine",
]

Engine = Literal["c", "triton", "torch"]
ENGINES = ("auto", "c", "triton", "torch")
TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

_forced: list[str] = ["auto"]


@contextmanager
def use_engine(name: str) -> Iterator[None]:
    """Run the fused kernels' loops on engine ``name`` inside the block (``"auto"`` restores the
    usual choice). Tests and ``rnnkit bench`` use it to put the engines side by side.

    Raises:
        ValueError: an unknown name.
    """
    if name not in ENGINES:
        raise ValueError(f"engine={name!r} is unknown; choose one of {list(ENGINES)}")
    _forced.append(name)
    try:
        yield
    finally:
        _forced.pop()


def triton_interpreted() -> bool:
    """Whether Triton kernels run under its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def triton_info() -> dict[str, object]:
    """What Triton is here, for ``rnnkit doctor``: ``installed``, ``version``, ``interpreted``."""
    spec = importlib.util.find_spec("triton")
    info: dict[str, object] = {"installed": spec is not None, "interpreted": triton_interpreted()}
    if spec is not None:
        try:
            import triton

            info["version"] = triton.__version__
        except Exception as err:  # a broken install: say why instead of failing doctor
            info["installed"], info["reason"] = False, f"import failed: {err}"
    return info


def triton_usable(x: Tensor, acts: Sequence[Activation]) -> bool:
    """Whether the Triton step kernels can run on ``x`` with ``acts``: Triton installed, rnnkit's
    named activations, a float dtype, and a CUDA tensor (or any tensor under the interpreter)."""
    if any(act_code(a) is None for a in acts) or x.dtype not in TRITON_DTYPES:
        return False
    if not (x.is_cuda or (x.device.type == "cpu" and triton_interpreted())):
        return False
    return _triton_installed()


@functools.cache
def _triton_installed() -> bool:
    """Whether Triton imports here (asked once per process: every fused call on a GPU asks)."""
    return bool(triton_info()["installed"])


def cell_activations(cell: CellMath) -> tuple[Activation, ...]:
    """Every activation of a cell's math (the fields that hold an :class:`Activation`)."""
    values = (getattr(cell, f.name) for f in dataclasses.fields(cell))  # type: ignore[arg-type]
    return tuple(v for v in values if isinstance(v, Activation))


def loop_engine(x: Tensor, cell: CellMath) -> Engine:
    """The engine for a fused kernel of ``cell`` on ``x``.

    ``auto`` takes the first that can run of ``c``, ``triton`` (on a GPU only) and ``torch``. A
    forced engine (:func:`use_engine`) that cannot run here falls back to ``torch``.
    """
    acts = cell_activations(cell)
    forced = _forced[-1]
    if forced in ("auto", "c") and clib(x, acts=acts) is not None:
        return "c"
    if forced == "triton" and triton_usable(x, acts):
        return "triton"
    if forced == "auto" and x.is_cuda and triton_usable(x, acts):
        return "triton"
    return "torch"
