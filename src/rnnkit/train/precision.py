"""Mixed precision around the recurrence: under autocast (``--precision bf16|fp16``) the
embedding, heads and losses run in half precision while every rnnkit recurrent layer runs in
float32 (see :class:`_Float32Recurrence` for why)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..layers import RecurrentLayer

__all__ = ["recurrence_in_float32"]


class _Float32Recurrence:
    """Hooks that run an rnnkit recurrent layer in float32 inside autocast: its half-precision
    inputs are widened and autocast is off until it returns. torch's own CPU LSTM fails under
    bf16 autocast where oneDNN has no bf16 kernel for it, and rnnkit's fused kernels (hand-written
    backward) are float32 only; the embedding, heads and losses still run in ``precision``."""

    def __init__(self) -> None:
        self.saved: list[tuple[str, bool]] = []

    def before(self, module: nn.Module, args: Any, kwargs: Any) -> tuple[Any, Any]:
        kind = next((p.device.type for p in module.parameters()), "cpu")
        self.saved.append((kind, torch.is_autocast_enabled(kind)))
        torch.set_autocast_enabled(kind, False)
        return _widen(args), _widen(kwargs)

    def after(self, module: nn.Module, args: Any, output: Any) -> Any:
        kind, enabled = self.saved.pop()
        torch.set_autocast_enabled(kind, enabled)
        return output


def _widen(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.float() if value.dtype in (torch.float16, torch.bfloat16) else value
    if isinstance(value, (tuple, list)):
        return type(value)(_widen(v) for v in value)
    if isinstance(value, dict):
        return {k: _widen(v) for k, v in value.items()}
    return value


def recurrence_in_float32(model: nn.Module) -> None:
    """Make every rnnkit recurrent layer in ``model`` run in float32 under autocast."""
    hooks = _Float32Recurrence()
    for m in model.modules():
        if isinstance(m, RecurrentLayer):
            m.register_forward_pre_hook(hooks.before, with_kwargs=True)
            m.register_forward_hook(hooks.after)
