"""Where a model runs: ``--device auto|cpu|cuda|cuda:N|mps`` and ``--precision fp32|bf16|fp16``.

Every command that runs a model takes ``--device`` (:func:`add_device_flag`) and resolves it with
:func:`resolve_device`; a device that is not there is a :class:`~rnnkit.errors.UserError` (one
line, exit 2), never a traceback from deep inside torch. ``auto`` is the first CUDA GPU, else
Apple's MPS, else the CPU.

A model is put on its device with :func:`place`. Besides ``model.to(device)``, a model placed
on another device than the CPU takes its inputs from anywhere: tensor arguments are moved to the
model's device, and the outputs go back to the device the first tensor argument came from (in
float32 if mixed precision made them lower). So the tasks, the scorers and the commands, which
build their batches on the CPU, work unchanged with a model on a GPU; the cost is one copy of the
outputs per call (for training: the logits of each batch).

Weights are always saved on the CPU (:mod:`rnnkit.train.checkpoint`), so a run trained on a GPU
loads anywhere.

Mixed precision (:func:`precision_dtype`, :func:`autocast`) is torch's autocast, checked for the
device first:

========= ======================= ====================================================
precision CPU                     CUDA
========= ======================= ====================================================
fp32      yes                     yes
bf16      yes (autocast on CPU)   where ``torch.cuda.is_bf16_supported()`` (Ampere on)
fp16      refused (see below)     yes, with a gradient scaler (``torch.amp.GradScaler``)
========= ======================= ====================================================

fp16 on the CPU is refused although torch's CPU autocast accepts it: CPU half-precision matrix
products are slow on most processors and without loss scaling small gradients underflow; bf16
has float32's range and is the CPU's mixed precision. MPS takes fp16 and bf16 as torch does.

>>> resolve_device("cpu")
device(type='cpu')
>>> precision_dtype("bf16", torch.device("cpu"))
torch.bfloat16
"""

from __future__ import annotations

import argparse
import contextlib
import re
from typing import Any

import torch
from torch import Tensor, nn

from .errors import UserError

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "add_device_flag",
    "autocast",
    "describe_device",
    "model_device",
    "place",
    "precision_dtype",
    "resolve_device",
]

DEVICES = "auto, cpu, cuda, cuda:N, mps"
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
_CUDA = re.compile(r"cuda(?::(\d+))?")


def add_device_flag(parser: argparse.ArgumentParser | Any, default: str = "auto") -> None:
    """Add ``--device`` to a command's parser (the value is resolved later, when it is used)."""
    parser.add_argument(
        "--device",
        default=default,
        metavar="DEVICE",
        help=f"where the model runs: {DEVICES}; auto: a GPU when there is one (default {default})",
    )


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(text: str, local_rank: int | None = None) -> torch.device:
    """The torch device named by ``--device``; ``local_rank`` (a distributed process's GPU
    index on its machine) picks the GPU for ``auto`` and ``cuda``.

    >>> resolve_device("auto").type in ("cpu", "cuda", "mps")
    True

    Raises:
        UserError: an unknown name, or a device this machine does not have.
    """
    name = str(text).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", (local_rank or 0) % torch.cuda.device_count())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise UserError("--device mps: this machine has no MPS device (an Apple GPU); "
                            "use --device cpu or auto")  # fmt: skip
        return torch.device("mps")
    m = _CUDA.fullmatch(name)
    if m is None:
        raise UserError(f"--device {text!r}: not a device; use one of {DEVICES}")
    if not torch.cuda.is_available():
        build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise UserError(f"--device {text}: no CUDA GPU is visible here (torch {torch.__version__}, "
                        f"{build}); use --device cpu or auto")  # fmt: skip
    count = torch.cuda.device_count()
    index = int(m.group(1)) if m.group(1) is not None else (local_rank or 0)
    if index >= count:
        raise UserError(f"--device {text}: this machine has {count} CUDA device(s), "
                        f"cuda:0 to cuda:{count - 1}")  # fmt: skip
    return torch.device("cuda", index)


def describe_device(device: torch.device) -> str:
    """``"cpu"``, ``"cuda:0 (NVIDIA H100 80GB HBM3)"``, ``"mps"``: what a run records."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def precision_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--precision`` on ``device`` (``None``: float32, no autocast).

    Raises:
        UserError: an unknown precision, or one the device cannot do (see the module docstring).
    """
    if precision not in PRECISIONS:
        raise UserError(f"--precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is None:
        return None
    if device.type == "cpu" and dtype is torch.float16:
        raise UserError("--precision fp16: not on the CPU (slow there, and without loss scaling "
                        "small gradients vanish); use --precision bf16 or fp32")  # fmt: skip
    if device.type == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise UserError(f"--precision bf16: {describe_device(device)} cannot do bfloat16; "
                        "use --precision fp16 or fp32")  # fmt: skip
    if not torch.amp.autocast_mode.is_autocast_available(device.type):
        raise UserError(f"--precision {precision}: torch has no autocast for {device.type}; "
                        "use --precision fp32")  # fmt: skip
    return dtype


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """torch's autocast for ``dtype`` on ``device``, or nothing for float32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


# ----- a model on a device, fed from anywhere ----------------------------------------------------


def _tensors_to(value: Any, device: torch.device, widen: bool = False) -> Any:
    """``value`` with every tensor inside (tuples, lists, dicts) moved to ``device``; ``widen``:
    half-precision floats become float32."""
    if isinstance(value, Tensor):
        if widen and value.dtype in (torch.float16, torch.bfloat16):
            return value.to(device, torch.float32)
        return value.to(device)
    if isinstance(value, tuple):
        moved = (_tensors_to(v, device, widen) for v in value)
        return type(value)(*moved) if hasattr(value, "_fields") else tuple(moved)
    if isinstance(value, list):
        return [_tensors_to(v, device, widen) for v in value]
    if isinstance(value, dict):
        return {k: _tensors_to(v, device, widen) for k, v in value.items()}
    return value


def _first_tensor(values: Any) -> Tensor | None:
    for v in values:
        if isinstance(v, Tensor):
            return v
        if isinstance(v, (tuple, list)):
            found = _first_tensor(v)
            if found is not None:
                return found
    return None


class _Boundary:
    """The hooks of :func:`place`: inputs to the model's device, outputs back where they came
    from. A stack, so a model that calls itself (``score``, ``generate``) nests correctly."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.origins: list[torch.device | None] = []

    def before(self, module: nn.Module, args: Any, kwargs: Any) -> tuple[Any, Any]:
        first = _first_tensor((*args, *kwargs.values()))
        self.origins.append(None if first is None else first.device)
        return _tensors_to(args, self.device), _tensors_to(kwargs, self.device)

    def after(self, module: nn.Module, args: Any, kwargs: Any, output: Any) -> Any:
        origin = self.origins.pop() if self.origins else None
        if origin is None or _same(origin, self.device):
            return output
        return _tensors_to(output, origin, widen=True)


def _same(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def place(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` moved to ``device``; off the CPU it also takes inputs from any device (see the
    module docstring). Returns the same module.

    >>> lin = place(nn.Linear(2, 1), torch.device("cpu"))
    >>> next(lin.parameters()).device
    device(type='cpu')
    """
    model.to(device)
    if device.type != "cpu" and not hasattr(model, "_rnnkit_boundary"):
        boundary = _Boundary(device)
        model.register_forward_pre_hook(boundary.before, with_kwargs=True)
        model.register_forward_hook(boundary.after, with_kwargs=True)
        model._rnnkit_boundary = boundary  # type: ignore[assignment]
    return model


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter (the CPU for a model without any)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
