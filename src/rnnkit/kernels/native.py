"""PyTorch's own fused recurrent kernels (oneDNN on CPU, cuDNN on GPU), for the exact configurations
``torch.nn`` supports: Elman tanh/ReLU, LSTM (with ``proj_size``) and GRU with ``reset_after=True``.

We call the same entry points ``torch.nn.RNN/LSTM/GRU`` call (``torch._VF``), with the weights in the
same order, so a drop-in user gets the same numbers and the same speed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..cells.base import CellMath, State, Weights
from .reference import SequenceResult

__all__ = [
    "NativeMode",
    "native_cell_step",
    "run_native",
    "run_native_layer",
    "run_native_packed",
]

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


def run_native_layer(
    mode: NativeMode,
    cell: CellMath,
    x: Tensor,
    state: State,
    w: Weights,
    mask: Tensor | None = None,
    drop: Sequence[Tensor | None] | None = None,
    keep_steps: bool = False,
) -> SequenceResult:
    """One layer in one direction through torch's kernel, as a :func:`run_stack` kernel (bind
    ``mode`` first), for when every step's state is wanted: torch returns ``h_t`` at every step,
    and an LSTM's ``c_t`` follows from the equations — the gates from ``x_t`` and ``h_{t-1}`` in
    two GEMMs over all steps, then ``c_t = f ⊙ c_{t-1} + i ⊙ g`` elementwise, step by step.

    Arguments as for :func:`~rnnkit.kernels.reference.run_reference` (no recurrent dropout: torch's
    kernel has none).
    """
    assert drop is None or all(m is None for m in drop)
    bias = "bias_ih" in w
    lengths = None if mask is None else mask[:, :, 0].sum(0)  # (B,)
    flat = [w[name] for name in cell.weight_specs(bias)]  # torch's order
    hx = tuple(s[None] for s in state)  # (1, B, size)
    out, final = run_native(mode, x, hx, flat, bias, 1, 0.0, False, False, lengths=lengths)
    result = SequenceResult(out, tuple(f[0] for f in final), None)
    if not keep_steps:
        return result
    if mode != "lstm":
        return result._replace(steps=(out,))
    H = cell.hidden_size
    h_prev = torch.cat([state[0][None], out[:-1]])  # (T, B, P or H): h_{t-1} at each valid step
    gx = F.linear(x, w["weight_ih"], w.get("bias_ih")) + F.linear(
        h_prev, w["weight_hh"], w.get("bias_hh")
    )  # (T, B, 4H), gate order i, f, g, o
    i, f, g = torch.sigmoid(gx[..., :H]), torch.sigmoid(gx[..., H : 2 * H]), gx[..., 2 * H : 3 * H]
    g = torch.tanh(g)
    c, cs = state[1], []
    for t in range(x.shape[0]):
        new = f[t] * c + i[t] * g[t]  # (B, H)
        if mask is not None:
            c, new = torch.where(mask[t], new, c), torch.where(mask[t], new, torch.zeros_like(new))
        else:
            c = new
        cs.append(new)
    steps = torch.stack(cs) if cs else x.new_zeros((0, x.shape[1], H))
    return result._replace(steps=(out, steps))
