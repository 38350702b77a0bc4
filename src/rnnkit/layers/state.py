"""The state a sequence module starts from: given, learned, zeros, or carried from the last call.

``stateful`` modules carry each row's final state (detached: truncated BPTT) into the next call;
``reset_state(mask)`` starts chosen rows afresh — the per-sample resets keras#2750 asks for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..cells.base import State
from .inputs import shape_str

__all__ = ["StateCarry"]


class StateCarry:
    """The carried state of a ``stateful`` module and the rows to reset before the next call.

    Attributes:
        state: the last call's final state, one ``(L*D, B, size)`` tensor per entry, or ``None``.
        reset_rows: ``(B,)`` booleans, rows that start from the initial state next time, or ``None``.
    """

    def __init__(self) -> None:
        self.state: State | None = None
        self.reset_rows: Tensor | None = None

    def keep(self, final: State) -> None:
        """Carry ``final`` (detached) into the next call."""
        self.state, self.reset_rows = tuple(f.detach() for f in final), None

    def reset(self, name: str, mask: Tensor | Sequence[bool] | None = None) -> None:
        """Forget the carried state: all rows, or the rows where ``mask`` is True."""
        if mask is None or self.state is None:
            self.state, self.reset_rows = None, None
            return
        m = torch.as_tensor(mask, dtype=torch.bool, device=self.state[0].device)
        B = self.state[0].shape[1]
        if m.shape != (B,):
            raise ValueError(
                f"{name}: reset_state mask must have shape ({B},), got {shape_str(m.shape)}"
            )
        self.reset_rows = m if self.reset_rows is None else self.reset_rows | m

    def start(self, name: str, init: State) -> State:
        """The state to start from: the carried one (reset rows from ``init``), or ``init``."""
        if self.state is None:
            return init
        B = init[0].shape[1]
        if self.state[0].shape[1] != B:
            raise ValueError(
                f"{name}: the carried state is for a batch of {self.state[0].shape[1]} rows, "
                f"got {B}; call reset_state() first"
            )
        if self.reset_rows is None:
            return self.state
        rows = self.reset_rows[None, :, None]
        return tuple(torch.where(rows, i, c) for i, c in zip(init, self.state, strict=True))
