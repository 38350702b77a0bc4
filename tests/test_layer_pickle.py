"""A whole model holding rnnkit layers, saved with ``torch.save(model)`` and loaded back with
``torch.load(f, weights_only=True)``, as pytorch/examples' word_language_model does it."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import rnnkit


class RNNModel(nn.Module):
    """word_language_model's model: encoder, recurrent module, decoder (with rnnkit's layers)."""

    def __init__(self, rnn: nn.Module, ntoken: int = 11, ninp: int = 3, nhid: int = 4) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = rnn
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, input: Tensor, hidden: object = None) -> tuple[Tensor, object]:
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(output)), hidden


# what the client allows for its own model; rnnkit registers its classes when imported
CLIENT_GLOBALS = [RNNModel, nn.Dropout, nn.Embedding, nn.Linear]

RNNS: dict[str, Callable[[], nn.Module]] = {
    "LSTM": lambda: rnnkit.LSTM(3, 4, 2, dropout=0.2),
    "GRU": lambda: rnnkit.GRU(3, 4, 2),
    "RNN_TANH": lambda: rnnkit.RNN(3, 4, 2),
    "RNN_RELU": lambda: rnnkit.RNN(3, 4, 2, nonlinearity="relu"),
    "lstm_variant": lambda: rnnkit.LSTM(
        3,
        4,
        peephole=True,
        recurrent_activation="hard_sigmoid_keras2",
        kernel_regularizer=rnnkit.L2(0.1),
    ),
    "gru_reset_before": lambda: rnnkit.GRU(3, 4, reset_after=False, learn_init=True),
    "jordan": lambda: rnnkit.JordanRNN(3, 5, 4, stateful=True),
    "recurrent": lambda: rnnkit.Recurrent(rnnkit.LSTMCell(3, 4, coupled=True), 2),
}


@pytest.mark.parametrize("name", list(RNNS))
def test_whole_model_loads_with_weights_only(name: str) -> None:
    torch.manual_seed(0)
    model = RNNModel(RNNS[name]()).eval()
    tokens = torch.randint(0, 11, (6, 2))
    model(tokens)  # a stateful layer now carries a state, which travels too
    f = io.BytesIO()
    torch.save(model, f)
    want, _ = model(tokens)
    f.seek(0)
    named = set(torch.serialization.get_unsafe_globals_in_checkpoint(f))
    rnnkit_globals = {g for g in named if g.startswith("rnnkit.")}
    assert len(rnnkit_globals) <= 3, rnnkit_globals  # the module, its cell math (and cell module)
    f.seek(0)
    with torch.serialization.safe_globals(CLIENT_GLOBALS):
        twin = torch.load(f, weights_only=True)
    got, _ = twin(tokens)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert twin.rnn.cells == model.rnn.cells


def test_stateful_carry_and_options_survive_the_round_trip() -> None:
    gru = rnnkit.GRU(
        3, 4, stateful=True, kernel_initializer="orthogonal", activity_regularizer="l1"
    )
    x = torch.randn(5, 2, 3)
    gru(x)
    f = io.BytesIO()
    torch.save(gru, f)
    f.seek(0)
    twin = torch.load(f, weights_only=True)
    torch.testing.assert_close(twin(x)[0], gru(x)[0])  # both continue from the carried state
    twin.reset_parameters()  # the initialiser is resolved again by name
    assert twin.regularization_loss() > 0


def test_a_layer_pickled_by_rnnkit_0_1_still_loads() -> None:
    """0.1 pickled resolved initialiser functions and parameter names without their kinds."""
    from rnnkit.initializers import orthogonal, uniform

    lstm = rnnkit.LSTM(3, 4, kernel_initializer="orthogonal", kernel_regularizer=rnnkit.L2(0.1))
    state = dict(lstm.__getstate__())
    state.pop("weight_options")
    state["_kinds"] = {full: kind for per in state["_names"] for n in per for _, full, kind in n}
    state["_names"] = [[[(b, f) for b, f, _ in n] for n in per] for per in state["_names"]]
    state["_inits"] = {"kernel": orthogonal, "recurrent": uniform, "bias": uniform}
    state["_regs"] = {"kernel": rnnkit.L2(0.1), "recurrent": None, "bias": None}
    state["_activity_reg"], state["_carry"], state["_reset_rows"] = None, None, None
    del state["_carried"]
    old = rnnkit.LSTM.__new__(rnnkit.LSTM)
    old.__setstate__(state)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(old(x)[0], lstm(x)[0])
    assert old.weight_options["kernel_initializer"] == "orthogonal"  # a name again
    torch.testing.assert_close(old.regularization_loss(), lstm.regularization_loss())
    f = io.BytesIO()
    torch.save(old, f)
    f.seek(0)
    torch.load(f, weights_only=True)
