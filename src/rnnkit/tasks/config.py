"""The data side of a run: how DATA is read (:class:`DataConfig`) and what training fitted to it.

:class:`DataConfig` is stored in ``config.json`` and :class:`Encoders` in ``labels.json``,
``vocab.json`` and ``scaler.json``, so ``predict`` and ``eval`` read new data exactly as training
read its data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError, check, from_json, option, to_json
from ..data.batching import LabelMap, PaddedSet
from ..data.vocab import Vocabulary
from ..errors import UserError
from ..runs import load_json, save_json

__all__ = ["DataConfig", "Encoders", "Loaded", "Splits"]


@dataclass
class DataConfig:
    """How DATA is read (each field a flag of ``rnnkit train classify|regress|tag``)."""

    task: str = option("classify", "the task", internal=True)  # classify | regress | tag
    format: str = option("auto", "how to read DATA (default: from the extension and the columns)",
                         choices=("auto", "text", "long-csv", "npz", "conll", "builtin", "table"))  # fmt: skip
    builtin: str | None = option(None, "the built-in set's name", internal=True)
    length: int | None = option(None, "synthetic sets: sequence length (adding 100, copy: delay "
                                "20, dinner 6)", low=1, metavar="T")  # fmt: skip
    text_column: str = option("text", "text column", metavar="C")
    label_column: str = option("label", "label or target column", metavar="C")
    level: str = option("char", "text tokens: char or word", choices=("char", "word", "word-v1"))
    lowercase: bool = option(False, "lowercase text before tokenizing")
    min_count: int = option(1, "rarer tokens become <unk>", low=1)
    max_vocab: int = option(0, "at most N symbols, <pad> and <unk> included; 0: all", low=0)
    max_length: int | None = option(None, "keep the first T steps of each sequence", low=1,
                                    metavar="T")  # fmt: skip
    id_column: str = option("id", "long CSV: sequence id", metavar="C")
    step_column: str = option("step", "long CSV: step order", metavar="C")
    feature_columns: list[str] | None = option(
        None, "long CSV: feature columns (default: all the others)", metavar="A,B"
    )
    val_fraction: float = option(0.1, "share of a file held out for validation", low=0, high=1,
                                 low_open=True, high_open=True, metavar="F")  # fmt: skip
    val_size: int = option(1000, "synthetic sets: rows in the validation and test sets", low=1,
                           internal=True)  # fmt: skip

    def __post_init__(self) -> None:
        check(self)
        if self.max_vocab == 1 or self.max_vocab == 2:
            raise ConfigError("max_vocab", f"must be 0 (all) or at least 3, got {self.max_vocab}")

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DataConfig:
        return from_json(cls, d, "the data settings")


@dataclass
class Encoders:
    """What training fitted to its data, applied unchanged to new data."""

    vocab: Vocabulary | None = None  # token ids, <pad> = 0 (None for numeric features)
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
    def load(cls, run: Path, level: str = "word-v1") -> Encoders:
        """Read what :meth:`save` wrote; ``level`` is how a format-1 vocabulary splits text."""
        scaler = load_json(run / "scaler.json")
        known = {"feature_names", "feature_mean", "feature_std", "target_mean", "target_std"}
        if not isinstance(scaler, dict) or set(scaler) - known:
            extra = sorted(set(scaler) - known) if isinstance(scaler, dict) else "not an object"
            raise UserError(f"{run / 'scaler.json'}: not an rnnkit scaler ({extra})")
        enc = cls(**scaler)
        if (run / "labels.json").exists():
            labels = load_json(run / "labels.json")
            if not isinstance(labels, list) or not all(isinstance(n, str) for n in labels):
                raise UserError(f"{run / 'labels.json'}: not a list of label names")
            enc.labels = LabelMap.from_json(labels)
        if (run / "vocab.json").exists():
            enc.vocab = Vocabulary.load(run / "vocab.json", level)  # type: ignore[arg-type]
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
