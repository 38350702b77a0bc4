"""The classic toy examples, trained in seconds: the dinner cycle and the "Doug saw Jane." generator.

Both are next-symbol prediction over a stream of one-hot symbols (Elman 1990's set-up): the network
reads symbol t and predicts symbol t+1, and the loss is the cross-entropy summed over time.

* Dinner: the cook makes pizza, sushi, waffles, pizza, ... — one step of memory suffices.
* Sentences: "Doug saw Jane.", "Jane saw Spot.", "Spot saw Doug." in random order. After "saw" the
  object depends on the subject two words back, so a network that only remembers the last word
  writes sentences such as "Doug saw Doug." (Brandon Rohrer's classic illustration).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "DINNERS",
    "SENTENCES",
    "NextSymbolNet",
    "dinner_stream",
    "generate",
    "sentence_stream",
    "train_next_symbol",
]

DINNERS = ["pizza", "sushi", "waffles"]
SENTENCES = [
    ["Doug", "saw", "Jane", "."],
    ["Jane", "saw", "Spot", "."],
    ["Spot", "saw", "Doug", "."],
]
WORDS = ["Doug", "Jane", "Spot", "saw", "."]


def dinner_stream(n: int) -> list[int]:
    """Indices into :data:`DINNERS` for ``n`` days of the cycle."""
    return [t % len(DINNERS) for t in range(n)]


def sentence_stream(n_sentences: int, rng: random.Random) -> list[int]:
    """Indices into ``WORDS`` for ``n_sentences`` sentences drawn at random."""
    return [WORDS.index(w) for _ in range(n_sentences) for w in rng.choice(SENTENCES)]


class NextSymbolNet(nn.Module):
    """one-hot(x_t) -> recurrent layer -> linear -> logits for x_{t+1}."""

    def __init__(self, vocab_size: int, layer: nn.Module, out_features: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = layer
        self.head = nn.Linear(out_features, vocab_size)

    def forward(self, tokens: Tensor, state: object = None) -> tuple[Tensor, object]:
        x = F.one_hot(tokens, self.vocab_size).float()  # (T, B, V)
        out, state = self.rnn(x, state)
        return self.head(out), state  # (T, B, V)


@dataclass
class Trained:
    net: NextSymbolNet
    final_loss: float


def train_next_symbol(
    make_layer: Callable[[int], nn.Module],
    out_features: int,
    stream: list[int],
    vocab_size: int,
    steps: int = 300,
    seq_len: int = 12,
    batch: int = 16,
    lr: float = 0.03,
    seed: int = 0,
) -> Trained:
    """Train on random windows of ``stream`` with Adam; the loss is summed over time, averaged over rows."""
    torch.manual_seed(seed)
    net = NextSymbolNet(vocab_size, make_layer(vocab_size), out_features)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    data = torch.tensor(stream)
    gen = torch.Generator().manual_seed(seed)
    loss = torch.zeros(())
    for _ in range(steps):
        starts = torch.randint(0, len(stream) - seq_len - 1, (batch,), generator=gen)
        idx = starts[None, :] + torch.arange(seq_len + 1)[:, None]  # (T+1, B)
        window = data[idx]
        logits, _ = net(window[:-1])
        loss = (
            F.cross_entropy(logits.reshape(-1, vocab_size), window[1:].reshape(-1), reduction="sum")
            / batch
        )
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
    return Trained(net, float(loss.detach()) / seq_len)


@torch.no_grad()
def generate(
    net: NextSymbolNet, prime: list[int], n: int, greedy: bool = True, seed: int = 0
) -> list[int]:
    """Continue ``prime`` by ``n`` symbols, one step of the network per symbol."""
    gen = torch.Generator().manual_seed(seed)
    logits, state = net(torch.tensor(prime)[:, None])
    out: list[int] = []
    for _ in range(n):
        p = logits[-1, 0].softmax(-1)
        nxt = int(p.argmax()) if greedy else int(torch.multinomial(p, 1, generator=gen))
        out.append(nxt)
        logits, state = net(torch.tensor([[nxt]]), state)
    return out
