"""From loaded records to padded batches: label maps, padding with lengths (the vocabulary is
:class:`rnnkit.data.vocab.Vocabulary`).

Sequences of different lengths are stored padded, side by side with their ``lengths``; a batch is
a set of row indices, trimmed to its longest row. Nothing is sorted: rnnkit layers take
``lengths=`` and keep padding out of every output and final state, and the models pool and score
valid steps only, so what sits in the padding never matters (tests change it and check).

Shape letters: ``N`` sequences, ``T`` steps (the longest), ``F`` features, ``B`` rows in a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError

__all__ = [
    "IGNORE_INDEX",
    "Batch",
    "LabelMap",
    "PaddedSet",
    "batch_indices",
    "pad_sequences",
    "split_indices",
]

IGNORE_INDEX = -100  # per-step target past a row's length (``F.cross_entropy``'s ignore_index)

UnknownPolicy = Literal["error", "skip"]


def pad_sequences(seqs: Sequence[np.ndarray], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``N`` arrays ``(T_i, ...)`` into ``(N, max T_i, ...)``, zeros past each length.

    >>> x, lengths = pad_sequences([np.array([1, 2, 3]), np.array([4])], np.int64)
    >>> x.tolist(), lengths.tolist()
    ([[1, 2, 3], [4, 0, 0]], [3, 1])
    """
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    T = int(lengths.max()) if len(seqs) else 0
    tail = seqs[0].shape[1:] if len(seqs) else ()
    out = np.zeros((len(seqs), T, *tail), dtype=dtype)
    for n, s in enumerate(seqs):
        out[n, : len(s)] = s
    return out, lengths


@dataclass
class Batch:
    """A batch as the models take it (batch-first).

    Attributes:
        x: ``(B, T)`` int64 token ids or ``(B, T, F)`` float32 features.
        lengths: ``(B,)`` int64.
        y: ``(B,)`` int64 classes, ``(B,)`` float32 values, ``(B, T)`` int64 tags (``IGNORE_INDEX``
            past each length), or ``None``.
    """

    x: Tensor
    lengths: Tensor
    y: Tensor | None


@dataclass
class PaddedSet:
    """``N`` sequences stored padded.

    Attributes:
        x: ``(N, T)`` int64 token ids or ``(N, T, F)`` float32 features, zeros past each length.
        lengths: ``(N,)`` int64, each at least 1.
        y: ``(N,)`` int64 class ids, ``(N,)`` float32 values, ``(N, T)`` int64 tags
            (``IGNORE_INDEX`` past each length), or ``None`` for unlabelled data.
        names: a name per row for messages and outputs (``"row 3"``, a sequence id, ...).
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None
    names: list[str]

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_features(self) -> int | None:
        """``F`` for feature sequences, ``None`` for token ids."""
        return int(self.x.shape[2]) if self.x.ndim == 3 else None

    def subset(self, idx: Sequence[int] | np.ndarray) -> PaddedSet:
        idx = np.asarray(idx, dtype=np.int64)
        y = None if self.y is None else self.y[idx]
        return PaddedSet(self.x[idx], self.lengths[idx], y, [self.names[i] for i in idx])

    def batch(self, idx: Sequence[int] | np.ndarray) -> Batch:
        """Rows ``idx`` as tensors, trimmed to the longest of them."""
        idx = np.asarray(idx, dtype=np.int64)
        lengths = self.lengths[idx]
        T = int(lengths.max()) if len(idx) else 0
        y = None
        if self.y is not None:
            y = torch.from_numpy(self.y[idx][:, :T] if self.y.ndim == 2 else self.y[idx])
        return Batch(torch.from_numpy(self.x[idx, :T]), torch.from_numpy(lengths), y)


def batch_indices(
    n: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` once: shuffled with ``rng``, in order without it."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split ``range(n)`` at random into parts of these fractions; the first takes the rest.

    >>> [len(p) for p in split_indices(10, [0.8, 0.2], seed=0)]
    [8, 2]
    """
    order = np.random.default_rng(seed).permutation(n)
    sizes = [round(f * n) for f in fractions[1:]]
    first = n - sum(sizes)
    cuts = np.cumsum([first, *sizes])[:-1]
    return [np.sort(part) for part in np.split(order, cuts)]


def _label_key(label: str) -> tuple[int, float, str]:
    """Sort numeric labels by value ("2" before "10"), then the rest alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


class LabelMap:
    """Class name <-> id, built from the training labels.

    >>> m = LabelMap.build(["pos", "neg", "pos"], "data.csv")
    >>> m.names, m.encode(["pos", "neg"], "test.csv").tolist()
    (['neg', 'pos'], [1, 0])
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def build(cls, labels: Iterable[str], source: str, what: str = "label") -> LabelMap:
        """All distinct labels, sorted; fewer than two classes is a :class:`UserError`."""
        names = sorted(set(labels), key=_label_key)
        if len(names) < 2:
            only = f"only one class ({names[0]!r})" if names else "no labels at all"
            raise UserError(
                f"{source}: the {what}s have {only}; a classifier needs at least two classes"
            )
        return cls(names)

    def __len__(self) -> int:
        return len(self.names)

    def encode(
        self,
        labels: Sequence[str],
        source: str,
        row_names: Sequence[str] | None = None,
        policy: UnknownPolicy = "error",
    ) -> np.ndarray:
        """Ids for ``labels``; an unseen label is an error, or -1 with ``policy="skip"``."""
        ids = np.array([self.index.get(lab, -1) for lab in labels], dtype=np.int64)
        if policy == "error" and (ids < 0).any():
            k = int(np.flatnonzero(ids < 0)[0])
            where = row_names[k] if row_names is not None else f"row {k + 1}"
            known = ", ".join(self.names[:20]) + (", ..." if len(self.names) > 20 else "")
            raise UserError(
                f"{source} {where}: label {labels[k]!r} was not seen in training (known: {known}); "
                "pass --unknown-label skip to leave such rows out"
            )
        return ids

    def to_json(self) -> list[str]:
        return list(self.names)

    @classmethod
    def from_json(cls, names: list[str]) -> LabelMap:
        return cls(names)
