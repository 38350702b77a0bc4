"""Synthetic long-memory tasks, generated on the fly: the adding problem, copy-memory, dinner.

* ``adding`` — regression (Hochreiter & Schmidhuber 1997, experiment 4; the form used since Le,
  Jaitly & Hinton 2015 and Arjovsky, Shah & Bengio 2016). Each step carries two inputs: a value
  drawn from U(0, 1) and a marker. Exactly two steps are marked, one in each half of the sequence;
  the target is the sum of their two values. Predicting the mean (1) scores MSE = Var(u1 + u2) =
  2/12 ≈ 0.167; a network must carry a value across up to ``T`` steps to do better.
* ``copy`` — copy-memory, tagging (Hochreiter & Schmidhuber 1997; in the form of Arjovsky et al.
  2016). Ten symbols from an alphabet of 8, then ``T - 1`` blanks, a delimiter, and ten more blanks;
  the target is blank everywhere except the last ten steps, which must repeat the first ten
  symbols. Without memory the best is blanks then a uniform guess: cross-entropy
  ``10 log 8 / (T + 20)`` per step.
* ``dinner`` — the cook's pizza, sushi, waffles cycle (see :mod:`rnnkit.toys`), made a memory task:
  day 0 shows the first dish; then each day shows only the weather. A rainy day moves the cook on to
  the next dish in the cycle, a sunny day brings yesterday's dish again, so the dish on day ``t`` is
  the first dish plus the number of rainy days so far, modulo 3. Tagging predicts every day's dish;
  classification predicts the last day's. Guessing scores 1/3. Tagging is easy (every day's dish
  is a target, so the count is learnt step by step); classification is not: counting modulo 3 with
  one error signal at the end is a cousin of parity, and training stays at chance for a long
  plateau that grows with ``T`` (hence the default ``T = 6``).

Shape letters: ``N`` sequences, ``T`` steps, ``F`` features per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..toys import DINNERS

__all__ = [
    "COPY_TAGS",
    "SYNTHETIC",
    "SyntheticTask",
    "adding",
    "adding_baseline_mse",
    "copy_baseline_xent",
    "copy_memory",
    "dinner",
]

COPY_SYMBOLS = 8  # alphabet a1..a8; a0 is the blank and a9 the delimiter
COPY_SPAN = 10  # symbols to remember
COPY_TAGS = ["_", *(str(k) for k in range(1, COPY_SYMBOLS + 1))]


def adding(n: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` adding-problem sequences of length ``T >= 2``.

    Returns:
        ``X (n, T, 2)`` float32 (value, marker) and ``y (n,)`` float32.

    >>> X, y = adding(3, 10, np.random.default_rng(0))
    >>> X.shape, bool(np.allclose(y, (X[..., 0] * X[..., 1]).sum(1))), X[..., 1].sum(1).tolist()
    ((3, 10, 2), True, [2.0, 2.0, 2.0])
    """
    half = T // 2
    values = rng.random((n, T), dtype=np.float32)
    markers = np.zeros((n, T), dtype=np.float32)
    rows = np.arange(n)
    markers[rows, rng.integers(0, half, n)] = 1.0  # one marked step in the first half
    markers[rows, rng.integers(half, T, n)] = 1.0  # and one in the second
    y = (values * markers).sum(axis=1).astype(np.float32)
    return np.stack([values, markers], axis=-1), y


def adding_baseline_mse() -> float:
    """MSE of always predicting the mean, 1: the variance of a sum of two U(0, 1) draws, 2/12."""
    return 2.0 / 12.0


def copy_memory(n: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` copy-memory sequences with delay ``T >= 1`` (``T + 20`` steps each).

    Returns:
        ``X (n, T + 20, 10)`` one-hot float32 inputs and ``tags (n, T + 20)`` int64 targets
        (0 blank, ``k`` symbol ``a_k``).

    >>> X, tags = copy_memory(2, 5, np.random.default_rng(0))
    >>> X.shape, bool((tags[:, -10:] == X[:, :10].argmax(-1)).all()), int(X[0, 14].argmax())
    ((2, 25, 10), True, 9)
    """
    K = COPY_SPAN
    L = T + 2 * K
    symbols = rng.integers(1, COPY_SYMBOLS + 1, (n, K))
    inputs = np.zeros((n, L), dtype=np.int64)
    inputs[:, :K] = symbols
    inputs[:, T + K - 1] = COPY_SYMBOLS + 1  # the delimiter: "now repeat them"
    tags = np.zeros((n, L), dtype=np.int64)
    tags[:, -K:] = symbols
    X = np.eye(COPY_SYMBOLS + 2, dtype=np.float32)[inputs]  # (n, L, 10)
    return X, tags


def copy_baseline_xent(T: int) -> float:
    """Cross-entropy per step of the memoryless strategy (blanks, then a uniform guess)."""
    return COPY_SPAN * math.log(COPY_SYMBOLS) / (T + 2 * COPY_SPAN)


def dinner(
    n: int, T: int, rng: np.random.Generator, p_rain: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` weeks of ``T`` dinners.

    Returns:
        ``X (n, T, 5)`` float32 — day 0: one-hot first dish (features 0-2); later days: one-hot
        weather (feature 3 sunny, 4 rainy) — and ``tags (n, T)`` int64, the dish of each day.

    >>> X, tags = dinner(2, 6, np.random.default_rng(1))
    >>> rain = X[:, 1:, 4].astype(int)
    >>> bool((tags[:, 1:] == (tags[:, :1] + rain.cumsum(1)) % 3).all())
    True
    """
    first = rng.integers(0, len(DINNERS), n)
    rainy = (rng.random((n, T)) < p_rain).astype(np.int64)
    rainy[:, 0] = 0
    tags = (first[:, None] + rainy.cumsum(axis=1)) % len(DINNERS)
    X = np.zeros((n, T, 5), dtype=np.float32)
    X[np.arange(n), 0, first] = 1.0
    X[:, 1:, 3] = 1 - rainy[:, 1:]
    X[:, 1:, 4] = rainy[:, 1:]
    return X, tags


@dataclass(frozen=True)
class SyntheticTask:
    """A generator with what the CLI needs to know about it.

    Attributes:
        kinds: the tasks it serves (``"regress"``, ``"classify"``, ``"tag"``).
        default_length: ``T`` when ``--length`` is not given.
        labels: class or tag names (``None`` for regression).
        generate: ``(n, T, rng) -> (X (n, T', F), targets)`` with per-step targets for tagging.
    """

    name: str
    kinds: tuple[str, ...]
    default_length: int
    labels: list[str] | None
    generate: Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


SYNTHETIC = {
    "adding": SyntheticTask("adding", ("regress",), 100, None, adding),
    "copy": SyntheticTask("copy", ("tag",), 20, COPY_TAGS, copy_memory),
    "dinner": SyntheticTask("dinner", ("classify", "tag"), 6, list(DINNERS), dinner),
}
