"""Checking and normalising what users pass to a layer, with errors that name the layer and shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = [
    "Prepared",
    "check_state",
    "check_step_input",
    "prepare_input",
    "repack",
    "shape_str",
]


def shape_str(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


@dataclass
class Prepared:
    """An input in the one layout kernels see.

    Attributes:
        x: ``(T, B, I)``, time-major.
        lengths: ``(B,)`` int64 valid lengths on ``x``'s device, or ``None`` (all ``T``).
        packed: the PackedSequence the input came as, to pack the output the same way.
        unbatched: the input was ``(T, I)``.
    """

    x: Tensor
    lengths: Tensor | None
    packed: PackedSequence | None
    unbatched: bool


def prepare_input(
    name: str,
    input: Tensor | PackedSequence,
    lengths: Tensor | Sequence[int] | None,
    input_size: int,
    batch_first: bool,
) -> Prepared:
    """Validate ``input`` and ``lengths`` and bring them to time-major form."""
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ValueError(
                f"{name}: pass lengths either as a PackedSequence or as lengths=, not both"
            )
        _check_float(name, input.data)
        if input.data.dim() != 2 or input.data.shape[-1] != input_size:
            raise ValueError(
                f"{name}: expected packed data of size (N, {input_size}), got {shape_str(input.data.shape)}"
            )
        x, packed_lens = pad_packed_sequence(input)  # (T, B, I), rows in the caller's order
        return Prepared(x, packed_lens.to(x.device), input, unbatched=False)
    if not isinstance(input, Tensor):
        raise ValueError(
            f"{name}: input must be a Tensor or PackedSequence, got {type(input).__name__}"
        )
    _check_float(name, input)
    if input.dim() not in (2, 3):
        raise ValueError(
            f"{name}: expected input of 3 dimensions (T, B, {input_size}) or 2 unbatched "
            f"(T, {input_size}), got {shape_str(input.shape)}"
        )
    unbatched = input.dim() == 2
    if input.shape[-1] != input_size:
        want = (
            f"(T, {input_size})"
            if unbatched
            else (f"(B, T, {input_size})" if batch_first else f"(T, B, {input_size})")
        )
        raise ValueError(f"{name}: expected input of size {want}, got {shape_str(input.shape)}")
    if unbatched:
        x = input.unsqueeze(1)  # (T, 1, I)
    elif batch_first:
        x = input.transpose(0, 1)  # (T, B, I)
    else:
        x = input
    T, B = x.shape[:2]
    if T == 0:
        layout = "(T, I)" if unbatched else ("(B, T, I)" if batch_first else "(T, B, I)")
        raise ValueError(
            f"{name}: the input has no time steps: got {shape_str(input.shape)} as {layout}; "
            "a sequence needs at least one step"
        )
    lens: Tensor | None = None
    if lengths is not None:
        lens = torch.as_tensor(lengths, device=x.device)
        if (
            lens.dtype.is_floating_point
            or lens.dtype == torch.bool
            or lens.dim() != 1
            or lens.shape[0] != B
        ):
            raise ValueError(
                f"{name}: lengths must be {B} integers (one per row), got {lens.dtype} "
                f"of shape {shape_str(lens.shape)}"
            )
        lens = lens.long()
        if B and (int(lens.min()) < 0 or int(lens.max()) > T):
            raise ValueError(
                f"{name}: lengths must lie in [0, {T}] for an input of {T} steps, "
                f"got values in [{int(lens.min())}, {int(lens.max())}]"
            )
    return Prepared(x, lens, None, unbatched)


def check_step_input(name: str, input: Tensor, input_size: int) -> tuple[Tensor, bool]:
    """Validate one time step's input, ``(B, I)`` or unbatched ``(I,)``; returns ``(x (B, I), unbatched)``."""
    if not isinstance(input, Tensor):
        raise ValueError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    _check_float(name, input)
    if input.dim() not in (1, 2) or input.shape[-1] != input_size:
        raise ValueError(
            f"{name}: expected input of size (B, {input_size}) or ({input_size},), "
            f"got {shape_str(input.shape)}"
        )
    unbatched = input.dim() == 1
    return (input.unsqueeze(0) if unbatched else input), unbatched


def _check_float(name: str, t: Tensor) -> None:
    if not t.dtype.is_floating_point:
        raise ValueError(
            f"{name}: expected a floating-point input, got {t.dtype} "
            "(token ids go through an embedding or one-hot encoding first)"
        )


def check_state(
    name: str,
    hx: tuple[Tensor, ...],
    state_names: Sequence[str],
    shapes: Sequence[tuple[int, ...]],
    x: Tensor,
) -> None:
    """Raise a ValueError naming the state entry when ``hx`` does not match the expected shapes."""
    for h, n, shape in zip(hx, state_names, shapes, strict=True):
        if not isinstance(h, Tensor):
            raise ValueError(f"{name}: {n}_0 must be a Tensor, got {type(h).__name__}")
        if tuple(h.shape) != tuple(shape):
            raise ValueError(
                f"{name}: expected {n}_0 of shape {shape_str(shape)}, got {shape_str(h.shape)}"
            )
        if h.dtype != x.dtype:
            raise ValueError(f"{name}: {n}_0 has dtype {h.dtype} but the input has {x.dtype}")


def repack(output: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a padded time-major output exactly as ``like`` was packed (same order and batch sizes)."""
    order = like.sorted_indices
    if order is None:
        data = pack_padded_sequence(output, _lengths(like), enforce_sorted=True).data
    else:
        data = pack_padded_sequence(
            output[:, order], _lengths(like)[order.cpu()], enforce_sorted=True
        ).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def _lengths(p: PackedSequence) -> Tensor:
    """Per-row lengths of a packed sequence, in the caller's row order."""
    bs = p.batch_sizes  # (T,) rows alive at each step, descending
    sorted_lengths = (bs[None, :] > torch.arange(int(bs[0]))[:, None]).sum(1)
    if p.unsorted_indices is None:
        return sorted_lengths
    return sorted_lengths[p.unsorted_indices.cpu()]
