"""The driver: runs a stack of layers in one or two directions, with variable lengths.

Everything about sequences lives here and nowhere else: reversal for the backward direction,
masks from lengths, stacking, dropout between layers, merging the two directions and collecting
the final states. It never knows gate math: it calls a kernel (a function with the signature of
:func:`rnnkit.kernels.reference.run_reference`) once per layer and direction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells.base import CellMath, Gates, State, Weights
from .reference import SequenceResult, gates_from_steps

__all__ = ["Kernel", "StackResult", "length_mask", "reverse_padded", "run_stack"]

Kernel = Callable[..., SequenceResult]
Masks = Sequence[Tensor | None]


class StackResult(NamedTuple):
    """What :func:`run_stack` returns.

    Attributes:
        output: ``(T, B, D*O)``, the top layer's outputs (zero past each row's length).
        final: the final state, one ``(L*D, B, size)`` tensor per state entry.
        steps: every step's state, one ``(L*D, T, B, size)`` tensor per entry, or ``None``.
        gates: every step's gates, ``{name: (L*D, T, B, H)}`` (``{}`` for a cell without gates),
            or ``None``.
    """

    output: Tensor
    final: State
    steps: State | None
    gates: Gates | None


def length_mask(lengths: Tensor, T: int) -> Tensor:
    """``(T, B, 1)`` booleans, ``True`` where ``t < lengths[b]``."""
    t = torch.arange(T, device=lengths.device)
    return (t[:, None] < lengths[None, :]).unsqueeze(-1)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each row of ``x (T, B, ...)`` in time within its own length (padding stays put).

    The map is its own inverse, so it also takes a reversed output back to the original order.
    """
    if lengths is None:
        return x.flip(0)
    T = x.shape[0]
    t = torch.arange(T, device=x.device)[:, None]  # (T, 1)
    idx = torch.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)  # (T, B)
    idx = idx.reshape(T, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, idx)


def run_stack(
    cells: Sequence[CellMath],
    weights: Sequence[Sequence[Weights]],
    x: Tensor,
    state0: State,
    lengths: Tensor | None,
    kernel: Kernel,
    *,
    dropout: float = 0.0,
    training: bool = False,
    input_masks: Sequence[Sequence[Tensor | None]] | None = None,
    drop_masks: Sequence[Sequence[Masks | None]] | None = None,
    keep_steps: bool = False,
    keep_gates: bool = False,
) -> StackResult:
    """Run ``L = len(cells)`` layers over ``x (T, B, I)`` in ``D = len(weights[0])`` directions.

    Args:
        cells: the math of each layer.
        weights: ``weights[l][d]``, the weights of layer ``l`` in direction ``d``.
        x: ``(T, B, I)`` inputs, time-major.
        state0: initial state, one ``(L*D, B, size)`` tensor per state entry (PyTorch's layout).
        lengths: ``(B,)`` valid lengths, or ``None`` when every row has ``T`` steps.
        kernel: runs one layer in one direction.
        dropout: dropout on each layer's output except the last (PyTorch's ``dropout``).
        training: whether dropout is active.
        input_masks: ``input_masks[l][d]``, a ``(B, I_l)`` mask fixed over time (variational input
            dropout), or ``None``.
        drop_masks: ``drop_masks[l][d]``, recurrent-dropout masks for the kernel, or ``None``.
        keep_steps: also return every step's state.
        keep_gates: also return every step's gates, recomputed from the states with the cell's
            math (:func:`~rnnkit.kernels.reference.gates_from_steps`), so every kernel gives them.
    """
    D = len(weights[0])
    T = x.shape[0]
    mask = None if lengths is None else length_mask(lengths, T)
    finals: list[State] = []
    steps: list[State] = []
    gates: list[Gates] = []
    for l, cell in enumerate(cells):
        outputs = []
        for d in range(D):
            k = l * D + d
            x_in = x if d == 0 else reverse_padded(x, lengths)
            in_mask = None if input_masks is None else input_masks[l][d]
            if in_mask is not None:
                x_in = x_in * in_mask  # the same mask at every step
            start = tuple(s[k] for s in state0)
            drop = None if drop_masks is None else drop_masks[l][d]
            res = kernel(cell, x_in, start, weights[l][d], mask, drop, keep_steps or keep_gates)
            out, res_steps = res.output, res.steps
            if keep_gates:
                assert res_steps is not None
                g = gates_from_steps(cell, x_in, start, res_steps, weights[l][d], mask, drop)
                gates.append(g if d == 0 else {n: reverse_padded(v, lengths) for n, v in g.items()})
            if d == 1:
                out = reverse_padded(out, lengths)
                if res_steps is not None:
                    res_steps = tuple(reverse_padded(s, lengths) for s in res_steps)
            outputs.append(out)
            finals.append(res.final)
            if res_steps is not None:
                steps.append(res_steps)
        x = outputs[0] if D == 1 else torch.cat(outputs, dim=-1)  # (T, B, D*O)
        if dropout > 0 and training and l < len(cells) - 1:
            x = F.dropout(x, dropout, training=True)
    final = tuple(torch.stack(entry) for entry in zip(*finals, strict=True))  # (L*D, B, size)
    all_steps = (
        tuple(torch.stack(entry) for entry in zip(*steps, strict=True)) if keep_steps else None
    )
    all_gates = (
        {n: torch.stack([g[n] for g in gates]) for n in cells[0].gate_names} if keep_gates else None
    )
    return StackResult(x, final, all_steps, all_gates)
