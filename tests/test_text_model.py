"""The language model: one-step generation, contiguous scoring, the text task's carried state."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import rnnkit
from rnnkit.models.language_model import LanguageModel
from rnnkit.tasks.text import TextTask

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def make(embed: int = 6, layer: rnnkit.RecurrentLayer | None = None) -> LanguageModel:
    torch.manual_seed(0)
    layer = layer if layer is not None else rnnkit.LSTM(embed or 11, 12, num_layers=2)
    return LanguageModel(11, layer, embed=embed)


@pytest.mark.parametrize("embed", [6, 0])
@pytest.mark.parametrize("cell", ["lstm", "gru", "jordan"])
def test_generation_steps_once_per_symbol_and_matches_rerunning_the_prefix(
    embed: int, cell: str
) -> None:
    I = embed or 11
    layer = {
        "lstm": rnnkit.LSTM(I, 12, 2),
        "gru": rnnkit.GRU(I, 12),
        "jordan": rnnkit.JordanRNN(I, 12, 12),
    }[cell]
    lm = make(embed, layer)
    calls: list[int] = []
    lm.rnn.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    real_step = lm.rnn.step

    def step(x: torch.Tensor, state: object = None) -> object:
        calls.append(-x.shape[0])  # a step of a (B=1) batch
        return real_step(x, state)

    lm.rnn.step = step  # type: ignore[method-assign]
    written = list(lm.generate([1, 2, 3], 8, lambda logits: int(logits.argmax())))
    assert calls == [3] + [-1] * 8  # the prime once, then one step per new symbol
    # greedy decoding by rerunning the whole prefix each time gives the same symbols
    seq = [1, 2, 3]
    with torch.no_grad():
        for _ in range(8):
            logits, _ = lm(torch.tensor(seq)[:, None])
            seq.append(int(logits[-1, 0].argmax()))
    assert written == seq[3:]


def test_score_single_stream_is_the_plain_cross_entropy() -> None:
    lm = make()
    ids = torch.randint(0, 11, (300,), generator=torch.Generator().manual_seed(1))
    total, n = lm.score(ids, streams=1, seq_len=64)
    with torch.no_grad():
        logits, _ = lm(ids[:-1, None])
    expected = F.cross_entropy(logits[:, 0], ids[1:], reduction="sum").item()
    assert n == 299
    assert total == pytest.approx(expected, rel=1e-5)


def test_score_with_parallel_streams_and_burn_in_stays_close() -> None:
    lm = make()
    ids = torch.randint(0, 11, (4001,), generator=torch.Generator().manual_seed(2))
    one, n1 = lm.score(ids, streams=1)
    many, n8 = lm.score(ids, streams=8, burn_in=100)
    assert n8 == n1 == 4000
    assert many / n8 == pytest.approx(one / n1, rel=1e-3)


def test_text_task_carries_state_between_windows_and_resets_each_epoch() -> None:
    lm = make()
    ids = torch.arange(2000) % 11
    task = TextTask(ids[:1800], ids[1800:], batch=4, seq_len=10)
    first = task.next_batch()
    task.loss(lm, first)
    assert task.state is not None and not task.state[0].requires_grad
    # the second window starts from the carried state: same as running both windows at once
    second = task.next_batch()
    loss2, n = task.loss(lm, second)
    with torch.no_grad():
        logits, _ = lm(torch.cat([first.x, second.x]))
    expected = F.cross_entropy(logits[10:].flatten(0, 1), second.y.flatten())
    assert n == 40 and loss2.item() == pytest.approx(expected.item(), rel=1e-5)
    restored = TextTask(ids[:1800], ids[1800:], batch=4, seq_len=10)
    restored.load_state_dict(task.state_dict())
    assert restored.stream.position == 2
    assert restored.state is not None and torch.equal(restored.state[1], task.state[1])
    for _ in range(len(task.stream) - 2):
        task.next_batch()
    task.loss(lm, task.next_batch())  # a new epoch: reset=True drops the carried state first
    assert task.stream.epoch == 1


def test_language_model_checks_sizes() -> None:
    with pytest.raises(ValueError, match="reads 5 features"):
        LanguageModel(11, rnnkit.LSTM(5, 8), embed=6)
    with pytest.raises(ValueError, match="unidirectional"):
        LanguageModel(11, rnnkit.LSTM(6, 8, bidirectional=True), embed=6)
