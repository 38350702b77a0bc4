"""A recurrent language model: read a symbol, predict the next one (one-to-many when sampling).

    e_t      = E[x_t]              (embedding; or one_hot(x_t), the classic input)
    o_t, s_t = layer(e_t, s_{t-1}) (any rnnkit recurrent layer, stacked or not)
    logits_t = W dropout(o_t) + b  (scores for x_{t+1})

trained with the cross-entropy of the next symbol (Elman 1990; Mikolov et al. 2010 for words;
Graves 2013 and Karpathy 2015 for characters). Loss in nats per symbol; bits per character are
nats / ln 2, perplexity is e^nats.

:meth:`LanguageModel.generate` writes one symbol per step: the prime is read once, then each new
symbol is fed back through the layer's ``step`` with the carried state, so a symbol costs one
step of the layer, never a rerun of the prefix. :meth:`LanguageModel.score` scores a long stream as
contiguous text.

Shape letters: ``T`` time, ``B`` batch, ``E`` embedding, ``O`` layer output, ``V`` vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import RecurrentLayer

__all__ = ["LanguageModel"]

State = Any  # what the layer takes as hx and returns as h_n


class LanguageModel(nn.Module):
    """Embedding (or one-hot) -> recurrent layer -> dropout -> linear.

    Args:
        vocab_size: ``V``.
        layer: a time-major rnnkit layer whose ``input_size`` is ``embed`` (or ``V`` one-hot).
        embed: embedding size ``E``; 0 feeds one-hot vectors instead.
        dropout: dropout on the layer's output before the linear read-out (Zaremba et al. 2014
            drop the non-recurrent connections; the layer's own ``dropout`` does between layers).

    >>> import rnnkit
    >>> lm = LanguageModel(10, rnnkit.LSTM(4, 8), embed=4)
    >>> logits, state = lm(torch.zeros(5, 2, dtype=torch.long))
    >>> tuple(logits.shape)
    (5, 2, 10)
    """

    def __init__(
        self, vocab_size: int, layer: RecurrentLayer, embed: int = 64, dropout: float = 0.0
    ) -> None:
        super().__init__()
        want = embed or vocab_size
        if layer.input_size != want:
            what = f"embed={embed}" if embed else f"one-hot input of vocab_size={vocab_size}"
            raise ValueError(
                f"LanguageModel: the layer reads {layer.input_size} features, {what} gives {want}"
            )
        if layer.batch_first or layer.bidirectional:
            raise ValueError("LanguageModel: the layer must be time-major and unidirectional")
        self.vocab_size = vocab_size
        self.embed_size = embed
        self.embed = nn.Embedding(vocab_size, embed) if embed else None
        self.rnn = layer
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(layer.cells[-1].output_size, vocab_size)

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """``x (T, B)`` int64 symbols -> ``(logits (T, B, V), final state)``."""
        e = (
            self.embed(x) if self.embed is not None else F.one_hot(x, self.vocab_size).float()
        )  # (T, B, E)
        out, state = self.rnn(e, state)  # (T, B, O)
        return self.head(self.drop(out)), state  # (T, B, V)

    def step(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        """One symbol per row: ``x (B,)`` int64 -> ``(logits (B, V), state)``, through the layer's
        :meth:`~rnnkit.layers.RecurrentLayer.step` (no dropout: for generation)."""
        e = (
            self.embed(x) if self.embed is not None else F.one_hot(x, self.vocab_size).float()
        )  # (B, E)
        out, state = self.rnn.step(e, state)  # (B, O)
        return self.head(out), state  # (B, V)

    # ----- scoring ------------------------------------------------------------------------------

    @torch.no_grad()
    def score(
        self, ids: Tensor, streams: int = 16, seq_len: int = 256, burn_in: int = 256
    ) -> tuple[float, int]:
        """Cross-entropy of ``ids (N,)`` read as one contiguous text: ``(total nats, predictions)``.

        For speed the text is cut into ``streams`` rows read side by side; each row but the
        first first reads the ``burn_in`` symbols before its start (unscored), so every
        prediction sees nearly as much context as in a single pass. The first row starts from
        the initial state, as a single pass does. Up to ``streams - 1`` final symbols are not
        scored (they do not fill a row); ``predictions`` says how many were.
        """
        n = len(ids) - 1
        if n < 1:
            raise ValueError("score needs at least 2 symbols")
        S = max(1, min(streams, n // max(1, burn_in)))
        L = n // S
        W = min(burn_in, L) if S > 1 else 0
        x = ids[: S * L].view(S, L).t()  # (L, S)
        y = ids[1 : S * L + 1].view(S, L).t()  # (L, S)
        was = self.training
        self.eval()
        state: State = None
        if W:
            starts = torch.arange(1, S) * L  # rows 1..S-1
            burn = ids[starts[None, :] + torch.arange(-W, 0)[:, None]]  # (W, S-1)
            _, warm = self(burn)
            warm = warm if isinstance(warm, tuple) else (warm,)
            state = tuple(torch.cat([torch.zeros_like(s[:, :1]), s], dim=1) for s in warm)
            state = state if len(state) > 1 else state[0]
        total = 0.0
        for t in range(0, L, seq_len):
            logits, state = self(x[t : t + seq_len], state)
            total += float(
                F.cross_entropy(logits.flatten(0, 1), y[t : t + seq_len].flatten(), reduction="sum")
            )
        self.train(was)
        return total, S * L

    # ----- generation ---------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self, prime: Sequence[int], length: int, choose: Callable[[Tensor], int]
    ) -> Iterator[int]:
        """Yield ``length`` symbols after ``prime``, each chosen by ``choose(logits (V,))``.

        The prime is read in one pass (``forward``); then each chosen symbol is fed back alone
        through :meth:`step` with the state carried, so each new symbol costs one step.
        """
        if not prime:
            raise ValueError("generate needs a prime of at least one symbol")
        was = self.training
        self.eval()
        try:
            device = self.head.weight.device
            logits, state = self(torch.tensor(list(prime), device=device)[:, None])  # (T, 1, V)
            last = logits[-1, 0]
            for _ in range(length):
                nxt = choose(last)
                yield nxt
                logits, state = self.step(torch.tensor([nxt], device=device), state)  # (1, V)
                last = logits[0]
        finally:
            self.train(was)


def nats_to_bits(nats: float) -> float:
    """``nats / ln 2``."""
    return nats / math.log(2)
