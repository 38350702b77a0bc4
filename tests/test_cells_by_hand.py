"""Cells torch.nn lacks, checked against numbers worked out by hand (scalar arithmetic, H = I = 1),
and properties that tie the variants to the vanilla cells."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit
from rnnkit.activations import get_activation


def sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def set_weights(layer: torch.nn.Module, **values: list[float]) -> None:
    with torch.no_grad():
        for name, v in values.items():
            getattr(layer, name).copy_(
                torch.tensor(v, dtype=torch.float64).reshape(getattr(layer, name).shape)
            )


XS = [0.5, -1.0, 2.0]


def test_peephole_lstm_by_hand() -> None:
    lstm = rnnkit.LSTM(1, 1, peephole=True, dtype=torch.float64, backend="reference")
    set_weights(
        lstm,
        weight_ih_l0=[0.1, 0.2, 0.3, 0.4],
        weight_hh_l0=[-0.1, 0.5, 0.2, -0.3],
        bias_ih_l0=[0.0, 1.0, 0.0, 0.0],
        bias_hh_l0=[0.05, 0.0, -0.05, 0.1],
        weight_ci_l0=[0.7],
        weight_cf_l0=[-0.4],
        weight_co_l0=[0.9],
    )
    h, c = 0.0, 0.0
    expected = []
    for x in XS:
        i = sig(0.1 * x - 0.1 * h + 0.05 + 0.7 * c)  # peephole on c_{t-1}
        f = sig(0.2 * x + 0.5 * h + 1.0 - 0.4 * c)
        g = math.tanh(0.3 * x + 0.2 * h - 0.05)
        c = f * c + i * g
        o = sig(0.4 * x - 0.3 * h + 0.1 + 0.9 * c)  # peephole on c_t
        h = o * math.tanh(c)
        expected.append(h)
    out, (_, c_n) = lstm(torch.tensor(XS, dtype=torch.float64).reshape(3, 1, 1))
    assert out.flatten().tolist() == pytest.approx(expected, abs=1e-14)
    assert c_n.item() == pytest.approx(c, abs=1e-14)


def test_coupled_lstm_by_hand() -> None:
    lstm = rnnkit.LSTM(1, 1, coupled=True, dtype=torch.float64, backend="reference")
    assert lstm.weight_ih_l0.shape == (3, 1)  # f, g, o: the input gate rows do not exist
    set_weights(
        lstm,
        weight_ih_l0=[0.2, 0.3, 0.4],
        weight_hh_l0=[0.5, 0.2, -0.3],
        bias_ih_l0=[1.0, 0.0, 0.0],
        bias_hh_l0=[0.0, -0.05, 0.1],
    )
    h, c = 0.0, 0.0
    for x in XS:
        f = sig(0.2 * x + 0.5 * h + 1.0)
        i = 1.0 - f  # coupled input and forget gates
        g = math.tanh(0.3 * x + 0.2 * h - 0.05)
        c = f * c + i * g
        h = sig(0.4 * x - 0.3 * h + 0.1) * math.tanh(c)
    _, (h_n, c_n) = lstm(torch.tensor(XS, dtype=torch.float64).reshape(3, 1, 1))
    assert (h_n.item(), c_n.item()) == pytest.approx((h, c), abs=1e-14)


def test_hard_sigmoid_lstm_by_hand() -> None:
    lstm = rnnkit.LSTM(1, 1, recurrent_activation="hard_sigmoid_keras2", dtype=torch.float64)
    set_weights(
        lstm,
        weight_ih_l0=[1.0, 2.0, 0.5, -1.0],
        weight_hh_l0=[0.0, 0.0, 0.0, 0.0],
        bias_ih_l0=[0.0] * 4,
        bias_hh_l0=[0.0] * 4,
    )
    x = 1.0
    i, f, o = (
        0.2 * 1.0 + 0.5,
        min(1.0, 0.2 * 2.0 + 0.5),
        max(0.0, 0.2 * -1.0 + 0.5),
    )  # 0.7, 0.9, 0.3
    c = f * 0.0 + i * math.tanh(0.5 * x)  # c_0 = 0
    _, (h_n, c_n) = lstm(torch.tensor([[[x]]], dtype=torch.float64))
    assert (h_n.item(), c_n.item()) == pytest.approx((o * math.tanh(c), c), abs=1e-14)


def test_hard_sigmoids_are_explicit() -> None:
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 1.5, 3.0])
    assert get_activation("hard_sigmoid_keras2")(x).tolist() == pytest.approx(
        [0.0, 0.3, 0.5, 0.7, 0.8, 1.0]
    )
    assert get_activation("hard_sigmoid_keras3")(x).tolist() == pytest.approx(
        [0.0, 1 / 3, 0.5, 2 / 3, 0.75, 1.0]
    )
    torch.testing.assert_close(
        get_activation("hard_sigmoid_keras3")(x), torch.nn.functional.hardsigmoid(x)
    )
    with pytest.raises(ValueError, match="ambiguous"):
        rnnkit.LSTM(1, 1, recurrent_activation="hard_sigmoid")


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_both_forms_by_hand(reset_after: bool) -> None:
    gru = rnnkit.GRU(1, 1, reset_after=reset_after, dtype=torch.float64, backend="reference")
    set_weights(
        gru,
        weight_ih_l0=[0.3, -0.2, 0.8],
        weight_hh_l0=[0.6, 0.4, -0.7],
        bias_ih_l0=[0.1, 0.0, 0.2],
        bias_hh_l0=[0.0, 0.3, 0.5],
    )
    h = 0.25
    for x in XS:
        r = sig(0.3 * x + 0.1 + 0.6 * h)
        z = sig(-0.2 * x + 0.4 * h + 0.3)
        if reset_after:
            n = math.tanh(0.8 * x + 0.2 + r * (-0.7 * h + 0.5))
        else:
            n = math.tanh(0.8 * x + 0.2 + (-0.7 * (r * h) + 0.5))
        h = (1 - z) * n + z * h
    _, h_n = gru(
        torch.tensor(XS, dtype=torch.float64).reshape(3, 1, 1),
        torch.tensor([[[0.25]]], dtype=torch.float64),
    )
    assert h_n.item() == pytest.approx(h, abs=1e-14)


def test_jordan_three_recurrences_by_hand() -> None:
    net = rnnkit.JordanRNN(
        1,
        1,
        1,
        hidden_to_hidden=True,
        output_to_hidden=True,
        output_to_output=True,
        output_activation="identity",
        dtype=torch.float64,
    )
    set_weights(
        net,
        weight_ih_l0=[0.5],
        bias_ih_l0=[0.1],
        weight_hh_l0=[0.3],
        bias_hh_l0=[-0.2],
        weight_yh_l0=[0.7],
        weight_hy_l0=[1.5],
        bias_y_l0=[0.05],
        weight_yy_l0=[-0.6],
    )
    y, h = 0.0, 0.0
    ys = []
    for x in XS:
        h = math.tanh(0.5 * x + 0.1 + 0.3 * h - 0.2 + 0.7 * y)
        y = 1.5 * h + 0.05 - 0.6 * y
        ys.append(y)
    out, (y_n, h_n) = net(torch.tensor(XS, dtype=torch.float64).reshape(3, 1, 1))
    assert out.flatten().tolist() == pytest.approx(ys, abs=1e-14)
    assert (y_n.item(), h_n.item()) == pytest.approx((y, h), abs=1e-14)


def test_jordan_parameter_names() -> None:
    net = rnnkit.JordanRNN(
        3, 4, 2, num_layers=2, bidirectional=True, hidden_to_hidden=True, output_to_output=True
    )
    shapes = {n: tuple(p.shape) for n, p in net.named_parameters()}
    assert shapes["weight_ih_l0"] == (4, 3) and shapes["weight_ih_l1"] == (
        4,
        4,
    )  # layer 1 reads 2*O
    assert shapes["weight_yh_l0_reverse"] == (4, 2) and shapes["weight_hy_l1"] == (2, 4)
    assert (
        shapes["weight_yy_l0"] == (2, 2)
        and shapes["bias_y_l0"] == (2,)
        and shapes["bias_hh_l1"] == (4,)
    )
    with pytest.raises(ValueError, match="at least one"):
        rnnkit.JordanRNN(3, 4, 2, output_to_hidden=False)


def test_peephole_with_zero_peepholes_is_the_plain_lstm() -> None:
    plain = torch.nn.LSTM(4, 5, num_layers=2, bidirectional=True)
    peep = rnnkit.LSTM(4, 5, num_layers=2, bidirectional=True, peephole=True)
    peep.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        for name, p in peep.named_parameters():
            if name.startswith("weight_c"):
                p.zero_()
    x = torch.randn(6, 3, 4)
    (a, (ha, ca)), (b, (hb, cb)) = plain(x), peep(x)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(cb, ca)
    torch.testing.assert_close(hb, ha)


def test_cifg_is_an_lstm_whose_input_gate_is_one_minus_forget() -> None:
    """A plain LSTM step with i replaced by 1 - f, computed from torch.nn.LSTMCell's gate rows."""
    cifg = rnnkit.LSTM(3, 4, coupled=True, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    W, U = cifg.weight_ih_l0, cifg.weight_hh_l0
    b = cifg.bias_ih_l0 + cifg.bias_hh_l0
    h = c = torch.zeros(2, 4, dtype=torch.float64)
    for t in range(5):
        f, g, o = (x[t] @ W.T + h @ U.T + b).chunk(3, 1)
        f = torch.sigmoid(f)
        c = f * c + (1 - f) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    out, _ = cifg(x)
    torch.testing.assert_close(out[-1], h)


def test_jordan_with_only_hidden_recurrence_has_elman_hidden_states() -> None:
    torch.manual_seed(0)
    elman = rnnkit.RNN(3, 4, dtype=torch.float64)
    net = rnnkit.JordanRNN(
        3, 4, 2, hidden_to_hidden=True, output_to_hidden=False, dtype=torch.float64
    )
    net.load_state_dict(elman.state_dict(), strict=False)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    _, _, (_, hs) = net(x, return_states=True)
    torch.testing.assert_close(hs[0], elman(x)[0])


def test_unit_forget_bias() -> None:
    lstm = rnnkit.LSTM(3, 4, unit_forget_bias=True, num_layers=2)
    assert torch.all(lstm.bias_ih_l1[4:8] == 1) and torch.all(lstm.bias_hh_l1[4:8] == 0)
    cifg = rnnkit.LSTM(3, 4, unit_forget_bias=True, coupled=True)
    assert torch.all(cifg.bias_ih_l0[:4] == 1) and torch.all(cifg.bias_hh_l0[:4] == 0)
    with pytest.raises(ValueError, match="bias"):
        rnnkit.LSTM(3, 4, unit_forget_bias=True, bias=False)


@pytest.mark.parametrize(
    ("cls", "cell_cls", "kw"),
    [
        (rnnkit.LSTM, rnnkit.LSTMCell, {"peephole": True}),
        (
            rnnkit.LSTM,
            rnnkit.LSTMCell,
            {"coupled": True, "recurrent_activation": "hard_sigmoid_keras3"},
        ),
        (rnnkit.LSTM, rnnkit.LSTMCell, {}),
        (rnnkit.GRU, rnnkit.GRUCell, {"reset_after": False}),
        (rnnkit.GRU, rnnkit.GRUCell, {}),
        (rnnkit.RNN, rnnkit.RNNCell, {"nonlinearity": "relu"}),
    ],
)
def test_driver_equals_stepping_the_cell_by_hand(
    cls: type, cell_cls: type, kw: dict[str, object]
) -> None:
    layer = cls(3, 4, **kw)
    cell = cell_cls(3, 4, **kw)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, 2, 3)
    state = None
    outs = []
    for t in range(5):
        state = cell(x[t], state)
        outs.append(state[0] if isinstance(state, tuple) else state)
    out, _ = layer(x)
    torch.testing.assert_close(out, torch.stack(outs))


def test_jordan_driver_equals_stepping_the_cell() -> None:
    layer = rnnkit.JordanRNN(3, 4, 2, hidden_to_hidden=True, output_to_output=True)
    cell = rnnkit.JordanCell(3, 4, 2, hidden_to_hidden=True, output_to_output=True)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, 2, 3)
    state = None
    ys = []
    for t in range(5):
        state = cell(x[t], state)
        ys.append(state[0])
    torch.testing.assert_close(layer(x)[0], torch.stack(ys))
