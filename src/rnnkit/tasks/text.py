"""The text task: a language model learns a corpus, character by character (or word by word).

``rnnkit train text [CORPUS...] --out RUN``; without a CORPUS it trains on the built-in corpus
(:mod:`rnnkit.data.builtin`) for two minutes. The run keeps ``vocab.json``; ``rnnkit sample RUN``
writes more text and ``rnnkit eval RUN FILE`` scores a held-out file.

The defaults were measured on tinyshakespeare (docs/TEXT.md): a 2-layer LSTM of 256 units on a
64-wide embedding, dropout 0.1, batches of 32 streams x 128 characters, Adam at 3e-3 with 100
steps of warm-up and a cosine decay to the end of the time budget, gradient norm clipped at 5.

Training is truncated BPTT over a long text:

The training text is read as ``B`` parallel streams (:class:`~rnnkit.data.text.StreamBatches`);
the model's final state after each window is detached and carried into the next, and dropped
when a new epoch starts. The carried state is part of :meth:`TextTask.state_dict`, so a resumed
run continues exactly. Validation scores the contiguous validation text
(:meth:`~rnnkit.models.language_model.LanguageModel.score`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError, check, option
from ..data.builtin import builtin_corpus
from ..data.text import StreamBatches, Window, read_corpus, split_stream
from ..data.vocab import Vocabulary, tokenize
from ..errors import UserError
from ..models.language_model import LanguageModel
from ..train.trainer import Task
from .spec import Prepared, RunConfig, TaskSpec, fingerprint

__all__ = ["BUILTIN", "TEXT", "TextData", "TextModel", "TextSpec", "TextTask", "text_metrics"]

BUILTIN = "builtin"  # the corpus entry of a run trained on the built-in corpus
BUILTIN_BUDGET = 120.0  # seconds, when training on the built-in corpus with no limit given
VOCAB = "vocab.json"


@dataclass
class TextData:
    """How the corpus is read and cut into training windows."""

    level: str = option("char", "symbols: char or word", choices=("char", "word"))
    seq_len: int = option(128, "symbols per truncated-BPTT window", low=1, high=1 << 20)
    val_fraction: float = option(0.1, "the final fraction of the text held out for validation",
                                 low=0, high=1, low_open=True, high_open=True, metavar="F")  # fmt: skip
    max_vocab: int = option(0, "keep the N-1 most frequent symbols, the rest become <unk> "
                            "(0: all for char, 10000 for word)", low=0)  # fmt: skip
    min_count: int = option(1, "rarer symbols become <unk>", low=1)
    encoding: str = option("utf-8", "the corpus files' encoding", metavar="NAME")

    def __post_init__(self) -> None:
        check(self)
        if self.max_vocab == 1:
            raise ConfigError("max_vocab", "must be 0 (all) or at least 2, got 1")


@dataclass
class TextModel:
    """What the language model adds around the layer."""

    embedding: int = option(64, "embedding size; 0 feeds one-hot vectors", low=0, high=1 << 16,
                            aliases=("--embed",))  # fmt: skip

    def __post_init__(self) -> None:
        check(self)


def text_metrics(nats: float, unit: str) -> dict[str, float]:
    """``val_loss`` (nats per symbol) with bits per symbol and perplexity beside it."""
    return {
        "val_loss": nats,
        f"val_bits_per_{unit}": nats / math.log(2),
        "val_perplexity": math.exp(min(nats, 700)),
    }


class TextTask(Task):
    """Next-symbol prediction on ``train_ids``, validated on ``val_ids``.

    Args:
        train_ids, val_ids: ``(N,)`` int64 symbol streams.
        batch: ``B`` parallel streams; seq_len: ``T`` symbols per window.
        level: ``"char"`` or ``"word"`` (names the unit in the logs).
        eval_streams: rows the validation text is read in (see ``LanguageModel.score``).
    """

    curve_scale = 1 / math.log(2)
    batch_dim = 1  # windows are (T, B): the streams are columns

    def __init__(
        self,
        train_ids: Tensor,
        val_ids: Tensor,
        batch: int,
        seq_len: int,
        level: str = "char",
        eval_streams: int = 16,
    ) -> None:
        self.stream = StreamBatches(train_ids, batch, seq_len)
        self.val_ids = val_ids
        self.eval_streams = eval_streams
        self.unit = level
        self.curve_label = f"bits per {level}"
        self.state: tuple[Tensor, ...] | None = None  # carried between windows

    def next_batch(self) -> Window:
        return self.stream.next()

    def loss(self, model: nn.Module, batch: Window) -> tuple[Tensor, int]:
        if batch.reset:
            self.state = None
        hx = None if self.state is None else (self.state if len(self.state) > 1 else self.state[0])
        logits, state = model(batch.x, hx)  # (T, B, V)
        parts = state if isinstance(state, tuple) else (state,)
        self.state = tuple(s.detach() for s in parts)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.y.flatten())
        return loss, batch.y.numel()

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        assert isinstance(model, LanguageModel)
        total, n = model.score(self.val_ids, streams=self.eval_streams)
        return text_metrics(total / n, self.unit)

    def describe(self, metrics: dict[str, float]) -> str:
        nats = metrics["val_loss"]
        if self.unit == "char":
            return f"val {nats / math.log(2):.3f} bits/char ({nats:.3f} nats)"
        return f"val perplexity {math.exp(nats):.1f} ({nats:.3f} nats/{self.unit})"

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.stream.state_dict())
        if self.state is not None:
            out.update({f"carry.{i}": s for i, s in enumerate(self.state)})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state)
        carried = sorted(
            (k for k in state if k.startswith("carry.")), key=lambda k: int(k.split(".")[1])
        )
        self.state = tuple(state[k] for k in carried) or None


# ----- the task spec --------------------------------------------------------------------------


def _read(sources: list[str], encoding: str) -> tuple[str, str, list[str]]:
    """(text, description, sources as stored: absolute paths, or ``builtin``)."""
    if not sources or sources == [BUILTIN]:
        text, where = builtin_corpus()
        return text, where, [BUILTIN]
    text, files = read_corpus(sources, encoding)
    where = str(files[0]) if len(files) == 1 else f"{len(files)} files"
    return text, where, [str(Path(c).resolve()) for c in sources]


@dataclass
class TextArtifacts:
    vocab: Vocabulary


class TextSpec(TaskSpec):
    name = "text"
    help = "learn a text and write more of it (char-rnn)"
    description = (
        "Train a recurrent language model on text files (or, with no CORPUS, on the built-in "
        "corpus: Python standard-library source, for 2 minutes)."
    )
    Data = TextData
    Model = TextModel
    defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "layer": {"dropout": 0.1},
        "train": {"lr": 3e-3, "batch_size": 32, "time_budget": 300.0, "max_steps": 0,
                  "warmup": 100, "schedule": "cosine", "eval_every": 250,
                  "checkpoint_every": 500, "clip": 5.0},
    }  # fmt: skip
    data_nargs = "*"
    data_help = "text files or directories (default: the built-in corpus)"
    extra_flags: ClassVar[Mapping[str, tuple[str, str, Any]]] = {
        "--one-hot": ("model", "embedding", 0)
    }

    def adjust(self, given: Any, cfg: RunConfig) -> None:
        train = given.get("train", {})
        if "max_steps" in train and "time_budget" not in train:
            cfg.train.time_budget = 0.0  # a step limit alone means: no time limit
        elif not train.keys() & {"max_steps", "time_budget"} and cfg.sources in ([], [BUILTIN]):
            cfg.train.time_budget = BUILTIN_BUDGET
        if "max_vocab" not in given.get("data", {}) and cfg.data.level == "word":
            cfg.data.max_vocab = 10_000

    def prepare(self, cfg: RunConfig) -> Prepared:
        d: TextData = cfg.data
        text, where, cfg.sources = _read(cfg.sources, d.encoding)
        tokens = tokenize(text, d.level)
        n_val = max(1, round(len(tokens) * d.val_fraction))
        if len(tokens) - n_val < 2 or n_val < 2:
            raise UserError(
                f"{where}: {len(tokens):,} {d.level}s are too few to train and validate on"
            )
        vocab = Vocabulary.from_tokens(
            tokens[: len(tokens) - n_val],
            d.level,
            d.max_vocab,
            d.min_count,
        )
        ids = torch.tensor(vocab.encode_tokens(tokens), dtype=torch.long)
        train_ids, val_ids = split_stream(ids, d.val_fraction)
        T, B = d.seq_len, cfg.train.batch_size
        if len(train_ids) < B * T + 1:
            raise UserError(
                f"{where}: the training text has {len(train_ids):,} {d.level}s, fewer than one "
                f"window of --batch-size {B} x --seq-len {T} (+1) = {B * T + 1:,}; use a longer "
                "text or lower --batch-size or --seq-len"
            )
        cfg.fingerprint = fingerprint(text)
        prime = "\n" if "\n" in vocab else vocab.symbols[1] if len(vocab) > 1 else ""
        cfg.info = {"source": where, "symbols": len(tokens), "vocab_size": len(vocab),
                    "prime": prime}  # fmt: skip
        task = TextTask(train_ids, val_ids, B, T, d.level)
        describe = (
            f"on {len(train_ids):,} {d.level}s from {where} ({len(vocab)} symbols), "
            f"validating on {len(val_ids):,}"
        )
        return Prepared(task, TextArtifacts(vocab), describe)

    def build_model(self, cfg: RunConfig, artifacts: Any) -> LanguageModel:
        V, E = len(artifacts.vocab), cfg.model.embedding
        return LanguageModel(V, cfg.layer.build(E or V), embed=E, dropout=cfg.layer.dropout)

    def save_artifacts(self, run: Path, artifacts: Any) -> None:
        artifacts.vocab.save(run / VOCAB)

    def load_artifacts(self, run: Path, cfg: RunConfig) -> TextArtifacts:
        vocab = Vocabulary.load(run / VOCAB)
        if "vocab_size" in cfg.info and len(vocab) != cfg.info["vocab_size"]:
            raise UserError(
                f"{run / VOCAB}: has {len(vocab)} symbols, the model {cfg.info['vocab_size']}"
            )
        return TextArtifacts(vocab)

    def finish(self, model: nn.Module, prep: Prepared, run: Path, result: Any) -> list[str]:
        return [] if result.interrupted else [f"write with: rnnkit sample {run} --prime ..."]


TEXT = TextSpec()
