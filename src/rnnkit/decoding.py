"""Writing a translation with an encoder-decoder: greedy decoding and beam search, batched.

Both work on a batch of sentences at once, and each sentence's result depends on that sentence
only: every choice is made per row (``argmax``/``topk`` along the vocabulary of one row), padded
source steps get zero attention, and a sentence that has finished is left alone while the others
go on. So a sentence translates the same alone or in a batch of 64 (Joey NMT had to fix exactly
this, joeynmt PR #50; OpenNMT-py#318 lost 15 BLEU to a batch-size padding bug).

Beam search keeps ``K`` hypotheses per sentence. At each step it takes the ``2K`` best extensions
of all of them; those among the best ``K`` that end in ``</s>`` are finished, the ``K`` best that do
not go on (the bookkeeping of fairseq's ``sequence_generator``). A sentence is done when it has
``K`` finished hypotheses; the answer is the finished one with the best score normalised by Wu et
al. (2016)'s length penalty

    lp(Y) = ((5 + |Y|) / 6) ** alpha,   score = log P(Y | X) / lp(Y)

(``|Y|`` counts ``</s>``; ``alpha = 0``: plain log-probability). With ``K = 1`` this is greedy
decoding. ``<s>`` and ``<pad>`` are never written. Every output stops after ``max_len`` tokens (the length guard); such an output is marked
``finished=False``.

Shape letters: ``B`` sentences, ``K`` beam, ``S`` source steps, ``V`` target vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .errors import UserError
from .models.seq2seq import Seq2Seq

__all__ = ["Hypothesis", "beam_search", "greedy_decode", "length_penalty", "translate_ids"]


@dataclass
class Hypothesis:
    """One output sentence.

    Attributes:
        tokens: target ids, without ``</s>``.
        score: log-probability (beam search: divided by the length penalty).
        attention: ``(steps, S_i)`` weights of each output step (``</s>`` included when finished)
            over the sentence's own source steps, or ``None`` without attention.
        finished: ended with ``</s>`` (False: stopped by the length guard).
    """

    tokens: list[int]
    score: float
    attention: Tensor | None
    finished: bool


def length_penalty(length: int, alpha: float) -> float:
    """Wu et al. (2016), eq. 14: ``((5 + length) / 6) ** alpha``.

    >>> length_penalty(1, 0.6), round(length_penalty(7, 1.0), 3)
    (1.0, 2.0)
    """
    return ((5 + length) / 6) ** alpha


def _log_probs(model: Seq2Seq, logits: Tensor, bos: int) -> Tensor:
    """``log_softmax`` in float64 with ``<s>`` and ``<pad>`` ruled out (never written)."""
    logits = logits.double()
    logits[:, bos] = -math.inf
    pad = model.tgt_embed.padding_idx
    if pad is not None:
        logits[:, pad] = -math.inf
    return torch.log_softmax(logits, dim=-1)


def _check(beam: int, max_len: int) -> None:
    if beam < 1:
        raise UserError(f"--beam must be 1 or more, got {beam}")
    if max_len < 1:
        raise UserError(f"the maximum output length must be 1 or more, got {max_len}")


@torch.no_grad()
def greedy_decode(
    model: Seq2Seq, src: Tensor, src_lengths: Tensor, *, bos: int, eos: int, max_len: int
) -> list[Hypothesis]:
    """The most likely token at each step, for ``src (B, S)`` padded ids with ``src_lengths``."""
    _check(1, max_len)
    memory = model.encode(src, src_lengths)
    state = model.start(memory)
    B = src.shape[0]
    prev = torch.full((B,), bos, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    score = torch.zeros(B, dtype=torch.float64, device=src.device)
    toks, attn = [], []
    for _ in range(max_len):
        logits, state, weights = model.step(prev, state, memory)
        logp = _log_probs(model, logits, bos)  # (B, V)
        tok = logp.argmax(-1)  # (B,)
        score += torch.where(done, 0.0, logp.gather(1, tok[:, None]).squeeze(1))
        toks.append(tok)
        if weights is not None:
            attn.append(weights)
        done = done | (tok == eos)
        prev = tok
        if bool(done.all()):
            break
    ids = torch.stack(toks, 1).tolist()  # (B, steps)
    att = torch.stack(attn, 1) if attn else None  # (B, steps, S)
    out = []
    for b in range(B):
        row = ids[b]
        finished = eos in row
        n = row.index(eos) if finished else len(row)
        a = None if att is None else att[b, : n + finished, : int(src_lengths[b])].clone()
        out.append(Hypothesis(row[:n], float(score[b]), a, finished))
    return out


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    *,
    beam: int,
    bos: int,
    eos: int,
    max_len: int,
    alpha: float = 0.0,
) -> list[Hypothesis]:
    """The best of ``beam`` hypotheses per sentence under the length penalty ``alpha``."""
    _check(beam, max_len)
    B, K, dev = src.shape[0], beam, src.device
    rows = torch.arange(B, device=dev).repeat_interleave(K)  # (B*K,)
    memory = model.encode(src, src_lengths).select(rows)
    state = model.start(memory)
    scores = torch.full((B, K), -math.inf, dtype=torch.float64, device=dev)
    scores[:, 0] = 0.0  # one live hypothesis to start with
    prev = torch.full((B * K,), bos, dtype=torch.long, device=dev)
    hist = torch.zeros(B * K, 0, dtype=torch.long, device=dev)  # tokens so far
    ahist: Tensor | None = None  # (B*K, steps, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    base = torch.arange(B, device=dev)[:, None] * K  # (B, 1)
    for t in range(max_len):
        logits, state, weights = model.step(prev, state, memory)
        logp = _log_probs(model, logits, bos)  # (B*K, V)
        V = logp.shape[-1]
        cand = (scores.reshape(B * K, 1) + logp).reshape(B, K * V)
        n = min(2 * K, K * V)
        top, idx = cand.topk(n, dim=1)  # (B, n), best first
        parent, tok = idx // V, idx % V
        if weights is not None:
            step_attn = weights[:, None, :]
            ahist = step_attn if ahist is None else torch.cat([ahist, step_attn], 1)
        is_eos = tok == eos
        # finished hypotheses: '</s>' among the K best extensions of a sentence not yet done
        for b, r in (is_eos[:, :K] & torch.isfinite(top[:, :K])).nonzero().tolist():
            if done[b]:
                continue
            p = b * K + int(parent[b, r])
            a = None if ahist is None else ahist[p, :, : int(src_lengths[b])].clone()
            lp = length_penalty(t + 1, alpha)
            finished[b].append(Hypothesis(hist[p].tolist(), float(top[b, r]) / lp, a, True))
        for b in range(B):
            done[b] = done[b] or len(finished[b]) >= K
        if all(done):
            break
        # the K best extensions that do not end in '</s>' go on
        rank = torch.arange(n, device=dev).expand(B, n)
        keep = torch.where(is_eos, rank + n, rank).argsort(dim=1)[:, :K]  # (B, K)
        scores = torch.where(is_eos.gather(1, keep), -math.inf, top.gather(1, keep))
        flat = (base + parent.gather(1, keep)).reshape(-1)  # (B*K,)
        prev = tok.gather(1, keep).reshape(-1)
        state = state.select(flat)
        hist = torch.cat([hist[flat], prev[:, None]], 1)
        if ahist is not None:
            ahist = ahist[flat]
    out = []
    for b in range(B):
        if not done[b]:  # the length guard: the live hypotheses end here
            lp = length_penalty(max_len, alpha)
            for k in range(K):
                if math.isfinite(float(scores[b, k])):
                    p = b * K + k
                    a = None if ahist is None else ahist[p, :, : int(src_lengths[b])].clone()
                    finished[b].append(Hypothesis(hist[p].tolist(), float(scores[b, k]) / lp, a, False))  # fmt: skip
        out.append(max(finished[b], key=lambda h: h.score))
    return out


def translate_ids(
    model: Seq2Seq,
    sources: Sequence[Sequence[int]],
    *,
    pad: int,
    bos: int,
    eos: int,
    max_len: int,
    beam: int = 1,
    alpha: float = 0.0,
    batch_size: int = 64,
) -> list[Hypothesis]:
    """Translate id sequences (each at least one id) in batches of ``batch_size``, in order."""
    _check(beam, max_len)
    was_training = model.training
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    out: list[Hypothesis] = []
    try:
        for start in range(0, len(sources), batch_size):
            chunk = sources[start : start + batch_size]
            lengths = torch.tensor([len(s) for s in chunk], dtype=torch.long)
            src = np.full((len(chunk), int(lengths.max())), pad, dtype=np.int64)
            for r, s in enumerate(chunk):
                src[r, : len(s)] = s
            x = torch.from_numpy(src).to(device)  # the lengths stay on the CPU
            if beam == 1:
                out += greedy_decode(model, x, lengths, bos=bos, eos=eos, max_len=max_len)
            else:
                out += beam_search(
                    model, x, lengths, beam=beam, bos=bos, eos=eos, max_len=max_len, alpha=alpha
                )
    finally:
        model.train(was_training)
    return out
