"""Per-step gate values (``return_gates=True``) equal the reference cell's, step by step, for every
family and variant, on every kernel path."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import rnnkit
from rnnkit.layers import SequenceModule

F64 = {"dtype": torch.float64}

LAYERS: dict[str, Callable[[bool], SequenceModule]] = {
    "lstm": lambda bi: rnnkit.LSTM(3, 4, 2, bidirectional=bi, **F64),
    "lstm_peephole": lambda bi: rnnkit.LSTM(3, 4, 2, bidirectional=bi, peephole=True, **F64),
    "lstm_cifg": lambda bi: rnnkit.LSTM(3, 4, 2, bidirectional=bi, coupled=True, **F64),
    "lstm_cifg_peephole": lambda bi: rnnkit.LSTM(
        3, 4, 2, bidirectional=bi, coupled=True, peephole=True, **F64
    ),
    "lstm_proj": lambda bi: rnnkit.LSTM(3, 4, 2, bidirectional=bi, proj_size=2, **F64),
    "gru": lambda bi: rnnkit.GRU(3, 4, 2, bidirectional=bi, **F64),
    "gru_reset_before": lambda bi: rnnkit.GRU(3, 4, 2, bidirectional=bi, reset_after=False, **F64),
    "gru_hard_sigmoid": lambda bi: rnnkit.GRU(
        3, 4, 2, bidirectional=bi, recurrent_activation="hard_sigmoid_keras3", **F64
    ),
    "recurrent_gru_cell": lambda bi: rnnkit.Recurrent(
        rnnkit.GRUCell(3, 4, reset_after=False, **F64), 2, bidirectional=bi
    ),
}


def gates_by_hand(layer: SequenceModule, x: Tensor, lengths: list[int]) -> dict[str, Tensor]:
    """Step each layer's cell math row by row over its valid steps, keeping its gates."""
    T, B = x.shape[:2]
    D = layer.num_directions
    names = layer.cells[0].gate_names
    per_ld: list[dict[str, Tensor]] = []
    for l, cell in enumerate(layer.cells):
        outs = []
        for d in range(D):
            w = layer.weights(l, d)
            out = x.new_zeros(T, B, cell.output_size)
            gates = {n: x.new_zeros(T, B, cell.hidden_size) for n in names}
            for b in range(B):
                state = tuple(x.new_zeros(1, s) for s in cell.state_sizes)
                order = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for t in order:
                    state, g = cell.step_with_gates(x[t, b : b + 1], state, w)
                    out[t, b] = state[0][0]
                    for n in names:
                        gates[n][t, b] = g[n][0]
            outs.append(out)
            per_ld.append(gates)
        x = torch.cat(outs, dim=-1)
    return {n: torch.stack([g[n] for g in per_ld]) for n in names}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("backend", ["auto", "native", "reference"])
def test_gates_equal_the_reference_cells_step_by_step(
    name: str, bidirectional: bool, backend: str
) -> None:
    torch.manual_seed(0)
    layer = LAYERS[name](bidirectional)
    if backend == "native" and layer.variant_reason() is not None:
        pytest.skip("torch has no kernel for this variant")
    layer.backend = backend
    x = torch.randn(5, 3, 3, **F64)
    lengths = [5, 3, 0]
    out, _, gates = layer(x, lengths=lengths, return_gates=True)
    want = gates_by_hand(layer, x, lengths)
    assert list(gates) == list(layer.cells[0].gate_names)
    for n, g in want.items():
        assert gates[n].shape == (layer.num_layers * layer.num_directions, 5, 3, 4)
        torch.testing.assert_close(gates[n], g, msg=f"gate {n}")
    torch.testing.assert_close(out, layer(x, lengths=lengths)[0])  # gates change nothing else


def test_gate_names_and_what_the_variants_give() -> None:
    x = torch.randn(4, 2, 3)
    _, _, g = rnnkit.LSTM(3, 5, coupled=True)(x, return_gates=True)
    assert list(g) == ["i", "f", "g", "o"]
    torch.testing.assert_close(g["i"], 1 - g["f"])  # CIFG: the input gate is 1 - f
    _, _, g = rnnkit.GRU(3, 5)(x, return_gates=True)
    assert list(g) == ["r", "z", "n"]
    for layer in (rnnkit.RNN(3, 5), rnnkit.JordanRNN(3, 5, 2)):  # gateless cells
        assert layer(x, return_gates=True)[2] == {}


def test_gates_with_states_layouts_and_training() -> None:
    lstm = rnnkit.LSTM(3, 4, batch_first=True, recurrent_dropout=0.3, input_dropout=0.2)
    x = torch.randn(2, 5, 3)
    _, _, (hs, cs), gates = lstm(x, return_states=True, return_gates=True)
    assert hs.shape == (1, 2, 5, 4) and gates["f"].shape == (1, 2, 5, 4)
    # the states follow from the gates exactly as the equations say, dropout masks and all
    c_prev = torch.cat([torch.zeros(1, 2, 1, 4), cs[:, :, :-1]], dim=2)
    torch.testing.assert_close(cs, gates["f"] * c_prev + gates["i"] * gates["g"])
    torch.testing.assert_close(hs, gates["o"] * torch.tanh(cs))
    _, _, g1 = rnnkit.GRU(3, 4)(torch.randn(5, 3), return_gates=True)  # unbatched (T, I)
    assert g1["z"].shape == (1, 5, 4)


def test_native_backend_gives_states_and_gates_layer_by_layer() -> None:
    lstm = rnnkit.LSTM(3, 4, 2, bidirectional=True, proj_size=2, backend="native")
    ref = rnnkit.LSTM(3, 4, 2, bidirectional=True, proj_size=2, backend="reference")
    ref.load_state_dict(lstm.state_dict())
    x, lengths = torch.randn(6, 3, 3), [6, 2, 4]
    got = lstm(x, lengths=lengths, return_states=True, return_gates=True)
    want = ref(x, lengths=lengths, return_states=True, return_gates=True)
    for a, b in zip(got[2], want[2], strict=True):
        torch.testing.assert_close(a, b)
    for n in "ifgo":
        torch.testing.assert_close(got[3][n], want[3][n])
    with pytest.raises(ValueError, match="backend='native' cannot run reset_after=False"):
        rnnkit.GRU(3, 4, reset_after=False, backend="native")(x, return_gates=True)
