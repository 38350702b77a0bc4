"""Layer options beyond torch.nn: variable lengths with zero-length rows, per-step states, variational
dropout, learned and carried (stateful) initial states, initialisers, regularisers, bad input."""

from __future__ import annotations

import warnings

import pytest
import torch

import rnnkit
from rnnkit.kernels import reverse_padded


def test_zero_length_rows_give_zero_output_and_the_initial_state() -> None:
    for backend in ("auto", "reference"):
        lstm = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, backend=backend)
        x = torch.randn(5, 3, 3)
        h0, c0 = torch.randn(4, 3, 4), torch.randn(4, 3, 4)
        out, (h_n, c_n) = lstm(x, (h0, c0), lengths=[5, 0, 2])
        assert torch.all(out[:, 1] == 0) and torch.all(out[2:, 2] == 0)
        torch.testing.assert_close(h_n[:, 1], h0[:, 1])
        torch.testing.assert_close(c_n[:, 1], c0[:, 1])
        # the rows with steps equal running them alone
        solo, (h_solo, _) = lstm(x[:2, 2:3], (h0[:, 2:3], c0[:, 2:3]))
        torch.testing.assert_close(out[:2, 2:3], solo)
        torch.testing.assert_close(h_n[:, 2:3], h_solo)


def test_reverse_padded_is_an_involution_within_lengths() -> None:
    x = torch.arange(12.0).reshape(4, 3, 1)
    lengths = torch.tensor([4, 2, 0])
    r = reverse_padded(x, lengths)
    assert r[:, 0, 0].tolist() == [9.0, 6.0, 3.0, 0.0]
    assert r[:, 1, 0].tolist() == [4.0, 1.0, 7.0, 10.0]  # padding stays where it was
    torch.testing.assert_close(reverse_padded(r, lengths), x)


def test_return_states_per_layer_and_direction() -> None:
    lstm = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 3)
    out, (_, c_n), (hs, cs) = lstm(x, lengths=[5, 3], return_states=True)
    assert hs.shape == (4, 2, 5, 4) and cs.shape == (4, 2, 5, 4)
    torch.testing.assert_close(hs[2], out[..., :4])  # top layer, forward direction
    torch.testing.assert_close(hs[3], out[..., 4:])  # top layer, backward direction
    torch.testing.assert_close(cs[0, 1, 2], c_n[0, 1])  # forward final state at the last valid step
    torch.testing.assert_close(cs[1, 1, 0], c_n[1, 1])  # backward final state at step 0
    assert torch.all(hs[:, 1, 3:] == 0)


def test_input_dropout_uses_one_mask_per_sequence() -> None:
    """With no recurrence (W_hh = 0) and an input constant in time, each output is constant in time
    exactly when the input mask is the same at every step."""
    rnn = rnnkit.RNN(8, 16, input_dropout=0.5)
    with torch.no_grad():
        rnn.weight_hh_l0.zero_()
    x = torch.randn(1, 4, 8).expand(6, 4, 8)
    rnn.train()
    out, _ = rnn(x)
    torch.testing.assert_close(out, out[:1].expand_as(out))
    rnn.eval()
    ref = rnnkit.RNN(8, 16)
    ref.load_state_dict(rnn.state_dict())
    torch.testing.assert_close(rnn(x)[0], ref(x)[0])  # inactive in eval mode


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.GRU, rnnkit.RNN])
def test_recurrent_dropout_masks_the_recurrent_input_with_a_fixed_mask(cls: type) -> None:
    layer = cls(3, 4, recurrent_dropout=0.4, input_dropout=0.2, num_layers=2).train()
    x = torch.randn(5, 2, 3)
    torch.manual_seed(7)
    out, _ = layer(x)
    torch.manual_seed(7)
    in_masks, rec_masks = layer._dropout_masks(2, x)
    h = x
    for l in range(2):
        state = tuple(torch.zeros(2, s) for s in layer.cells[l].state_sizes)
        steps = []
        for t in range(5):
            state = layer.cells[l].step(
                h[t] * in_masks[l][0], state, layer.weights(l, 0), rec_masks[l][0]
            )
            steps.append(state[0])
        h = torch.stack(steps)
    torch.testing.assert_close(out, h)


def test_learned_initial_state() -> None:
    lstm = rnnkit.LSTM(3, 4, num_layers=2, learn_init=True)
    assert lstm.h0.shape == (2, 4) and lstm.c0.shape == (2, 4)
    with torch.no_grad():
        lstm.h0.normal_()
        lstm.c0.normal_()
    x = torch.randn(5, 3, 3)
    out, _ = lstm(x)
    h0 = lstm.h0[:, None].expand(2, 3, 4)
    c0 = lstm.c0[:, None].expand(2, 3, 4)
    torch.testing.assert_close(out, lstm(x, (h0.contiguous(), c0.contiguous()))[0])
    out.sum().backward()
    assert lstm.h0.grad is not None and lstm.h0.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_stateful_carries_and_resets_rows(backend: str) -> None:
    gru = rnnkit.GRU(3, 4, stateful=True, backend=backend)
    x = torch.randn(8, 2, 3)
    ref = rnnkit.GRU(3, 4)
    ref.load_state_dict(gru.state_dict())
    full, h_full = ref(x)
    first, _ = gru(x[:4])
    second, h_n = gru(x[4:])
    torch.testing.assert_close(torch.cat([first, second]), full)
    torch.testing.assert_close(h_n, h_full)
    assert not gru._carry[0].requires_grad  # detached: truncated BPTT
    gru.reset_state(torch.tensor([True, False]))
    third, _ = gru(x[4:])
    torch.testing.assert_close(third[:, 0], ref(x[4:, :1])[0][:, 0])  # row 0 starts afresh
    torch.testing.assert_close(third[:, 1], ref(x[4:, 1:], h_n[:, 1:])[0][:, 0])  # row 1 goes on
    with pytest.raises(ValueError, match="carried state is for a batch of 2 rows, got 3"):
        gru(torch.randn(2, 3, 3))
    gru.reset_state()
    assert gru(torch.randn(2, 3, 3))[0].shape == (2, 3, 4)


