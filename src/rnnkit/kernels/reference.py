"""The reference kernel: a cell stepped in a Python loop over time, differentiated by autograd.

This is the oracle every faster kernel is tested against. It reads exactly like the equations:
one call of :meth:`CellMath.step` per time step, with the variable-length rule applied around it.

Variable lengths: with a ``(T, B, 1)`` boolean ``mask`` (``mask[t, b]`` is ``t < length[b]``), a row
keeps its state unchanged once its sequence has ended, so the final state is the state at its last
valid step (the initial state for a zero-length row), and its outputs past the end are zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ..cells.base import CellMath, Gates, State, Weights

__all__ = ["SequenceResult", "gates_from_steps", "run_reference"]


class SequenceResult(NamedTuple):
    """What a kernel returns for one layer in one direction.

    Attributes:
        output: ``(T, B, O)`` outputs, zero past each row's length.
        final: the state after each row's last valid step, one ``(B, size)`` tensor per entry.
        steps: every step's state, one ``(T, B, size)`` tensor per entry (zero past each row's
            length), or ``None`` when not asked for.
    """

    output: Tensor
    final: State
    steps: State | None


def run_reference(
    cell: CellMath,
    x: Tensor,
    state: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
    keep_steps: bool = False,
) -> SequenceResult:
    """Unroll ``cell`` over ``x`` of shape ``(T, B, I)`` from ``state``.

    Args:
        cell: the cell's math.
        x: ``(T, B, I)`` inputs, time-major.
        state: initial state, one ``(B, size)`` tensor per entry of ``cell.state_sizes``.
        w: the cell's weights.
        mask: ``(T, B, 1)`` booleans, ``True`` where a step is inside its row's sequence.
        drop: recurrent-dropout masks aligned with ``state``.
        keep_steps: also return every step's state.
    """
    outputs: list[Tensor] = []
    steps: list[State] = []
    for t in range(x.shape[0]):
        new = cell.step(x[t], state, w, drop)
        if mask is None:
            state = new
        else:
            m = mask[t]  # (B, 1)
            state = tuple(torch.where(m, n, s) for n, s in zip(new, state, strict=True))
            new = tuple(torch.where(m, n, torch.zeros_like(n)) for n in new)
        outputs.append(new[0])
        if keep_steps:
            steps.append(new)
    T = x.shape[0]
    if T == 0:
        out = x.new_zeros((0, x.shape[1], cell.output_size))
        stacked = tuple(x.new_zeros((0, x.shape[1], n)) for n in cell.state_sizes)
        return SequenceResult(out, state, stacked if keep_steps else None)
    all_steps = tuple(torch.stack(s) for s in zip(*steps, strict=True)) if keep_steps else None
    return SequenceResult(torch.stack(outputs), state, all_steps)


def gates_from_steps(
    cell: CellMath,
    x: Tensor,
    state: State,
    steps: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
) -> Gates:
    """Every step's gate values, recomputed from the per-step states with the cell's own math.

    Any kernel that returns the states (torch's, fused or reference) thus gives exactly the
    reference cell's gates: step ``t`` reads ``x[t]`` and the state after step ``t - 1``.

    Args:
        cell, x, state, w, mask, drop: as for :func:`run_reference` (``x`` as the kernel saw it).
        steps: every step's state, one ``(T, B, size)`` tensor per entry, zero past each length.

    Returns:
        ``{gate name: (T, B, H)}``, zero past each row's length; ``{}`` for a cell without gates.
    """
    T, B = x.shape[:2]
    if not cell.gate_names:
        return {}
    if T == 0:
        return {n: x.new_zeros((0, B, cell.hidden_size)) for n in cell.gate_names}
    prev = tuple(torch.cat([s0[None], s[:-1]]) for s0, s in zip(state, steps, strict=True))
    rows = tuple(p.reshape(T * B, -1) for p in prev)  # every step's rows at once: (T*B, size)
    drops = (
        None
        if drop is None
        else [None if m is None else m.expand(T, *m.shape).reshape(T * B, -1) for m in drop]
    )
    gates = cell.gate_values(x.reshape(T * B, -1), rows, w, drops)
    out = {n: g.reshape(T, B, -1) for n, g in gates.items()}  # (T, B, H)
    if mask is not None:
        out = {n: torch.where(mask, g, torch.zeros_like(g)) for n, g in out.items()}
    return out
