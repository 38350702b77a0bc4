"""The layers on the fused kernels: the same numbers as the reference loop through the whole driver
(layers, directions, lengths with empty rows, dropout, learned initial state, per-step states), the
kernel choice, the one-time warning, and bfloat16 under CPU autocast."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import rnnkit

I, H = 3, 5
LAYERS: dict[str, Callable[..., nn.Module]] = {
    "lstm-peephole": lambda **kw: rnnkit.LSTM(I, H, peephole=True, **kw),
    "lstm-coupled-proj": lambda **kw: rnnkit.LSTM(I, H, coupled=True, proj_size=2, **kw),
    "lstm-standard": lambda **kw: rnnkit.LSTM(I, H, **kw),
    "gru-reset-before": lambda **kw: rnnkit.GRU(I, H, reset_after=False, **kw),
    "gru-standard": lambda **kw: rnnkit.GRU(I, H, **kw),
    "rnn-softsign": lambda **kw: rnnkit.RNN(I, H, nonlinearity="softsign", **kw),
    "rnn-relu": lambda **kw: rnnkit.RNN(I, H, nonlinearity="relu", **kw),
    "jordan-elman-output": lambda **kw: rnnkit.JordanRNN(
        I, H, 2, hidden_to_hidden=True, output_to_output=True, **kw
    ),
}


def twins(name: str, **kw: Any) -> tuple[nn.Module, nn.Module]:
    """The layer on the fused kernel and on the reference loop, with the same weights."""
    torch.manual_seed(0)
    fused = LAYERS[name](backend="fused", **kw)
    ref = LAYERS[name](backend="reference", **kw)
    ref.load_state_dict(fused.state_dict())
    return fused, ref


def leaves(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [t for o in out for t in leaves(o)]


def run_and_grad(layer: nn.Module, x: Tensor, seed: int, **kw: Any) -> list[Tensor]:
    """Outputs, then the gradients of a weighted sum of them w.r.t. the input and every parameter."""
    torch.manual_seed(seed)  # the same dropout masks for both twins
    outs = leaves(layer(x, **kw))
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    params = [x, *layer.parameters()]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [o.detach() for o in outs] + [
        torch.zeros_like(p) if d is None else d for d, p in zip(grads, params, strict=True)
    ]


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_layer_equals_reference(name: str, train: bool) -> None:
    """Two layers, both directions, a zero-length row, a learned initial state; in training mode
    with input, recurrent and between-layer dropout; per-step states returned too."""
    fused, ref = twins(
        name, num_layers=2, bidirectional=True, learn_init=True, batch_first=True,
        dropout=0.3, input_dropout=0.2, recurrent_dropout=0.25,
    )  # fmt: skip
    with torch.no_grad():  # non-zero learned initial states
        for layer in (fused, ref):
            for n, p in layer.named_parameters():
                if n in ("h0", "c0", "y0"):
                    p.copy_(torch.linspace(-0.5, 0.5, p.numel()).view_as(p))
    fused.train(train)
    ref.train(train)
    x = torch.randn(4, 6, I, requires_grad=True)
    kw = {"lengths": [6, 0, 3, 5], "return_states": True}
    got, want = run_and_grad(fused, x, 7, **kw), run_and_grad(ref, x, 7, **kw)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["lstm-peephole", "gru-reset-before", "jordan-elman-output"])
def test_fused_layer_float64_packed(name: str) -> None:
    fused, ref = twins(name, dtype=torch.float64)
    x = torch.randn(5, 3, I, dtype=torch.float64, requires_grad=True)
    packed = nn.utils.rnn.pack_padded_sequence(x, [2, 5, 4], enforce_sorted=False)
    a, b = fused(packed), ref(packed)
    torch.testing.assert_close(a[0].data, b[0].data, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(leaves(a[1]), leaves(b[1]), atol=1e-12, rtol=1e-12)


def test_auto_picks_native_then_fused_then_reference() -> None:
    lstm = rnnkit.LSTM(I, H, recurrent_dropout=0.2)
    lstm.eval()
    assert lstm._select_kernel(False) == "native"  # dropout is off at inference
    assert lstm._select_kernel(True) == "fused"  # torch's kernel has no per-step states
    lstm.train()
    assert lstm._select_kernel(False) == "fused"  # recurrent dropout
    assert rnnkit.GRU(I, H, reset_after=False)._select_kernel(False) == "fused"
    assert rnnkit.JordanRNN(I, H, 2)._select_kernel(False) == "fused"
    assert rnnkit.LSTM(I, H, backend="fused")._select_kernel(False) == "fused"
    assert rnnkit.LSTM(I, H, backend="reference")._select_kernel(False) == "reference"


def test_a_variant_runs_fused_without_warning() -> None:
    lstm = rnnkit.LSTM(
        I, H, peephole=True, coupled=True, recurrent_activation="hard_sigmoid_keras2"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lstm(torch.randn(4, 2, I))


def test_reference_fallback_warns_once_naming_the_option() -> None:
    gru = rnnkit.GRU(I, H, activation=lambda v: torch.tanh(v) * 0.9)
    with pytest.warns(rnnkit.SlowPathWarning, match=r"activation='<lambda>'") as record:
        gru(torch.randn(4, 2, I))
        gru(torch.randn(4, 2, I))
    assert len([r for r in record if issubclass(r.category, rnnkit.SlowPathWarning)]) == 1
    with pytest.raises(ValueError, match=r"backend='fused' cannot run nonlinearity="):
        rnnkit.RNN(I, H, nonlinearity=torch.sin, backend="fused")(torch.randn(4, 2, I))


@pytest.mark.parametrize("name", ["lstm-peephole", "gru-reset-before", "rnn-softsign"])
def test_bfloat16_under_cpu_autocast(name: str) -> None:
    """Under autocast the fused kernel computes in bfloat16, like torch's own RNNs; it stays close
    to the reference loop under the same autocast, and gradients reach the float32 weights."""
    fused, ref = twins(name)
    x = torch.randn(8, 4, I)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = fused(x)
        want, _ = ref(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), want.float(), atol=0.06, rtol=0.06)
    out.float().sum().backward()
    want.float().sum().backward()
    for p, q in zip(fused.parameters(), ref.parameters(), strict=True):
        assert p.grad is not None and p.grad.dtype == torch.float32
        torch.testing.assert_close(p.grad, q.grad, atol=0.15, rtol=0.1)


@pytest.mark.parametrize("name", ["lstm-coupled-proj", "gru-reset-before", "jordan-elman-output"])
def test_empty_batch_and_transposed_weights(name: str) -> None:
    """The compiled loops read raw memory: an empty batch and non-contiguous weights still work."""
    fused, ref = twins(name)
    for layer in (fused, ref):
        for p in layer.parameters():
            if p.dim() == 2:
                p.data = p.data.t().contiguous().t()  # same values, transposed strides
    assert fused(torch.randn(4, 0, I))[0].shape[1] == 0
    x = torch.randn(4, 2, I, requires_grad=True)
    for a, b in zip(run_and_grad(fused, x, 0), run_and_grad(ref, x, 0), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
