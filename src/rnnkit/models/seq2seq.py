"""Many-to-many delayed: an encoder reads the source, a decoder writes the target, with attention.

The encoder is any rnnkit layer (any cell and variant, stacked, bidirectional) or cell; it reads
the embedded source with ``lengths=``, so its outputs past each length are zeros and never seen.
The decoder is a unidirectional rnnkit layer stepped one token at a time (:meth:`RecurrentLayer.step`).
Each step follows Luong et al. (2015), "Effective Approaches to Attention-based Neural Machine
Translation", section 3:

    h_t   = decoder([embed(y_{t-1}); h~_{t-1}], state)     # input feeding (Luong 3.3)
    a_t   = softmax over valid source steps of score(h_t, m_s)
    c_t   = sum_s a_t[s] m_s                                # context
    h~_t  = tanh(W_c [c_t; h_t])                            # attentional vector
    p(y_t) = softmax(W_o h~_t)

with ``score`` one of (:class:`Attention` subclasses):

* :class:`AdditiveAttention` — ``v^T tanh(W_q h_t + W_k m_s)``, Bahdanau et al. (2015)'s MLP score
  (used in Luong's decoder as Joey NMT and OpenNMT-py's ``mlp`` do);
* :class:`DotAttention` — ``h_t^T m_s`` (Luong "dot"; needs equal sizes);
* :class:`GeneralAttention` — ``h_t^T W_a m_s`` (Luong "general").

With no attention (``attention=None``) the context is fixed: the encoder's summary (its last valid
output, both directions), the plain encoder-decoder of Sutskever et al. (2014) with the summary
given at every step as in Cho et al. (2014). In every case the decoder starts from a "bridge",
``tanh(W_b summary)``, in the first state entry (``h``) of every decoder layer, the rest zeros.

Padding never leaks: attention scores at padded source steps are ``-inf`` before the softmax (their
weights are exactly 0), and the loss (:func:`seq2seq_loss`) skips ``<pad>`` targets.

Training feeds the gold previous token (teacher forcing); with ``sampling_prob = p`` each row's
previous token is, with probability ``p``, drawn from the model's own prediction instead
(scheduled sampling, Bengio et al. 2015).

Shape letters: ``B`` batch, ``S`` source steps, ``T`` target steps, ``E`` embedding, ``M`` encoder
output (memory) size, ``H`` decoder output size, ``K`` attention key size, ``V`` vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers import RecurrentLayer
from .classifier import layer_output_size, pool_last, run_layer

__all__ = [
    "ATTENTIONS",
    "AdditiveAttention",
    "Attention",
    "DecoderState",
    "DotAttention",
    "GeneralAttention",
    "Memory",
    "Seq2Seq",
    "make_attention",
    "seq2seq_loss",
]


class Attention(nn.Module):
    """Scores a query against every source step; subclasses define :meth:`keys` and :meth:`score`."""

    def keys(self, memory: Tensor) -> Tensor:
        """What the score compares the query with, computed once per sentence: ``(B, S, K)``."""
        return memory

    def score(self, query: Tensor, keys: Tensor) -> Tensor:  # pragma: no cover - abstract
        """``query (B, H)``, ``keys (B, S, K)`` -> ``(B, S)``."""
        raise NotImplementedError

    def forward(
        self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(context (B, M), weights (B, S))``; weights are 0 where ``mask (B, S)`` is False."""
        scores = self.score(query, keys).masked_fill(~mask, float("-inf"))  # (B, S)
        weights = torch.softmax(scores, dim=-1)  # (B, S), exactly 0 on padding
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)  # (B, M)
        return context, weights


