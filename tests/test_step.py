"""The step API: stepping a layer through a sequence gives ``forward``'s outputs and final state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import rnnkit

I, H, T = 3, 5, 6
LAYERS: dict[str, Callable[[], nn.Module]] = {
    "lstm": lambda: rnnkit.LSTM(I, H, num_layers=2),
    "lstm-proj": lambda: rnnkit.LSTM(I, H, num_layers=2, proj_size=2),
    "lstm-peephole-learn-init": lambda: rnnkit.LSTM(I, H, peephole=True, learn_init=True),
    "gru": lambda: rnnkit.GRU(I, H, num_layers=2),
    "gru-reset-before": lambda: rnnkit.GRU(I, H, reset_after=False),
    "rnn-tanh": lambda: rnnkit.RNN(I, H),
    "rnn-relu": lambda: rnnkit.RNN(I, H, nonlinearity="relu", num_layers=2),
    "jordan": lambda: rnnkit.JordanRNN(I, H, 2, hidden_to_hidden=True, num_layers=2),
}


def entries(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("name", list(LAYERS))
def test_stepping_equals_the_full_sequence(name: str, unbatched: bool) -> None:
    torch.manual_seed(0)
    layer = LAYERS[name]().eval()
    if "learn-init" in name:
        with torch.no_grad():
            for p in (layer.h0, layer.c0):
                p.uniform_(-0.5, 0.5)
    x = torch.randn(T, I) if unbatched else torch.randn(T, 4, I)
    with torch.no_grad():
        out, h_n = layer(x)
        state, ys = None, []
        for t in range(T):
            y, state = layer.step(x[t], state)
            ys.append(y)
    torch.testing.assert_close(torch.stack(ys), out)
    for a, b in zip(entries(state), entries(h_n), strict=True):
        torch.testing.assert_close(a, b)


def test_step_from_a_given_state_and_gradients_flow() -> None:
    lstm = rnnkit.LSTM(I, H, coupled=True)
    x = torch.randn(2, 4, I)
    h0 = (torch.randn(1, 4, H), torch.randn(1, 4, H))
    out, _ = lstm(x, h0)
    y0, state = lstm.step(x[0], h0)
    y1, _ = lstm.step(x[1], state)
    torch.testing.assert_close(torch.stack([y0, y1]), out)
    y1.sum().backward()
    assert lstm.weight_hh_l0.grad is not None


def test_stateful_step_carries_its_state() -> None:
    torch.manual_seed(0)
    gru = rnnkit.GRU(I, H, stateful=True).eval()
    ref = rnnkit.GRU(I, H).eval()
    ref.load_state_dict(gru.state_dict())
    x = torch.randn(3, 2, I)
    with torch.no_grad():
        ys = [gru.step(x[t])[0] for t in range(3)]
        out, _ = ref(x)
    torch.testing.assert_close(torch.stack(ys), out)


def test_step_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="unidirectional"):
        rnnkit.LSTM(I, H, bidirectional=True).step(torch.randn(2, I))
    with pytest.raises(
        ValueError, match=r"expected input of size \(B, 3\) or \(3,\), got \(2, 4\)"
    ):
        rnnkit.GRU(I, H).step(torch.randn(2, 4))
    with pytest.raises(ValueError, match="floating-point"):
        rnnkit.RNN(I, H).step(torch.ones(2, I, dtype=torch.long))
    with pytest.raises(ValueError, match=r"h_0 of shape \(1, 2, 5\)"):
        rnnkit.RNN(I, H).step(torch.randn(2, I), torch.zeros(1, 3, H))
