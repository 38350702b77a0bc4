"""Weight initialisers by name (Keras's argument names, PyTorch's default).

Each initialiser fills a whole fused matrix in place, as Keras does: ``glorot_uniform`` on a
``(4H, I)`` LSTM kernel uses ``fan_in = I`` and ``fan_out = 4H``; ``orthogonal`` on a ``(4H, H)``
recurrent kernel gives it orthonormal columns (Saxe et al. 2014).

``uniform`` is PyTorch's default for every recurrent weight and bias: ``U(-k, k)`` with
``k = 1 / sqrt(hidden_size)``; it needs the hidden size, so it is called with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["INITIALIZERS", "Initializer", "get_initializer"]

Initializer = Callable[[Tensor, int], None]
"""``init(tensor, hidden_size)`` fills ``tensor`` in place."""


def uniform(t: Tensor, hidden_size: int) -> None:
    k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    torch.nn.init.uniform_(t, -k, k)


def glorot_uniform(t: Tensor, hidden_size: int) -> None:
    if t.dim() < 2:
        uniform(t, hidden_size)
    else:
        torch.nn.init.xavier_uniform_(t)


def orthogonal(t: Tensor, hidden_size: int) -> None:
    if t.dim() < 2:
        uniform(t, hidden_size)
    else:
        torch.nn.init.orthogonal_(t)


def zeros(t: Tensor, hidden_size: int) -> None:
    torch.nn.init.zeros_(t)


def ones(t: Tensor, hidden_size: int) -> None:
    torch.nn.init.ones_(t)


INITIALIZERS: dict[str, Initializer] = {
    "uniform": uniform,
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
    "zeros": zeros,
    "ones": ones,
}


def get_initializer(spec: str | Initializer | None, arg: str) -> Initializer:
    """Resolve a name or callable; ``None`` means PyTorch's default ``uniform``.

    A callable may take ``(tensor)`` like ``torch.nn.init.xavier_normal_`` or
    ``(tensor, hidden_size)``.
    """
    if spec is None:
        return uniform
    if isinstance(spec, str):
        if spec not in INITIALIZERS:
            raise ValueError(f"{arg}={spec!r} is unknown; choose one of {sorted(INITIALIZERS)}")
        return INITIALIZERS[spec]
    if not callable(spec):
        raise ValueError(f"{arg} must be a name or a callable, got {type(spec).__name__}")
    fn = spec

    def call(t: Tensor, hidden_size: int) -> None:
        try:
            fn(t, hidden_size)
        except TypeError:
            fn(t)  # type: ignore[call-arg]

    return call