class AdditiveAttention(Attention):
    """Bahdanau et al. (2015): ``score = v^T tanh(W_q q + W_k m)``, hidden size ``K``."""

    def __init__(self, query_size: int, memory_size: int, hidden_size: int | None = None) -> None:
        super().__init__()
        K = hidden_size or query_size
        self.query_proj = nn.Linear(query_size, K, bias=False)
        self.key_proj = nn.Linear(memory_size, K, bias=True)
        self.v = nn.Linear(K, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        return self.key_proj(memory)  # (B, S, K)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        q = self.query_proj(query).unsqueeze(1)  # (B, 1, K)
        return self.v(torch.tanh(q + keys)).squeeze(-1)  # (B, S)


class DotAttention(Attention):
    """Luong et al. (2015) "dot": ``score = q^T m`` (query and memory of one size)."""

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        if query_size != memory_size:
            raise ValueError(
                f"DotAttention: the decoder output ({query_size}) and the encoder output "
                f"({memory_size}) must have one size; use GeneralAttention otherwise"
            )

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (B, S)


class GeneralAttention(Attention):
    """Luong et al. (2015) "general": ``score = q^T W_a m``."""

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.W_a = nn.Linear(memory_size, query_size, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        return self.W_a(memory)  # (B, S, H)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (B, S)


ATTENTIONS: dict[str, Callable[[int, int], Attention] | None] = {
    "bahdanau": AdditiveAttention,
    "luong-dot": DotAttention,
    "luong-general": GeneralAttention,
    "none": None,
}


def make_attention(name: str, query_size: int, memory_size: int) -> Attention | None:
    """The attention called ``name`` in :data:`ATTENTIONS` (the command line's names)."""
    if name not in ATTENTIONS:
        raise ValueError(f"unknown attention {name!r}; choose one of {', '.join(ATTENTIONS)}")
    make = ATTENTIONS[name]
    return None if make is None else make(query_size, memory_size)


@dataclass
class Memory:
    """The encoded source, per row: ``values (B, S, M)``, ``keys (B, S, K)``, ``mask (B, S)`` (True
    at valid steps), ``summary (B, M)``."""

    values: Tensor
    keys: Tensor
    mask: Tensor
    summary: Tensor

    def select(self, idx: Tensor) -> Memory:
        """Rows ``idx`` (for beam search: each row repeated per hypothesis)."""
        return Memory(self.values[idx], self.keys[idx], self.mask[idx], self.summary[idx])


@dataclass
class DecoderState:
    """The decoder's recurrent state (as the layer packages it) and the last attentional vector."""

    rnn: Any
    feed: Tensor

    def select(self, idx: Tensor) -> DecoderState:
        if isinstance(self.rnn, tuple):
            rnn: Any = tuple(s[:, idx] for s in self.rnn)
        else:
            rnn = self.rnn[:, idx]
        return DecoderState(rnn, self.feed[idx])


class Seq2Seq(nn.Module):
    """Encoder-decoder with attention over rnnkit layers.

    The embedding sizes come from the layers: the source embedding has ``encoder.input_size``
    features; the target embedding ``decoder.input_size - H`` with input feeding (``H`` the
    decoder's output size), ``decoder.input_size`` without.

    Args:
        encoder: an rnnkit layer or cell (or a ``torch.nn`` RNN/LSTM/GRU), any direction/depth.
        decoder: a unidirectional rnnkit layer (:class:`~rnnkit.RecurrentLayer`).
        src_vocab_size, tgt_vocab_size: ``V`` of each side.
        attention: an :class:`Attention` (e.g. ``make_attention("bahdanau", H, M)``) or ``None``.
        input_feeding: feed ``h~_{t-1}`` to the decoder with the previous token (Luong 3.3).
        src_pad, tgt_pad: the ``<pad>`` index of each vocabulary (zero embedding).
        dropout: on embeddings and on ``h~_t`` before the output layer, in training.

    >>> import torch, rnnkit
    >>> enc = rnnkit.GRU(8, 16, bidirectional=True, batch_first=True)
    >>> dec = rnnkit.LSTM(8 + 32, 32, peephole=True)
    >>> model = Seq2Seq(enc, dec, 20, 30, attention=make_attention("bahdanau", 32, 32))
    >>> logits, attn = model(torch.randint(4, 20, (2, 5)), torch.tensor([5, 3]),
    ...                      torch.randint(4, 30, (2, 6)))
    >>> tuple(logits.shape), attn[1, :, 3:].abs().sum().item()
    ((2, 6, 30), 0.0)
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: RecurrentLayer,
        src_vocab_size: int,
        tgt_vocab_size: int,
        *,
        attention: Attention | None = None,
        input_feeding: bool = True,
        src_pad: int = 0,
        tgt_pad: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(decoder, RecurrentLayer) or decoder.bidirectional:
            raise ValueError("Seq2Seq: the decoder must be a unidirectional rnnkit layer")
        M = layer_output_size(encoder)
        H = layer_output_size(decoder)
        E_tgt = decoder.input_size - (H if input_feeding else 0)
        if E_tgt < 1:
            raise ValueError(
                f"Seq2Seq: the decoder reads {decoder.input_size} features, which must exceed its "
                f"output size {H} with input feeding (embedding + attentional vector)"
            )
        E_src = getattr(encoder, "input_size", None)
        if not isinstance(E_src, int):
            raise ValueError("Seq2Seq: the encoder must have an input_size")
        self.encoder, self.decoder, self.attention = encoder, decoder, attention
        self.input_feeding = input_feeding
        self.memory_size, self.hidden_size = M, H
        self.src_embed = nn.Embedding(src_vocab_size, E_src, padding_idx=src_pad)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, E_tgt, padding_idx=tgt_pad)
        self.bridge = nn.Linear(M, decoder.cells[0].state_sizes[0])
        self.combine = nn.Linear(M + H, H, bias=False)  # W_c
        self.out = nn.Linear(H, tgt_vocab_size)  # W_o
        self.drop = nn.Dropout(dropout)
        self.num_directions = 2 if getattr(encoder, "bidirectional", False) else 1

    # ----- the three pieces decoding uses -----------------------------------------------------

    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """Read ``src (B, S)`` ids with ``src_lengths (B,)`` (each at least 1)."""
        values = run_layer(self.encoder, self.drop(self.src_embed(src)), src_lengths)  # (B, S, M)
        S = values.shape[1]
        mask = torch.arange(S, device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        summary = pool_last(values, src_lengths, self.num_directions)  # (B, M)
        keys = values if self.attention is None else self.attention.keys(values)
        return Memory(values, keys, mask, summary)

    def start(self, memory: Memory) -> DecoderState:
        """The decoder's first state: the bridge in ``h`` of every layer, zeros elsewhere."""
        B, dec = memory.summary.shape[0], self.decoder
        h0 = torch.tanh(self.bridge(memory.summary))  # (B, size0)
        entries = [h0.unsqueeze(0).expand(dec.num_layers, -1, -1).contiguous()]  # (L, B, size0)
        for size in dec.cells[0].state_sizes[1:]:
            entries.append(h0.new_zeros(dec.num_layers, B, size))
        rnn: Any = entries[0] if len(entries) == 1 else tuple(entries)
        return DecoderState(rnn, h0.new_zeros(B, self.hidden_size))

    def step(
        self, prev: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One target step from the previous tokens ``prev (B,)``.

        Returns:
            ``(logits (B, V), new state, attention weights (B, S) or None)``.
        """
        x = self.drop(self.tgt_embed(prev))  # (B, E)
        if self.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)  # (B, E + H)
        h, rnn = self.decoder.step(x, state.rnn)  # (B, H)
        weights = None
        if self.attention is None:
            context = memory.summary  # (B, M)
        else:
            context, weights = self.attention(h, memory.keys, memory.values, memory.mask)
        attentional = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # (B, H)
        logits = self.out(self.drop(attentional))  # (B, V)
        return logits, DecoderState(rnn, attentional), weights

    # ----- training ---------------------------------------------------------------------------

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        *,
        sampling_prob: float = 0.0,
    ) -> tuple[Tensor, Tensor | None]:
        """Score ``tgt_in (B, T)`` (``<s> y_1 ..``) given the source.

        Args:
            sampling_prob: each row's previous token comes from the model's own prediction with
                this probability (scheduled sampling); 0 is teacher forcing.

        Returns:
            ``(logits (B, T, V), attention (B, T, S) or None)``.
        """
        memory = self.encode(src, src_lengths)
        state = self.start(memory)
        steps: list[Tensor] = []
        attn: list[Tensor] = []
        prev = tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t and sampling_prob > 0:
                guess = torch.multinomial(torch.softmax(steps[-1].detach(), -1), 1).squeeze(1)
                use = torch.rand(prev.shape[0], device=prev.device) < sampling_prob
                prev = torch.where(use, guess, tgt_in[:, t])
            elif t:
                prev = tgt_in[:, t]
            logits, state, weights = self.step(prev, state, memory)
            steps.append(logits)
            if weights is not None:
                attn.append(weights)
        return torch.stack(steps, 1), (torch.stack(attn, 1) if attn else None)


def seq2seq_loss(logits: Tensor, tgt_out: Tensor, pad: int) -> tuple[Tensor, int]:
    """``(summed cross-entropy, number of target tokens)`` over non-``<pad>`` targets.

    Summing (not averaging per row) makes a padded batch's loss the sum of its sentences' losses.
    """
    V = logits.shape[-1]
    total = F.cross_entropy(
        logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=pad, reduction="sum"
    )
    return total, int((tgt_out != pad).sum())
