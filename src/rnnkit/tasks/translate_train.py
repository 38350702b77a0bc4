"""What the trainer runs for translation: batches of pairs, the loss, evaluation, scheduled sampling.

* Batches: shuffled epochs, sorted by source length within chunks of 50 batches (similar lengths
  together, less padding), the batches then shuffled.
* Loss: cross-entropy per target token, ``<pad>`` left out (:func:`~rnnkit.models.seq2seq.seq2seq_loss`).
* Teacher forcing, or scheduled sampling (Bengio et al. 2015, sec. 2.4): the probability ``e_i``
  of feeding the gold previous token at step ``i`` decays ``linear`` (``max(0, 1 - i / k)``),
  ``exponential`` (``k ** i``, ``k < 1``) or ``inverse-sigmoid`` (``k / (k + exp(i / k))``,
  ``k >= 1``), never below ``sampling_floor``; with no schedule it is ``teacher_forcing``
  throughout (1: plain teacher forcing).
* Evaluation: ``val_loss`` (per token) and the exact match of greedy translations of the first
  ``eval_sentences`` validation pairs.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from ..data.pairs import PairBatch, PairSet
from ..decoding import Hypothesis, translate_ids
from ..models.seq2seq import Seq2Seq, seq2seq_loss
from ..train.trainer import Task

__all__ = ["SCHEDULES", "TranslateTask", "max_output_length", "truth_probability"]

SCHEDULES = ("off", "linear", "exponential", "inverse-sigmoid")


class Sampling(Protocol):
    """The settings :func:`truth_probability` reads (the task's model config has them)."""

    teacher_forcing: float
    scheduled_sampling: str
    sampling_k: float
    sampling_floor: float


def truth_probability(cfg: Sampling, step: int) -> float:
    """The probability of feeding the gold previous token at training step ``step``.

    >>> from types import SimpleNamespace as S
    >>> c = S(teacher_forcing=1.0, scheduled_sampling="inverse-sigmoid", sampling_k=100,
    ...       sampling_floor=0.2)
    >>> [round(truth_probability(c, s), 3) for s in (0, 500, 2000)]
    [0.99, 0.403, 0.2]
    """
    k, s = cfg.sampling_k, cfg.scheduled_sampling
    if s == "off":
        return cfg.teacher_forcing
    if s == "linear":
        e = 1.0 - step / k
    elif s == "exponential":
        e = k**step
    else:
        e = k / (k + math.exp(min(step / k, 700.0)))
    return max(cfg.sampling_floor, e)


def max_output_length(train: PairSet, max_output: int = 0) -> int:
    """The length guard: ``max_output``, or twice the longest training target + 10."""
    return max_output or 2 * max(len(t) for t in train.tgt_ids) + 10


def _length_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _device(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


class TranslateTask(Task):
    """Trains a :class:`Seq2Seq` on ``train``, evaluates on ``val`` (see the module docstring).

    Args:
        train, val: encoded pairs.
        sampling: teacher forcing / scheduled sampling settings (:class:`Sampling`).
        batch_size: pairs per batch.
        max_len: the decoding length guard.
        eval_sentences: validation pairs translated greedily at each evaluation.
        seed: seeds the batch order.
    """

    unit = "token"
    curve_label = "cross-entropy per token (nats)"

    def __init__(self, train: PairSet, val: PairSet, sampling: Sampling, batch_size: int,
                 max_len: int, eval_sentences: int, seed: int) -> None:  # fmt: skip
        self.train, self.val, self.sampling = train, val, sampling
        self.batch_size, self.max_len, self.eval_sentences = batch_size, max_len, eval_sentences
        self.rng = np.random.default_rng(seed)
        self.lengths = train.src_lengths()
        self.epoch, self.step = 0, 0
        self._order: list[np.ndarray] = []

    def next_batch(self) -> PairBatch:
        if not self._order:
            self._order = _length_batches(self.lengths, self.batch_size, self.rng)
            self.epoch += 1
        self.step += 1
        return self.train.batch(self._order.pop(0))

    def loss(self, model: nn.Module, batch: PairBatch) -> tuple[Tensor, int]:
        p = 1.0 - truth_probability(self.sampling, self.step - 1)
        dev = _device(model)  # batches are made on the CPU; lengths stay there
        logits, _ = model(batch.src.to(dev), batch.src_lengths, batch.tgt_in.to(dev),
                          sampling_prob=p)  # fmt: skip
        total, n = seq2seq_loss(logits, batch.tgt_out.to(dev), self.train.tgt_pad)
        return total / max(n, 1), n

    def translate(self, model: nn.Module, data: PairSet, n: int, beam: int = 1) -> list[Hypothesis]:
        """Translate the first ``n`` pairs of ``data``."""
        assert isinstance(model, Seq2Seq)
        return translate_ids(model, [list(a) for a in data.src_ids[:n]], pad=data.src_pad,
                             bos=data.bos, eos=data.eos, max_len=self.max_len, beam=beam)  # fmt: skip

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        total, count = 0.0, 0
        for start in range(0, len(self.val), 256):
            b = self.val.batch(np.arange(start, min(start + 256, len(self.val))))
            dev = _device(model)
            logits, _ = model(b.src.to(dev), b.src_lengths, b.tgt_in.to(dev))
            lo, n = seq2seq_loss(logits, b.tgt_out.to(dev), self.val.tgt_pad)
            total, count = total + float(lo), count + n
        out = {"val_loss": total / max(count, 1)}
        n = min(self.eval_sentences, len(self.val))
        if n:
            hyps = self.translate(model, self.val, n)
            right = sum(h.tokens == list(self.val.tgt_ids[i]) for i, h in enumerate(hyps))
            out["val_exact"] = 100.0 * right / n
        return out

    def describe(self, metrics: dict[str, float]) -> str:
        text = f"val loss {metrics['val_loss']:.4f}"
        if "val_exact" in metrics:
            text += f", exact match {metrics['val_exact']:.1f}%"
        return text

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "epoch": self.epoch, "step": self.step,
                "order": [o.tolist() for o in self._order]}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self._order = [np.array(o, dtype=np.int64) for o in state["order"]]
