"""The translation task: sentence pairs in, an encoder-decoder (:class:`~rnnkit.models.seq2seq.Seq2Seq`)
trained on them, translations out.

* Data: a built-in set by name (``dates``, ``numbers``, ``reverse``; :mod:`rnnkit.data.pairs_builtin`)
  or a pair file (:mod:`rnnkit.data.pairs`; 5 % of it, at most 1,000 pairs each, is kept aside
  for validation and for test, seeded). The level defaults to what suits the data: characters
  for ``dates`` and ``numbers`` (their symbols are digits and letters), words for ``reverse``
  (each integer is a word) and for files of sentences.
* Training (the trainer's :class:`~rnnkit.train.trainer.Task` protocol): shuffled epochs in batches of
  similar source length (less padding); the loss is the cross-entropy per target token, ``<pad>``
  left out. Teacher forcing, or scheduled sampling (Bengio et al. 2015, sec. 2.4): the probability
  ``e_i`` of feeding the gold previous token at step ``i`` decays ``linear``
  (``max(0, 1 - i / k)``), ``exponential`` (``k ** i``, ``k < 1``) or ``inverse-sigmoid``
  (``k / (k + exp(i / k))``, ``k >= 1``), never below ``sampling_floor``; with no schedule it is
  ``teacher_forcing`` throughout (1: plain teacher forcing).
* Evaluation: ``val_loss`` (per token), and exact match of greedy translations of the first
  ``eval_sentences`` validation pairs.

Shape letters as in :mod:`rnnkit.models.seq2seq`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from ..data.pairs import PairBatch, PairOptions, Pairs, PairSet, filter_length, read_pairs
from ..data.pairs_builtin import BUILTIN_PAIRS, builtin_pairs
from ..data.vocab import Level, Vocabulary, tokenize
from ..decoding import Hypothesis, translate_ids
from ..errors import UserError
from ..layers import RecurrentLayer
from ..models.seq2seq import ATTENTIONS, Seq2Seq, make_attention, seq2seq_loss
from ..train.trainer import Task

__all__ = [
    "SCHEDULES",
    "PairData",
    "TranslateConfig",
    "TranslateTask",
    "build_seq2seq",
    "default_level",
    "load_pair_data",
    "truth_probability",
]

SCHEDULES = ("off", "linear", "exponential", "inverse-sigmoid")


@dataclass
class TranslateConfig:
    """The task's and the model head's settings (stored in ``config.json`` under ``"translate"``)."""

    level: str = "auto"  # char | word | auto (char for dates/numbers, word otherwise)
    attention: str = "bahdanau"  # bahdanau | luong-dot | luong-general | none
    input_feeding: bool = True  # feed the attentional vector back (Luong et al. 2015, 3.3)
    embedding: int = 64  # target (and source) embedding size
    dropout: float = 0.0  # on embeddings and on the attentional vector, in training
    teacher_forcing: float = 1.0  # probability of feeding the gold token (no schedule)
    scheduled_sampling: str = "off"  # off | linear | exponential | inverse-sigmoid
    sampling_k: float = 0.0  # the schedule's k (steps for linear; see the module docstring)
    sampling_floor: float = 0.0  # the schedule's lowest probability of the gold token
    max_length: int = 0  # drop pairs with a side longer than this many symbols (0: keep all)
    lower: bool = False  # lower-case both sides
    reverse: bool = False  # translate the other way (target -> source)
    source_column: str = "source"  # CSV/JSONL
    target_column: str = "target"  # CSV/JSONL
    batch_size: int = 64  # pairs per training batch
    eval_sentences: int = 500  # validation pairs translated (greedy) at each evaluation
    max_output: int = 0  # the length guard in symbols (0: twice the longest training target + 10)

    def __post_init__(self) -> None:
        checks = [
            ("--level", self.level in ("auto", "char", "word"), "char, word or auto"),
            ("--attention", self.attention in ATTENTIONS, ", ".join(ATTENTIONS)),
            ("--embedding", self.embedding >= 1, "a positive integer"),
            ("--dropout", 0 <= self.dropout < 1, "in [0, 1)"),
            ("--teacher-forcing", 0 <= self.teacher_forcing <= 1, "a probability"),
            ("--sampling-floor", 0 <= self.sampling_floor <= 1, "a probability"),
            ("--scheduled-sampling", self.scheduled_sampling in SCHEDULES, ", ".join(SCHEDULES)),
            ("--max-length", self.max_length >= 0, "0 or more"),
            ("--batch", self.batch_size >= 1, "1 or more"),
            ("--eval-sentences", self.eval_sentences >= 0, "0 or more"),
            ("--max-output", self.max_output >= 0, "0 or more"),
        ]
        for flag, ok, want in checks:
            if not ok:
                raise UserError(f"{flag} must be {want}")
        if self.scheduled_sampling != "off":
            k, s = self.sampling_k, self.scheduled_sampling
            if (s == "exponential" and not 0 < k < 1) or (s != "exponential" and k < 1):
                raise UserError(
                    f"--sampling-k {k}: {s} needs "
                    + ("0 < k < 1" if s == "exponential" else "k >= 1")
                )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TranslateConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def options(self) -> PairOptions:
        return PairOptions(self.lower, self.reverse, self.source_column, self.target_column)


def truth_probability(cfg: TranslateConfig, step: int) -> float:
    """The probability of feeding the gold previous token at training step ``step``.

    >>> c = TranslateConfig(scheduled_sampling="inverse-sigmoid", sampling_k=100, sampling_floor=0.2)
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


def default_level(data: str, cfg: TranslateConfig) -> Level:
    """``cfg.level``, or for ``auto``: char for ``dates`` and ``numbers``, word otherwise."""
    if cfg.level != "auto":
        return "char" if cfg.level == "char" else "word"
    return "char" if data in ("dates", "numbers") else "word"


