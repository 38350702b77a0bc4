"""state_dicts: torch's exactly for standard configurations; variants whose weights have torch's
shapes carry their formulation, so loading into the wrong one fails loudly."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import rnnkit

STANDARD: list[tuple[Callable[[], nn.Module], Callable[[], nn.Module]]] = [
    (
        lambda: rnnkit.LSTM(3, 4, 2, bidirectional=True),
        lambda: nn.LSTM(3, 4, 2, bidirectional=True),
    ),
    (lambda: rnnkit.LSTM(3, 4, proj_size=2), lambda: nn.LSTM(3, 4, proj_size=2)),
    (lambda: rnnkit.GRU(3, 4, bias=False), lambda: nn.GRU(3, 4, bias=False)),
    (lambda: rnnkit.RNN(3, 4, nonlinearity="relu"), lambda: nn.RNN(3, 4, nonlinearity="relu")),
    (lambda: rnnkit.LSTMCell(3, 4), lambda: nn.LSTMCell(3, 4)),
    (lambda: rnnkit.GRUCell(3, 4), lambda: nn.GRUCell(3, 4)),
]


@pytest.mark.parametrize(("ours", "theirs"), STANDARD)
def test_standard_state_dicts_are_torchs(ours, theirs) -> None:  # type: ignore[no-untyped-def]
    a, b = ours().state_dict(), theirs().state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    theirs().load_state_dict(a, strict=True)
    ours().load_state_dict(b, strict=True)


VARIANTS: list[tuple[Callable[[], nn.Module], Callable[[], nn.Module], str]] = [
    (lambda: rnnkit.GRU(3, 4, reset_after=False), lambda: nn.GRU(3, 4), "reset_after=False"),
    (lambda: rnnkit.LSTM(3, 4, activation="softsign"), lambda: nn.LSTM(3, 4), "'softsign'"),
    (
        lambda: rnnkit.LSTM(3, 4, recurrent_activation="hard_sigmoid_keras2"),
        lambda: nn.LSTM(3, 4),
        "'hard_sigmoid_keras2'",
    ),
    (lambda: rnnkit.RNN(3, 4, nonlinearity="softsign"), lambda: nn.RNN(3, 4), "'softsign'"),
    (lambda: rnnkit.GRUCell(3, 4, reset_after=False), lambda: nn.GRUCell(3, 4), "reset_after"),
]


@pytest.mark.parametrize(("variant", "torch_twin", "what"), VARIANTS)
def test_a_variant_refuses_torchs_module_and_the_other_formulation(  # type: ignore[no-untyped-def]
    variant, torch_twin, what
) -> None:
    state = variant().state_dict()
    assert what in bytes(state["_extra_state"].tolist()).decode()
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "_extra_state"'):
        torch_twin().load_state_dict(state, strict=True)
    other = type(variant())
    kwargs = {"nonlinearity": "tanh"} if other is rnnkit.RNN else {}
    message = rf"{other.__name__}: the state_dict is for .*{what}.*but this module is the standard"
    with pytest.raises(RuntimeError, match=message):
        other(3, 4, **kwargs).load_state_dict(state)
    variant().load_state_dict(state, strict=True)  # its own formulation loads


def test_two_variants_name_both() -> None:
    state = rnnkit.LSTM(3, 4, activation="softsign").state_dict()
    lstm = rnnkit.LSTM(3, 4, recurrent_activation="hard_sigmoid_keras3")
    theirs = r"LSTM\(activation='softsign', recurrent_activation='sigmoid'\)"
    ours = r"LSTM\(activation='tanh', recurrent_activation='hard_sigmoid_keras3'\)"
    with pytest.raises(
        RuntimeError, match=f"the state_dict is for {theirs}, but this module is {ours}"
    ):
        lstm.load_state_dict(state)


def test_the_tag_survives_safetensors_and_nesting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = nn.Sequential(nn.Linear(2, 3), rnnkit.GRU(3, 4, reset_after=False))
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    state = load_file(str(tmp_path / "m.safetensors"))
    assert "1._extra_state" in state
    twin = nn.Sequential(nn.Linear(2, 3), rnnkit.GRU(3, 4, reset_after=False))
    twin.load_state_dict(state, strict=True)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(twin[1](x)[0], model[1](x)[0])
    cast = {k: v.double() for k, v in state.items()}  # a whole state_dict cast to another dtype
    twin.double().load_state_dict(cast, strict=True)
    wrong = nn.Sequential(nn.Linear(2, 3), rnnkit.GRU(3, 4))
    with pytest.raises(RuntimeError, match="GRU: the state_dict is for GRU"):
        wrong.load_state_dict(state)


def test_an_untagged_state_dict_loads_into_a_variant() -> None:
    """torch's own, or one saved before rnnkit wrote tags: nothing says what it was, so it loads."""
    rnnkit.GRU(3, 4, reset_after=False).load_state_dict(nn.GRU(3, 4).state_dict(), strict=True)
