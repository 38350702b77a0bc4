"""Finite-difference gradient checks in float64 for every cell, variant and layer option
(reference kernel: autograd through the equations as written)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.func import functional_call

import rnnkit

T, B, I, H = 3, 2, 3, 4

VARIANTS: dict[str, tuple[type, dict[str, Any]]] = {
    "rnn_tanh": (rnnkit.RNN, {}),
    "rnn_relu": (rnnkit.RNN, {"nonlinearity": "relu"}),
    "rnn_softsign": (rnnkit.RNN, {"nonlinearity": "softsign"}),
    "lstm": (rnnkit.LSTM, {}),
    "lstm_peephole": (rnnkit.LSTM, {"peephole": True}),
    "lstm_cifg": (rnnkit.LSTM, {"coupled": True}),
    "lstm_cifg_peephole": (rnnkit.LSTM, {"coupled": True, "peephole": True}),
    "lstm_proj": (rnnkit.LSTM, {"proj_size": 2}),
    "lstm_peephole_proj": (rnnkit.LSTM, {"peephole": True, "proj_size": 2}),
    "lstm_hard_keras2": (rnnkit.LSTM, {"recurrent_activation": "hard_sigmoid_keras2"}),
    "lstm_hard_keras3": (
        rnnkit.LSTM,
        {"recurrent_activation": "hard_sigmoid_keras3", "activation": "softsign"},
    ),
    "lstm_relu": (rnnkit.LSTM, {"activation": "relu", "unit_forget_bias": True}),
    "gru": (rnnkit.GRU, {}),
    "gru_reset_before": (rnnkit.GRU, {"reset_after": False}),
    "gru_reset_before_nobias": (rnnkit.GRU, {"reset_after": False, "bias": False}),
    "jordan": (rnnkit.JordanRNN, {}),
    "jordan_all": (rnnkit.JordanRNN, {"hidden_to_hidden": True, "output_to_output": True}),
    "jordan_o2o_only": (rnnkit.JordanRNN, {"output_to_hidden": False, "output_to_output": True}),
    "jordan_h2h_only": (
        rnnkit.JordanRNN,
        {"output_to_hidden": False, "hidden_to_hidden": True, "output_activation": "sigmoid"},
    ),
}

LAYOUTS = {
    "plain": {},
    "stacked_bidir": {"num_layers": 2, "bidirectional": True},
    "learn_init": {"learn_init": True},
}


def build(variant: str, layout: str) -> torch.nn.Module:
    cls, kw = VARIANTS[variant]
    args = (I, H, 2) if cls is rnnkit.JordanRNN else (I, H)
    torch.manual_seed(1)
    return cls(*args, dtype=torch.float64, backend="reference", **kw, **LAYOUTS[layout])


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradcheck(variant: str, layout: str) -> None:
    layer = build(variant, layout)
    if layout == "learn_init":
        with torch.no_grad():
            for name, p in layer.named_parameters():
                if name.endswith("0") and not name[-2:].startswith("l"):
                    p.normal_()
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 1])  # exercises the masking as well

    def f(x: torch.Tensor, *ps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, h_n = functional_call(
            layer, dict(zip(names, ps, strict=True)), (x,), {"lengths": lengths}
        )
        finals = h_n if isinstance(h_n, tuple) else (h_n,)
        return (out, *finals)

    # every element of every Jacobian for one layer; random directions (fast mode) for bigger stacks
    fast = layout != "plain"
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-6, fast_mode=fast)


@pytest.mark.parametrize("variant", ["lstm_peephole", "gru_reset_before", "jordan_all", "rnn_tanh"])
def test_gradcheck_initial_state(variant: str) -> None:
    layer = build(variant, "stacked_bidir")
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    sizes = layer.cells[0].state_sizes
    hx = tuple(torch.randn(4, B, s, dtype=torch.float64, requires_grad=True) for s in sizes)

    def f(x: torch.Tensor, *hx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, h_n = layer(x, hx if len(hx) > 1 else hx[0])
        return (out, *(h_n if isinstance(h_n, tuple) else (h_n,)))

    assert torch.autograd.gradcheck(f, (x, *hx), eps=1e-6, atol=1e-6, fast_mode=True)
