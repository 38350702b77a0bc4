"""The public driver (rnnkit.Recurrent): any cell module run over sequences equals stepping the cell
by hand in a Python loop, on every kernel path; and the one answer to "can torch run this"."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import rnnkit
from rnnkit.activations import get_activation
from rnnkit.cells import GRUMath, JordanMath, LSTMMath
from rnnkit.kernels import RunRequest, native_blocker, native_mode
from rnnkit.layers import CellModule, Recurrent

F64 = {"dtype": torch.float64}

CELLS: dict[str, Callable[[int], CellModule]] = {
    "rnn_tanh": lambda i: rnnkit.RNNCell(i, 5, **F64),
    "rnn_softsign": lambda i: rnnkit.RNNCell(i, 5, nonlinearity="softsign", **F64),
    "lstm": lambda i: rnnkit.LSTMCell(i, 5, **F64),
    "lstm_peephole": lambda i: rnnkit.LSTMCell(i, 5, peephole=True, **F64),
    "lstm_cifg": lambda i: rnnkit.LSTMCell(i, 5, coupled=True, peephole=True, **F64),
    "lstm_callable": lambda i: rnnkit.LSTMCell(i, 5, activation=lambda v: torch.tanh(v) / 2, **F64),
    "gru": lambda i: rnnkit.GRUCell(i, 5, **F64),
    "gru_reset_before": lambda i: rnnkit.GRUCell(i, 5, reset_after=False, **F64),
    "jordan": lambda i: rnnkit.JordanCell(i, 6, 4, hidden_to_hidden=True, **F64),
}


def by_hand(rnn: Recurrent, x: Tensor, lengths: list[int]) -> tuple[Tensor, list[Tensor]]:
    """Step each cell module row by row over its valid steps: outputs (T, B, D*O), final states."""
    T, B = x.shape[:2]
    D = rnn.num_directions
    finals: list[list[Tensor]] = []  # [l*D + d] -> per state entry (B, size)
    for l in range(rnn.num_layers):
        outs = []
        for d in range(D):
            cell = rnn.cell_modules[l * D + d]
            out = x.new_zeros(T, B, cell.cell.output_size)
            last = [x.new_zeros(B, s) for s in cell.cell.state_sizes]
            for b in range(B):
                state = None
                order = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for t in order:
                    state = cell(x[t, b : b + 1], state)
                    h = state if isinstance(state, Tensor) else state[0]
                    out[t, b] = h[0]
                if state is not None:
                    entries = (state,) if isinstance(state, Tensor) else state
                    for k, e in enumerate(entries):
                        last[k][b] = e[0]
            outs.append(out)
            finals.append(last)
        x = torch.cat(outs, dim=-1)
    return x, [torch.stack([f[k] for f in finals]) for k in range(len(finals[0]))]


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
def test_driver_equals_stepping_the_cell_by_hand(
    name: str, num_layers: int, bidirectional: bool
) -> None:
    torch.manual_seed(0)
    rnn = Recurrent(CELLS[name](3), num_layers=num_layers, bidirectional=bidirectional)
    x = torch.randn(6, 3, 3, **F64)
    lengths = [6, 4, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnnkit.SlowPathWarning)
        out, h_n = rnn(x, lengths=lengths)
    want_out, want_final = by_hand(rnn, x, lengths)
    torch.testing.assert_close(out, want_out)
    for got, want in zip((h_n,) if isinstance(h_n, Tensor) else h_n, want_final, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize(
    ("name", "kernel"),
    [
        ("lstm", "native"),
        ("lstm_peephole", "fused"),
        ("gru_reset_before", "fused"),
        ("jordan", "fused"),
    ],
)
def test_driver_picks_the_layers_kernel(name: str, kernel: str) -> None:
    assert Recurrent(CELLS[name](3))._select_kernel(False) == kernel


def test_driver_batch_first_state_and_options() -> None:
    cell = rnnkit.GRUCell(3, 4)
    rnn = Recurrent(cell, batch_first=True, stateful=True)
    x = torch.randn(2, 5, 3)
    full, h_full = Recurrent(cell, batch_first=True)(x)
    first, _ = rnn(x[:, :2])
    second, h_n = rnn(x[:, 2:])
    torch.testing.assert_close(torch.cat([first, second], 1), full)
    torch.testing.assert_close(h_n, h_full)
    assert dict(rnn.named_parameters()).keys() == {f"cell_l0.{n}" for n in cell.weights()}
    with pytest.raises(ValueError, match="Recurrent: cell must be an rnnkit cell module"):
        Recurrent(torch.nn.GRUCell(3, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Recurrent: num_layers must be a positive integer"):
        Recurrent(cell, num_layers=0)


def test_driver_runs_in_the_classifier() -> None:
    from rnnkit.models.classifier import run_layer

    cell = rnnkit.LSTMCell(3, 4, peephole=True)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 2])
    torch.testing.assert_close(
        run_layer(cell, x, lengths), Recurrent(cell, batch_first=True)(x, lengths=lengths)[0]
    )


TANH, SIGMOID = get_activation("tanh"), get_activation("sigmoid")


@pytest.mark.parametrize(
    ("cell", "run", "reason"),
    [
        (LSTMMath(3, 4, TANH, SIGMOID), None, None),
        (LSTMMath(3, 4, TANH, SIGMOID, proj_size=2), None, None),
        (LSTMMath(3, 4, TANH, SIGMOID, proj_size=2), RunRequest(single_step=True), "proj_size"),
        (LSTMMath(3, 4, TANH, SIGMOID, peephole=True), None, "peephole=True"),
        (LSTMMath(3, 4, TANH, SIGMOID, coupled=True), None, "coupled=True"),
        (LSTMMath(3, 4, get_activation("softsign"), SIGMOID), None, "activation='softsign'"),
        (GRUMath(3, 4, TANH, SIGMOID, reset_after=False), None, "reset_after=False"),
        (
            GRUMath(3, 4, TANH, get_activation("hard_sigmoid_keras2")),
            None,
            "recurrent_activation='hard_sigmoid_keras2'",
        ),
        (JordanMath(3, 4, 2, TANH, TANH), None, "JordanRNN"),
        (
            GRUMath(3, 4, TANH, SIGMOID),
            RunRequest(training=True, recurrent_dropout=0.1),
            "recurrent_dropout",
        ),
        (GRUMath(3, 4, TANH, SIGMOID), RunRequest(training=False, input_dropout=0.1), None),
        (GRUMath(3, 4, TANH, SIGMOID), RunRequest(keep_steps=True), "return_states=True"),
    ],
)
def test_native_blocker_names_the_option(cell, run, reason) -> None:  # type: ignore[no-untyped-def]
    assert native_blocker(cell, run) == reason
    assert (native_mode(cell, run) is None) == (reason is not None)


@pytest.mark.parametrize(
    ("make", "x", "shape"),
    [
        (lambda: rnnkit.LSTM(3, 4), torch.zeros(0, 2, 3), r"\(0, 2, 3\) as \(T, B, I\)"),
        (
            lambda: rnnkit.GRU(3, 4, batch_first=True),
            torch.zeros(2, 0, 3),
            r"\(2, 0, 3\) as \(B, T, I\)",
        ),
        (lambda: rnnkit.RNN(3, 4, backend="reference"), torch.zeros(0, 3), r"\(0, 3\) as \(T, I\)"),
        (lambda: rnnkit.JordanRNN(3, 4, 2), torch.zeros(0, 1, 3), r"\(0, 1, 3\)"),
        (lambda: Recurrent(rnnkit.LSTMCell(3, 4)), torch.zeros(0, 1, 3), r"\(0, 1, 3\)"),
    ],
)
def test_a_zero_length_time_axis_names_the_layer_and_the_shape(make, x, shape) -> None:  # type: ignore[no-untyped-def]
    layer = make()
    with pytest.raises(
        ValueError, match=f"^{type(layer).__name__}: the input has no time steps: got {shape}"
    ):
        layer(x)
