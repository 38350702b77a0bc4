"""scikit-learn's 8x8 digits as sequences: row by row (``T = 8``) or pixel by pixel (``T = 64``).

The 1,797 images (UCI "Optical Recognition of Handwritten Digits", Alpaydin & Kaynak 1998) ship
inside scikit-learn, so nothing is downloaded. Read pixel by pixel they are a small cousin of
sequential MNIST (Le, Jaitly & Hinton 2015): the class must be held in memory across 64 steps.
Pixels are scaled from 0..16 to 0..1.

The split is fixed (seed 1998, independent of any training seed): 70% train, 10% validation,
20% test, so test accuracies of different runs compare.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .batching import split_indices

__all__ = ["DIGITS", "DIGITS_SPLIT_SEED", "DIGIT_LABELS", "digits_sequences", "digits_split"]

DIGITS = {"digits-rows": "rows", "digits-pixels": "pixels"}
DIGITS_SPLIT_SEED = 1998
DIGIT_LABELS = [str(k) for k in range(10)]


def digits_sequences(mode: str) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as sequences.

    Args:
        mode: ``"rows"`` -> ``X (N, 8, 8)``; ``"pixels"`` -> ``X (N, 64, 1)``.

    Returns:
        ``X`` float32 in [0, 1] and ``y (N,)`` int64 digit classes.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UserError(
            "the digits datasets need scikit-learn: pip install rnnkit[datasets]"
        ) from None
    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)  # (N, 8, 8)
    if mode == "rows":
        X = images
    elif mode == "pixels":
        X = images.reshape(len(images), 64, 1)
    else:
        raise ValueError(f"digits mode must be 'rows' or 'pixels', got {mode!r}")
    return X, d.target.astype(np.int64)


def digits_split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed ``(train, validation, test)`` indices for ``n`` digits.

    >>> [len(p) for p in digits_split(1797)]
    [1258, 180, 359]
    """
    train, val, test = split_indices(n, [0.7, 0.1, 0.2], seed=DIGITS_SPLIT_SEED)
    return train, val, test
