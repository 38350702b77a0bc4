"""rnnkit.RNN/LSTM/GRU and their cells against torch.nn with the same state_dict: outputs, final
states and the gradients of every parameter, the input and the initial state."""

from __future__ import annotations

import itertools

import pytest
import torch
from tests.helpers import assert_same, grads_of
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit

T, B, I, H = 5, 3, 4, 6

FAMILIES = {
    "rnn_tanh": (nn.RNN, rnnkit.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, rnnkit.LSTM, {}),
    "lstmp": (nn.LSTM, rnnkit.LSTM, {"proj_size": 2}),
    "gru": (nn.GRU, rnnkit.GRU, {}),
}


def twins(
    family: str, dtype: torch.dtype, backend: str, **kw: object
) -> tuple[nn.Module, nn.Module]:
    torch_cls, ours_cls, extra = FAMILIES[family]
    torch.manual_seed(0)
    ref = torch_cls(I, H, dtype=dtype, **extra, **kw)  # type: ignore[arg-type]
    ours = ours_cls(I, H, dtype=dtype, backend=backend, **extra, **kw)  # type: ignore[arg-type]
    ours.load_state_dict(ref.state_dict())  # the drop-in contract: unchanged
    return ref, ours


def initial_state(family: str, layers: int, bidir: bool, batch: int, dtype: torch.dtype) -> object:
    n = layers * (2 if bidir else 1)
    out = 2 if family == "lstmp" else H
    h = torch.randn(n, batch, out, dtype=dtype, requires_grad=True)
    if family.startswith("lstm"):
        return (h, torch.randn(n, batch, H, dtype=dtype, requires_grad=True))
    return h


def state_leaves(hx: object) -> list[torch.Tensor]:
    return list(hx) if isinstance(hx, tuple) else [hx]  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("family", "layers", "bidir", "backend", "dtype"),
    list(
        itertools.product(
            FAMILIES, [1, 2], [False, True], ["auto", "reference"], [torch.float32, torch.float64]
        )
    ),
)
def test_full_length_matches_torch(
    family: str, layers: int, bidir: bool, backend: str, dtype: torch.dtype
) -> None:
    ref, ours = twins(family, dtype, backend, num_layers=layers, bidirectional=bidir)
    x = torch.randn(T, B, I, dtype=dtype, requires_grad=True)
    hx = initial_state(family, layers, bidir, B, dtype)
    out_ref, out_ours = ref(x, hx), ours(x, hx)
    assert_same(out_ref, out_ours, dtype)
    g_ref = grads_of(ref, [x, *state_leaves(hx)], out_ref)
    g_ours = grads_of(ours, [x, *state_leaves(hx)], out_ours)
    assert g_ref.keys() == g_ours.keys()
    for name in g_ref:
        torch.testing.assert_close(
            g_ours[name],
            g_ref[name],
            atol=1e-5 if dtype == torch.float32 else 1e-10,
            rtol=1e-4 if dtype == torch.float32 else 1e-10,
            msg=name,
        )


@pytest.mark.parametrize(
    ("family", "backend", "bidir", "form"),
    list(
        itertools.product(
            FAMILIES, ["auto", "reference"], [False, True], ["packed", "packed_sorted", "lengths"]
        )
    ),
)
def test_variable_lengths_match_packed_torch(
    family: str, backend: str, bidir: bool, form: str
) -> None:
    dtype = torch.float64
    ref, ours = twins(family, dtype, backend, num_layers=2, bidirectional=bidir)
    lengths = torch.tensor([5, 4, 2, 1]) if form == "packed_sorted" else torch.tensor([2, 5, 1, 4])
    x = torch.randn(T, 4, I, dtype=dtype, requires_grad=True)
    hx = initial_state(family, 2, bidir, 4, dtype)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=form == "packed_sorted")
    out_ref = ref(packed, hx)
    out_ours = ours(packed, hx) if form != "lengths" else ours(x, hx, lengths=lengths)
    if form == "lengths":  # compare padded outputs with torch's unpacked ones (zeros past the end)
        padded, _ = nn.utils.rnn.pad_packed_sequence(out_ref[0], total_length=T)
        out_ref = (padded, out_ref[1])
    else:
        assert torch.equal(out_ours[0].batch_sizes, out_ref[0].batch_sizes)
    assert_same(out_ref, out_ours, dtype)
    g_ref = grads_of(ref, [x, *state_leaves(hx)], out_ref)
    g_ours = grads_of(ours, [x, *state_leaves(hx)], out_ours)
    for name in g_ref:
        torch.testing.assert_close(g_ours[name], g_ref[name], atol=1e-10, rtol=1e-10, msg=name)


@pytest.mark.parametrize(
    ("family", "backend"), list(itertools.product(FAMILIES, ["auto", "reference"]))
)
def test_batch_first_and_unbatched_match_torch(family: str, backend: str) -> None:
    dtype = torch.float32
    ref, ours = twins(family, dtype, backend, num_layers=2, batch_first=True)
    x = torch.randn(B, T, I)
    assert_same(ref(x), ours(x), dtype)
    ref_u, ours_u = twins(family, dtype, backend, bidirectional=True)
    xu = torch.randn(T, I)
    hx = initial_state(family, 1, True, 1, dtype)
    hx_u = tuple(h.detach()[:, 0] for h in hx) if isinstance(hx, tuple) else hx.detach()[:, 0]
    assert_same(ref_u(xu, hx_u), ours_u(xu, hx_u), dtype)


CELLS = {
    "rnn_tanh": (nn.RNNCell, rnnkit.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNNCell, rnnkit.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTMCell, rnnkit.LSTMCell, {}),
    "gru": (nn.GRUCell, rnnkit.GRUCell, {}),
}


@pytest.mark.parametrize(
    ("family", "bias", "dtype"),
    list(itertools.product(CELLS, [True, False], [torch.float32, torch.float64])),
)
def test_cells_match_torch(family: str, bias: bool, dtype: torch.dtype) -> None:
    torch_cls, ours_cls, extra = CELLS[family]
    ref = torch_cls(I, H, bias=bias, dtype=dtype, **extra)  # type: ignore[arg-type]
    ours = ours_cls(I, H, bias=bias, dtype=dtype, **extra)  # type: ignore[arg-type]
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, I, dtype=dtype, requires_grad=True)
    state = (torch.randn(B, H, dtype=dtype, requires_grad=True),)
    if family == "lstm":
        state = (*state, torch.randn(B, H, dtype=dtype, requires_grad=True))
    hx = state if family == "lstm" else state[0]
    out_ref, out_ours = ref(x, hx), ours(x, hx)
    assert_same(out_ref, out_ours, dtype)
    g_ref, g_ours = grads_of(ref, [x, *state], out_ref), grads_of(ours, [x, *state], out_ours)
    for name in g_ref:
        torch.testing.assert_close(
            g_ours[name],
            g_ref[name],
            **({"atol": 1e-6, "rtol": 1e-5} if dtype == torch.float32 else {}),
        )
    # and the reference step (the math, not torch's fused cell) agrees too
    step = ours.cell.step(x, state, ours.weights())
    assert_same(out_ref, step if family == "lstm" else step[0], dtype)
    # unbatched
    assert_same(ref(x[0]), ours(x[0]), dtype)


def test_bias_false_state_dict_round_trip() -> None:
    ref = nn.LSTM(I, H, num_layers=2, bias=False, bidirectional=True, proj_size=3)
    ours = rnnkit.LSTM(I, H, num_layers=2, bias=False, bidirectional=True, proj_size=3)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(T, B, I)
    assert_same(ref(x), ours(x), torch.float32)
