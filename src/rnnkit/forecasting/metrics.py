"""Point, interval and probabilistic forecast metrics, as the forecasting literature defines them.

Arrays are ``(..., H)`` (H steps ahead); every function averages over all elements.

* MAE, RMSE; MAPE and sMAPE in percent (sMAPE as in the M4 competition, Makridakis et al. 2020:
  ``200 |y - f| / (|y| + |f|)``, 0 where both are 0; MAPE is NaN when an actual is 0).
* MASE (Hyndman & Koehler 2006): MAE divided by the in-sample MAE of the seasonal naive forecast
  with period ``m`` (``m = 1``: the naive forecast) on the training part of the series.
* Quantile (pinball) loss; weighted quantile loss ``2 sum pinball / sum |y|`` (GluonTS' wQL);
  CRPS from samples, ``E|X - y| - E|X - X'| / 2`` (Gneiting & Raftery 2007), and from quantiles
  as twice the mean pinball loss over the quantile levels.
* Coverage: the fraction of actuals inside ``[lo, hi]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "coverage",
    "crps_quantiles",
    "crps_samples",
    "mae",
    "mape",
    "mase",
    "mase_scale",
    "pinball",
    "rmse",
    "smape",
    "weighted_quantile_loss",
]


def _f(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def mae(y: object, f: object) -> float:
    """Mean absolute error.

    >>> mae([1, 2, 3], [2, 2, 5])
    1.0
    """
    return float(np.mean(np.abs(_f(y) - _f(f))))


def rmse(y: object, f: object) -> float:
    """Root mean squared error.

    >>> rmse([0, 0], [3, 4])
    3.5355339059327378
    """
    return float(np.sqrt(np.mean((_f(y) - _f(f)) ** 2)))


def mape(y: object, f: object) -> float:
    """Percent; NaN if any actual is 0.

    >>> mape([100, 200], [110, 180])
    10.0
    """
    y, f = _f(y), _f(f)
    if (y == 0).any():
        return float("nan")
    return float(100 * np.mean(np.abs(y - f) / np.abs(y)))


def smape(y: object, f: object) -> float:
    """Percent, in [0, 200].

    >>> smape([100, 0], [300, 0])
    50.0
    """
    y, f = _f(y), _f(f)
    den = np.abs(y) + np.abs(f)
    ratio = np.divide(np.abs(y - f), den, out=np.zeros_like(den), where=den > 0)
    return float(200 * np.mean(ratio))


def mase_scale(history: object, m: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast with period ``m`` (falls back to 1 if short).

    >>> mase_scale([1, 2, 4, 7], 1)
    2.0
    """
    h = _f(history)
    if len(h) <= m:
        m = 1
    return float(np.mean(np.abs(h[m:] - h[:-m])))


def mase(y: object, f: object, history: object, m: int = 1) -> float:
    """MAE scaled by :func:`mase_scale` of the training history.

    >>> mase([5, 6], [4, 8], [1, 2, 4, 7], 1)
    0.75
    """
    return mae(y, f) / mase_scale(history, m)


def pinball(y: object, f: object, q: float) -> float:
    """Mean quantile loss at level ``q``: ``max(q (y - f), (q - 1) (y - f))``.

    >>> pinball([10, 10], [8, 12], 0.9)
    1.0
    """
    d = _f(y) - _f(f)
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def weighted_quantile_loss(y: object, quantiles: Mapping[float, object]) -> float:
    """Mean over levels of ``2 sum pinball / sum |y|`` (GluonTS' mean_wQuantileLoss).

    >>> weighted_quantile_loss([10, 10], {0.5: [8, 12]})
    0.2
    """
    y = _f(y)
    total = np.abs(y).sum()
    return float(np.mean([2 * pinball(y, f, q) * y.size / total for q, f in quantiles.items()]))


def crps_quantiles(y: object, quantiles: Mapping[float, object]) -> float:
    """CRPS approximated by twice the mean pinball loss over the given levels.

    >>> crps_quantiles([10], {0.5: [10]})
    0.0
    """
    return float(np.mean([2 * pinball(y, f, q) for q, f in quantiles.items()]))


def crps_samples(y: object, samples: object) -> float:
    """CRPS from samples ``(..., N, H)`` against ``y (..., H)``: ``E|X-y| - E|X-X'|/2``.

    >>> crps_samples([0.0], [[1.0], [-1.0]])  # E|X-y| = 1, E|X-X'| = 1
    0.5
    """
    y, s = _f(y), _f(samples)
    first = np.mean(np.abs(s - y[..., None, :]), axis=-2)
    pair = np.mean(np.abs(s[..., :, None, :] - s[..., None, :, :]), axis=(-3, -2))
    return float(np.mean(first - 0.5 * pair))


def coverage(y: object, lo: object, hi: object) -> float:
    """Fraction of actuals in ``[lo, hi]``.

    >>> coverage([1, 5, 9, 3], [0, 0, 0, 4], [2, 6, 8, 5])
    0.5
    """
    y = _f(y)
    return float(np.mean((y >= _f(lo)) & (y <= _f(hi))))