def test_initializers_and_regularizers() -> None:
    lstm = rnnkit.LSTM(
        5,
        4,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=rnnkit.L2(0.1),
        recurrent_regularizer="l1",
        activity_regularizer=rnnkit.L1(0.5),
    )
    W = lstm.weight_hh_l0.detach()  # (4H, H): orthonormal columns
    torch.testing.assert_close(W.T @ W, torch.eye(4), atol=1e-5, rtol=0)
    assert torch.all(lstm.bias_ih_l0 == 0)
    limit = (6 / (5 + 16)) ** 0.5
    assert lstm.weight_ih_l0.abs().max() <= limit
    out, _ = lstm(torch.randn(3, 2, 5))
    expected = (
        0.1 * lstm.weight_ih_l0.pow(2).sum()
        + 0.01 * lstm.weight_hh_l0.abs().sum()
        + 0.5 * out.abs().sum()
    )
    torch.testing.assert_close(lstm.regularization_loss(), expected)
    with pytest.raises(ValueError, match="kernel_initializer='he'"):
        rnnkit.LSTM(5, 4, kernel_initializer="he")


def test_use_bias_is_kerass_name_for_bias() -> None:
    assert "bias_ih_l0" not in dict(rnnkit.GRU(3, 4, use_bias=False).named_parameters())


def test_native_backend_refuses_a_variant_and_auto_warns_once() -> None:
    with pytest.raises(ValueError, match="peephole=True"):
        rnnkit.LSTM(3, 4, peephole=True, backend="native")(torch.randn(2, 1, 3))
    # a user callable has no known derivative, so only the reference loop can run it: warn once
    lstm = rnnkit.LSTM(3, 4, activation=lambda v: torch.tanh(v) * 0.5)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        lstm(torch.randn(2, 1, 3))
        lstm(torch.randn(2, 1, 3))
    slow = [r for r in record if issubclass(r.category, rnnkit.SlowPathWarning)]
    assert len(slow) == 1
    assert "activation" in str(slow[0].message)


BAD = [
    (lambda m: m(torch.randn(5, 2, 3, 1)), "expected input of 3 dimensions"),
    (lambda m: m(torch.randn(5, 2, 7)), r"expected input of size \(T, B, 3\), got \(5, 2, 7\)"),
    (lambda m: m(torch.randint(0, 3, (5, 2, 3))), "floating-point input, got torch.int64"),
    (
        lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 3, 4))),
        r"expected c_0 of shape \(1, 2, 4\), got \(1, 3, 4\)",
    ),
    (lambda m: m(torch.randn(5, 2, 3), torch.zeros(1, 2, 4)), r"hx must be a tuple \(h_0, c_0\)"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[5, 6]), r"lengths must lie in \[0, 5\]"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[5]), "lengths must be 2 integers"),
    (lambda m: m(torch.randn(5, 2, 3), lengths=[5.0, 2.0]), "lengths must be 2 integers"),
    (lambda m: m(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4, dtype=torch.float64),) * 2), "dtype"),
    (lambda m: m([1, 2, 3]), "input must be a Tensor"),
]


@pytest.mark.parametrize(("call", "message"), BAD)
def test_bad_input_names_the_layer_and_the_shapes(call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=f"^LSTM: .*{message}"):
        call(rnnkit.LSTM(3, 4))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rnnkit.LSTM(3, 4, dropout=1.5), "dropout must be a probability"),
        (
            lambda: rnnkit.LSTM(3, 4, recurrent_dropout=1.0),
            "recurrent_dropout must be a probability",
        ),
        (lambda: rnnkit.LSTM(3, 4, proj_size=4), "proj_size"),
        (lambda: rnnkit.GRU(0, 4), "input_size must be a positive integer"),
        (lambda: rnnkit.RNN(3, 4, nonlinearity="swish"), "nonlinearity='swish' is unknown"),
        (lambda: rnnkit.LSTM(3, 4, backend="cuda"), "backend='cuda' is unknown"),
    ],
)
def test_bad_constructor_arguments(make, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make()


def test_cell_bad_input() -> None:
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of size \(B, 3\)"):
        rnnkit.LSTMCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell: expected h of shape \(2, 4\), got \(2, 5\)"):
        rnnkit.GRUCell(3, 4)(torch.randn(2, 3), torch.randn(2, 5))


def test_layers_pickle_and_deepcopy() -> None:
    import copy
    import pickle

    lstm = rnnkit.LSTM(3, 4, peephole=True, recurrent_activation="hard_sigmoid_keras2")
    x = torch.randn(5, 2, 3)
    for twin in (pickle.loads(pickle.dumps(lstm)), copy.deepcopy(lstm)):
        assert twin.cells == lstm.cells
        torch.testing.assert_close(twin(x)[0], lstm(x)[0])
