"""The data side of a run: how DATA is read (:class:`DataConfig`) and what training fitted to it.

:class:`DataConfig` is stored in ``config.json`` and :class:`Encoders` in ``labels.json``,
``vocab.json`` and ``scaler.json``, so ``predict`` and ``eval`` read new data exactly as training
read its data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.batching import LabelMap, PaddedSet, Vocab
from ..runs import load_json, save_json

__all__ = ["DataConfig", "Encoders", "Loaded", "Splits", "tokenize"]


@dataclass
class DataConfig:
    """How DATA is read (the CLI's data flags, one to one; stored in ``config.json``)."""

    task: str  # classify | regress | tag
    format: str = "auto"  # auto | text | long-csv | npz | conll; "builtin" once resolved to one
    builtin: str | None = None  # the built-in set's name, when DATA is one
    length: int | None = None  # T of a synthetic task (its default when None)
    text_column: str = "text"
    label_column: str = "label"
    level: str = "char"  # char | word: how text is cut into tokens
    lowercase: bool = False
    min_count: int = 1  # rarer tokens become <unk>
    max_vocab: int | None = None  # keep only the most frequent tokens
    max_length: int | None = None  # keep the first N steps of longer sequences
    id_column: str = "id"  # long CSV: the sequence id
    step_column: str = "step"  # long CSV: the step order
    feature_columns: list[str] | None = None  # long CSV: default all other columns
    val_fraction: float = 0.1  # files: the share held out for validation
    val_size: int = 1000  # synthetic sets: sequences in the fixed validation and test sets

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DataConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Encoders:
    """What training fitted to its data, applied unchanged to new data."""

    vocab: Vocab | None = None  # token ids (None for numeric features)
    labels: LabelMap | None = None  # class or tag names (None for regression)
    feature_names: list[str] | None = None
    feature_mean: list[float] | None = None  # z-scoring of numeric features (None: as they are)
    feature_std: list[float] | None = None
    target_mean: float = 0.0  # regression: the model predicts (y - mean) / std
    target_std: float = 1.0

    @property
    def input_size(self) -> int:
        if self.vocab is not None:
            return len(self.vocab)
        assert self.feature_names is not None
        return len(self.feature_names)

    def scale(self, seqs: list[np.ndarray]) -> list[np.ndarray]:
        if self.feature_mean is None or self.feature_std is None:
            return seqs
        mean = np.array(self.feature_mean, dtype=np.float32)
        std = np.array(self.feature_std, dtype=np.float32)
        return [(s - mean) / std for s in seqs]

    def save(self, run: Path) -> None:
        """``labels.json``, ``vocab.json`` and ``scaler.json``, as they apply."""
        if self.labels is not None:
            save_json(run / "labels.json", self.labels.to_json())
        if self.vocab is not None:
            save_json(run / "vocab.json", self.vocab.to_json())
        scaler = {"feature_names": self.feature_names, "feature_mean": self.feature_mean,
                  "feature_std": self.feature_std, "target_mean": self.target_mean,
                  "target_std": self.target_std}  # fmt: skip
        save_json(run / "scaler.json", scaler)

    @classmethod
    def load(cls, run: Path) -> Encoders:
        enc = cls(**load_json(run / "scaler.json"))
        if (run / "labels.json").exists():
            enc.labels = LabelMap.from_json(load_json(run / "labels.json"))
        if (run / "vocab.json").exists():
            enc.vocab = Vocab.from_json(load_json(run / "vocab.json"))
        return enc


@dataclass
class Splits:
    """Training data: a fixed set or a generator of fresh batches, and validation (and test) sets."""

    val: PaddedSet
    train: PaddedSet | None = None
    stream: Callable[[int, np.random.Generator], PaddedSet] | None = None
    test: PaddedSet | None = None


@dataclass
class Loaded:
    """Data to evaluate or predict: padded, plus the tokens of a CoNLL file (to write them back)."""

    data: PaddedSet
    tokens: list[list[str]] | None = None
    skipped: int = 0  # rows (or tokens) left out for an unknown label
    has_labels: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def tokenize(text: str, level: str, lowercase: bool) -> list[str]:
    """Characters, or words and punctuation marks.

    >>> tokenize("Don't stop!", "word", True)
    ['don', "'", 't', 'stop', '!']
    """
    if lowercase:
        text = text.lower()
    return list(text) if level == "char" else re.findall(r"\w+|[^\w\s]", text)
