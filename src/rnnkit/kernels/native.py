"""PyTorch's own fused recurrent kernels (oneDNN on CPU, cuDNN on GPU), for the exact configurations
``torch.nn`` supports: Elman tanh/ReLU, LSTM (with ``proj_size``) and GRU with ``reset_after=True``.

We call the same entry points ``torch.nn.RNN/LSTM/GRU`` call (``torch._VF``), with the weights in the
same order, so a drop-in user gets the same numbers and the same speed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..cells.base import State

__all__ = ["NativeMode", "native_cell_step", "run_native", "run_native_packed"]

NativeMode = Literal["lstm", "gru", "rnn_tanh", "rnn_relu"]
_SINGLE_STATE = {
    "gru": torch._VF.gru,
    "rnn_tanh": torch._VF.rnn_tanh,
    "rnn_relu": torch._VF.rnn_relu,
}


def run_native_packed(
    mode: NativeMode,
    data: Tensor,
    batch_sizes: Tensor,
    hx: State,
    weights: Sequence[Tensor],
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[Tensor, State]:
    """Run a stack on packed data; ``hx`` entries ``(L*D, B, size)`` in the packed (sorted) order."""
    w = list(weights)
    if mode == "lstm":
        out, h, c = torch._VF.lstm(
            data, batch_sizes, hx, w, bias, num_layers, dropout, training, bidirectional
        )
        return out, (h, c)
    fn = _SINGLE_STATE[mode]
    out, h = fn(data, batch_sizes, hx[0], w, bias, num_layers, dropout, training, bidirectional)
    return out, (h,)


def run_native(
    mode: NativeMode,
    x: Tensor,
    hx: State,
    weights: Sequence[Tensor],
    bias: bool,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
    lengths: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Run a whole stack on time-major ``x (T, B, I)``; returns ``(T, B, D*O)`` and the final states.

    With ``lengths`` the rows are packed (any order; zero-length rows are left out of the kernel and
    given zero outputs and their initial state back), as ``torch.nn`` does for a PackedSequence.
    """
    if lengths is None:
        w = list(weights)
        if mode == "lstm":
            out, h, c = torch._VF.lstm(
                x, hx, w, bias, num_layers, dropout, training, bidirectional, False
            )
            return out, (h, c)
        fn = _SINGLE_STATE[mode]
        out, h = fn(x, hx[0], w, bias, num_layers, dropout, training, bidirectional, False)
        return out, (h,)

    T, B = x.shape[:2]
    live = lengths > 0
    all_live = bool(live.all())
    if not bool(live.any()):
        out_size = 2 * hx[0].shape[-1] if bidirectional else hx[0].shape[-1]
        return x.new_zeros((T, B, out_size)), hx
    xs, hs, ls = (
        (x, hx, lengths) if all_live else (x[:, live], tuple(h[:, live] for h in hx), lengths[live])
    )
    packed = pack_padded_sequence(xs, ls.cpu(), enforce_sorted=False)
    order = packed.sorted_indices
    assert order is not None and packed.unsorted_indices is not None
    out, finals = run_native_packed(
        mode,
        packed.data,
        packed.batch_sizes,
        tuple(h[:, order] for h in hs),
        weights,
        bias,
        num_layers,
        dropout,
        training,
        bidirectional,
    )
    padded, _ = pad_packed_sequence(
        packed._replace(data=out), total_length=T
    )  # (T, B_live, D*O), back in the caller's row order
    finals = tuple(f[:, packed.unsorted_indices] for f in finals)
    if all_live:
        return padded, finals
    full = padded.new_zeros((T, B, padded.shape[-1]))
    full[:, live] = padded
    merged = tuple(h.clone() for h in hx)
    for m, f in zip(merged, finals, strict=True):
        m[:, live] = f
    return full, merged


_CELL_FNS: dict[str, Callable[..., Tensor]] = {
    "gru": torch.gru_cell,
    "rnn_tanh": torch.rnn_tanh_cell,
    "rnn_relu": torch.rnn_relu_cell,
}


def native_cell_step(mode: NativeMode, x: Tensor, state: State, w: Mapping[str, Tensor]) -> State:
    """One time step with torch's fused cell function (what ``torch.nn.LSTMCell`` etc. call).

    ``x (B, I)``, ``state`` entries ``(B, size)``, ``w`` named as the cell names its weights.
    """
    args = (w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh"))
    if mode == "lstm":
        h, c = torch.lstm_cell(x, list(state), *args)
        return (h, c)
    return (_CELL_FNS[mode](x, state[0], *args),)
