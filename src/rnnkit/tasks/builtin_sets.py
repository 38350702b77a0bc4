"""The built-in sets as runs use them: fixed splits and encoders, fresh synthetic training batches.

The validation and test sets of a synthetic task are drawn with fixed seeds, the same for every
run and seed, so scores of different runs and cells compare; training batches are drawn fresh
from the run's own generator. The digits keep their fixed split (:mod:`rnnkit.data.digits`).
"""

from __future__ import annotations

import numpy as np

from ..data.batching import LabelMap, PaddedSet
from ..data.digits import DIGIT_LABELS, DIGITS, digits_sequences, digits_split
from ..data.synthetic import SYNTHETIC
from .config import DataConfig, Encoders, Splits

__all__ = ["BUILTINS", "builtin_encoders", "builtin_sets", "synthetic_set"]

BUILTINS = [*SYNTHETIC, *DIGITS]
SYNTHETIC_VAL_SEED = 1_000_003  # the validation set of a synthetic task is the same for every run
SYNTHETIC_TEST_SEED = 2_000_003


def builtin_encoders(cfg: DataConfig) -> Encoders:
    name = cfg.builtin
    assert name is not None
    if name in DIGITS:
        F = 8 if DIGITS[name] == "rows" else 1
        return Encoders(labels=LabelMap(DIGIT_LABELS), feature_names=[f"x{j}" for j in range(F)])
    task = SYNTHETIC[name]
    X, y = task.generate(10_000, cfg.length or task.default_length, np.random.default_rng(0))
    enc = Encoders(feature_names=[f"x{j}" for j in range(X.shape[-1])])
    if task.labels is None:  # regression: standardise with the generator's own statistics
        enc.target_mean, enc.target_std = float(y.mean()), float(y.std())
    else:
        enc.labels = LabelMap(task.labels)
    return enc


def synthetic_set(cfg: DataConfig, n: int, rng: np.random.Generator) -> PaddedSet:
    assert cfg.builtin is not None
    task = SYNTHETIC[cfg.builtin]
    X, y = task.generate(n, cfg.length or task.default_length, rng)
    if cfg.task == "classify" and y.ndim == 2:
        y = y[:, -1]  # many-to-one: the last step's label
    lengths = np.full(n, X.shape[1], dtype=np.int64)
    return PaddedSet(X, lengths, y, [f"sequence {k}" for k in range(n)])


def builtin_sets(cfg: DataConfig) -> Splits:
    name = cfg.builtin
    assert name is not None
    if name in DIGITS:
        X, y = digits_sequences(DIGITS[name])
        full = PaddedSet(
            X, np.full(len(X), X.shape[1], dtype=np.int64), y, [f"digit {k}" for k in range(len(X))]
        )
        train, val, test = (full.subset(i) for i in digits_split(len(X)))
        return Splits(val=val, train=train, test=test)
    val = synthetic_set(cfg, cfg.val_size, np.random.default_rng(SYNTHETIC_VAL_SEED))
    test = synthetic_set(cfg, cfg.val_size, np.random.default_rng(SYNTHETIC_TEST_SEED))
    return Splits(val=val, stream=lambda n, rng: synthetic_set(cfg, n, rng), test=test)