@dataclass
class PairData:
    """Train / validation / test pairs, and how many were dropped by the length limit."""

    train: Pairs
    val: Pairs
    tests: dict[str, Pairs]
    dropped: int


def _swap(p: Pairs) -> Pairs:
    return Pairs(p.targets, p.sources, p.origins)


def load_pair_data(
    data: str, cfg: TranslateConfig, level: Level, seed: int, train_size: int = 0
) -> PairData:
    """A built-in set by name (``train_size`` training pairs, 0: its default) or a pair file,
    split, filtered by ``cfg.max_length``."""
    if data in BUILTIN_PAIRS:
        b = builtin_pairs(data, seed, train_size)
        train, val, tests = b.train, b.val, dict(b.tests)
        if cfg.reverse:
            train, val = _swap(train), _swap(val)
            tests = {k: _swap(v) for k, v in tests.items()}
    elif not Path(data).exists():
        raise UserError(f"{data}: no such file, nor a built-in set ({', '.join(BUILTIN_PAIRS)})")
    else:
        pairs = read_pairs(data, cfg.options())
        n = len(pairs)
        k = min(1000, n // 20)
        if n < 3 or k == 0:
            raise UserError(
                f"{data}: {n} pairs; at least 20 are needed to keep some for validation"
            )
        order = np.random.default_rng(seed).permutation(n)
        val, test = pairs.subset(order[:k]), pairs.subset(order[k : 2 * k])
        train, tests = pairs.subset(sorted(order[2 * k :])), {"test": test}
    train, dropped = filter_length(train, level, cfg.max_length)
    if not len(train):
        raise UserError(f"{data}: every pair is longer than --max-length {cfg.max_length}")
    val, _ = filter_length(val, level, cfg.max_length)
    return PairData(train, val, tests, dropped)


def build_seq2seq(
    make_encoder: Callable[[int], nn.Module],
    make_decoder: Callable[[int], RecurrentLayer],
    decoder_output: int,
    cfg: TranslateConfig,
    src_vocab: Vocabulary,
    tgt_vocab: Vocabulary,
) -> Seq2Seq:
    """The model: ``make_encoder(E)``, ``make_decoder(E + H)`` (``H = decoder_output``, the decoder
    layer's output size; ``E`` without input feeding) and the attention ``cfg.attention``."""
    E, H = cfg.embedding, decoder_output
    encoder = make_encoder(E)
    decoder = make_decoder(E + (H if cfg.input_feeding else 0))
    from ..models.classifier import layer_output_size

    M = layer_output_size(encoder)
    try:
        attention = make_attention(cfg.attention, H, M)
    except ValueError as e:
        raise UserError(f"--attention {cfg.attention}: {e}") from e
    return Seq2Seq(encoder, decoder, len(src_vocab), len(tgt_vocab), attention=attention,
                   input_feeding=cfg.input_feeding, src_pad=src_vocab.index["<pad>"],
                   tgt_pad=tgt_vocab.index["<pad>"], dropout=cfg.dropout)  # fmt: skip


def max_output_length(cfg: TranslateConfig, train: PairSet) -> int:
    """The length guard: ``cfg.max_output``, or twice the longest training target + 10."""
    return cfg.max_output or 2 * max(len(t) for t in train.tgt_ids) + 10


def _length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    """An epoch: shuffled, then sorted by source length within chunks of 50 batches, cut into
    batches, and the batches shuffled (similar lengths together: less padding)."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class TranslateTask(Task):
    """Trains a :class:`Seq2Seq` on ``train``, evaluates on ``val`` (see the module docstring)."""

    unit = "token"
    curve_label = "cross-entropy per token (nats)"

    def __init__(self, train: PairSet, val: PairSet, cfg: TranslateConfig, seed: int) -> None:
        self.train, self.val, self.cfg = train, val, cfg
        self.rng = np.random.default_rng(seed)
        self.lengths = train.src_lengths()
        self.max_len = max_output_length(cfg, train)
        self.epoch, self.step = 0, 0
        self._order: list[np.ndarray] = []

    def next_batch(self) -> PairBatch:
        if not self._order:
            self._order = _length_batches(self.lengths, self.cfg.batch_size, self.rng)
            self.epoch += 1
        self.step += 1
        return self.train.batch(self._order.pop(0))

    def loss(self, model: nn.Module, batch: PairBatch) -> tuple[Tensor, int]:
        p = 1.0 - truth_probability(self.cfg, self.step - 1)
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt_in, sampling_prob=p)
        total, n = seq2seq_loss(logits, batch.tgt_out, self.train.tgt_pad)
        return total / max(n, 1), n

    def translate(self, model: nn.Module, data: PairSet, n: int, beam: int = 1) -> list[Hypothesis]:
        assert isinstance(model, Seq2Seq)
        return translate_ids(model, [list(a) for a in data.src_ids[:n]], pad=data.src_pad,
                             bos=data.bos, eos=data.eos, max_len=self.max_len, beam=beam)  # fmt: skip

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        total, count = 0.0, 0
        for start in range(0, len(self.val), 256):
            b = self.val.batch(np.arange(start, min(start + 256, len(self.val))))
            logits, _ = model(b.src, b.src_lengths, b.tgt_in)
            lo, n = seq2seq_loss(logits, b.tgt_out, self.val.tgt_pad)
            total, count = total + float(lo), count + n
        out = {"val_loss": total / max(count, 1)}
        n = min(self.cfg.eval_sentences, len(self.val))
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


def source_tokens(text: str, vocab: Vocabulary) -> list[str]:
    """The symbols of ``text`` at ``vocab``'s level (labels for attention pictures)."""
    return tokenize(text, vocab.level)
