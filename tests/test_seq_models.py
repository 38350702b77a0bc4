"""Sequence heads: pooling by hand, padding never leaks, bidirectional "last" is h_n of both directions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.models import SequenceClassifier, SequenceRegressor, SequenceTagger
from rnnkit.models.classifier import layer_output_size, pool_last, pool_max, pool_mean, run_layer
from rnnkit.models.tagger import tagging_loss

LENGTHS = torch.tensor([5, 2, 3, 1])


def _layer(cell: str, bidirectional: bool) -> nn.Module:
    kw = {"batch_first": True, "bidirectional": bidirectional}
    return {
        "rnn": lambda: rnnkit.RNN(3, 4, **kw),
        "lstm": lambda: rnnkit.LSTM(3, 4, **kw),
        "peephole": lambda: rnnkit.LSTM(3, 4, peephole=True, **kw),
        "gru": lambda: rnnkit.GRU(3, 4, num_layers=2, **kw),
        "jordan": lambda: rnnkit.JordanRNN(3, 4, 2, **kw),
        "torch-lstm": lambda: nn.LSTM(3, 4, **kw),
        "peephole-cell": lambda: rnnkit.LSTMCell(3, 4, peephole=True),
        "jordan-cell": lambda: rnnkit.JordanCell(3, 4, 2),
    }[cell]()


def _padded_garbage(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` with every step past its row's length replaced by large random values."""
    pad = torch.arange(x.shape[1])[None, :] >= lengths[:, None]  # (B, T)
    return torch.where(pad[..., None], 100 * torch.randn_like(x), x)


def test_pooling_by_hand() -> None:
    # one row, 3 steps (the third is padding), D=2 directions of O=1 unit
    out = torch.tensor([[[1.0, 10.0], [3.0, 20.0], [99.0, 99.0]]])
    lengths = torch.tensor([2])
    assert pool_last(out, lengths, 2).tolist() == [[3.0, 10.0]]  # forward at t=1, backward at t=0
    assert pool_mean(out, lengths, 2).tolist() == [[2.0, 15.0]]
    assert pool_max(out, lengths, 2).tolist() == [[3.0, 20.0]]
    # negative values: the max ignores the padding's zeros as well as its values
    neg = torch.tensor([[[-3.0], [-1.0], [0.0]]])
    assert pool_max(neg, lengths, 1).tolist() == [[-1.0]]


@pytest.mark.parametrize(
    ("cell", "bidirectional"),
    [
        (c, d)
        for c in ("rnn", "lstm", "peephole", "gru", "jordan", "torch-lstm")
        for d in (False, True)
    ]
    + [("peephole-cell", False), ("jordan-cell", False)],
)
def test_padding_never_leaks(cell: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 5, 3)
    x2 = _padded_garbage(x, LENGTHS)
    for pooling in ("last", "mean", "max"):
        model = SequenceClassifier(_layer(cell, bidirectional), 3, pooling=pooling).eval()
        torch.testing.assert_close(model(x, LENGTHS), model(x2, LENGTHS))
    tagger = SequenceTagger(_layer(cell, bidirectional), 3).eval()
    valid = torch.arange(5)[None, :] < LENGTHS[:, None]
    torch.testing.assert_close(tagger(x, LENGTHS)[valid], tagger(x2, LENGTHS)[valid])


def test_padding_never_leaks_through_an_embedding() -> None:
    torch.manual_seed(0)
    ids = torch.randint(2, 20, (4, 5))
    ids2 = torch.where(
        torch.arange(5)[None, :] >= LENGTHS[:, None], torch.randint(0, 20, (4, 5)), ids
    )
    model = SequenceRegressor(
        rnnkit.GRU(6, 4, batch_first=True), embedding=nn.Embedding(20, 6)
    ).eval()
    torch.testing.assert_close(model(ids, LENGTHS), model(ids2, LENGTHS))


@pytest.mark.parametrize("cell", ["lstm", "gru", "jordan"])
def test_bidirectional_last_is_h_n_of_both_directions(cell: str) -> None:
    torch.manual_seed(1)
    layer = _layer(cell, True)
    x = torch.randn(4, 5, 3)
    _, h_n = layer(x, lengths=LENGTHS)
    h = h_n[0] if isinstance(h_n, tuple) else h_n  # (L*D, B, O): the output entry of the state
    pooled = pool_last(run_layer(layer, x, LENGTHS), LENGTHS, 2)
    torch.testing.assert_close(pooled, torch.cat([h[-2], h[-1]], dim=-1))  # last layer


def test_last_equals_running_each_row_alone() -> None:
    torch.manual_seed(2)
    model = SequenceClassifier(rnnkit.LSTM(3, 4, batch_first=True, bidirectional=True), 2).eval()
    x = torch.randn(4, 5, 3)
    batched = model(x, LENGTHS)
    for b, n in enumerate(LENGTHS.tolist()):
        alone = model(x[b : b + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(batched[b : b + 1], alone)


def test_output_sizes_and_shapes() -> None:
    assert layer_output_size(rnnkit.LSTM(3, 8, proj_size=2, bidirectional=True)) == 4
    assert layer_output_size(rnnkit.JordanRNN(3, 8, 5)) == 5
    assert layer_output_size(nn.GRU(3, 7, bidirectional=True)) == 14
    with pytest.raises(TypeError, match="rnnkit layer"):
        layer_output_size(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifier(rnnkit.RNN(3, 4), 2, pooling="median")
    reg = SequenceRegressor(rnnkit.RNN(3, 4), num_outputs=2)  # time-major layer: the model adapts
    assert reg(torch.randn(4, 5, 3), LENGTHS).shape == (4, 2)


def test_tagging_loss_skips_padding() -> None:
    logits = torch.randn(2, 3, 4)
    tags = torch.tensor([[1, 2, -100], [3, -100, -100]])
    manual = torch.nn.functional.cross_entropy(
        torch.stack([logits[0, 0], logits[0, 1], logits[1, 0]]), torch.tensor([1, 2, 3])
    )
    torch.testing.assert_close(tagging_loss(logits, tags), manual)


def test_a_cell_runs_like_the_layer_with_its_weights() -> None:
    torch.manual_seed(3)
    cell = rnnkit.LSTMCell(3, 4, peephole=True)
    layer = rnnkit.LSTM(3, 4, peephole=True, batch_first=True)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            getattr(layer, f"{name}_l0").copy_(p)
    x = torch.randn(4, 5, 3)
    torch.testing.assert_close(run_layer(cell, x, LENGTHS), run_layer(layer, x, LENGTHS))
    assert layer_output_size(cell) == 4
