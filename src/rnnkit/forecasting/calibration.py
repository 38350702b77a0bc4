"""Split-conformal calibration of forecast intervals on windows the model did not train on.

A forecaster's 50/80/90 % central intervals ``[lo, hi]`` around its median ``m`` can be too narrow
(or too wide) on real data. Conformalized quantile regression (CQR; Romano, Patterson & Candès
2019, "Conformalized Quantile Regression", NeurIPS) corrects each interval by the empirical
quantile of a conformity score on a calibration set the model was not fitted on. The score used
here is the median-relative one (Kivaranovic, Johnson & Leeb 2020, "Adaptive, distribution-free
prediction intervals for deep networks", AISTATS; called CQR-m by Sesia & Candès 2020):

    r = max((m - y) / (m - lo), (y - m) / (hi - m))

the number of half-widths, on its own side of the median, that ``y`` lies from it (``r <= 1``:
inside). With ``n`` scores, the correction of the level-``p`` interval is the
``ceil((n + 1) p)``-th smallest score ``s`` (CQR's finite-sample rank), and the corrected interval

    [m - s (m - lo),  m + s (hi - m)]

holds ``y`` exactly when ``r <= s``: its coverage on the calibration set is at least ``p``. Each
half-width is scaled, so the correction follows the series' scale (one factor serves many series)
and the median never moves. ``s > 1`` widens, ``s < 1`` narrows. Intervals of different levels
are then kept nested (the 90 % one at least as wide as the 80 %, ...), so quantiles stay ordered.

Per horizon step (one factor per step and level, as Stankeviciute, Alaa & van der Schaar 2021,
"Conformal Time-series Forecasting", NeurIPS, calibrate each step) when the calibration set has at
least :data:`MIN_PER_STEP` windows; otherwise one factor per level pooled over the steps. Steps
past the calibrated horizon take the last step's factor. Forecast windows of a time series are
not exchangeable (they overlap and drift), so the guarantee is approximate; the coverage it gives
on held-out data is measured in docs/FORECAST.md.

>>> q = np.array([[[-3.0], [-2.0], [-1.0], [0.0], [1.0], [2.0], [3.0]]] * 10)  # (10, Q, 1)
>>> y = np.arange(1, 11, dtype=float)[:, None] / 2  # 0.5, 1.0, ..., 5.0 above the median 0
>>> cal = fit(q, y)
>>> cal.factors[50], cal.factors[80], cal.factors[90]  # 6th, 9th and 10th smallest r
([3.0], [2.25], [1.6666666666666667])
>>> apply(q, cal)[0, :, 0].tolist()
[-5.0, -4.5, -3.0, 0.0, 3.0, 4.5, 5.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.forecaster import QUANTILES

__all__ = ["INTERVALS", "MIN_PER_STEP", "Calibration", "apply", "conformal_rank", "fit", "scores"]

INTERVALS = {50: (0.25, 0.75), 80: (0.1, 0.9), 90: (0.05, 0.95)}  # level % -> (lo, hi) quantiles
MIN_PER_STEP = 50  # calibration windows needed for a factor per horizon step
MEDIAN = QUANTILES.index(0.5)


@dataclass
class Calibration:
    """Interval corrections: per level (50, 80, 90), a factor per horizon step or one pooled."""

    factors: dict[int, list[float]]  # level -> half-width factors, (H,) or (1,) pooled
    windows: int  # calibration windows
    points: int  # calibration points (windows x steps)
    coverage_before: dict[int, float]  # each interval's coverage of the calibration set
    method: str = "conformal"

    @property
    def per_step(self) -> bool:
        return len(next(iter(self.factors.values()))) > 1

    def factor(self, level: int, horizon: int) -> np.ndarray:
        """The factors of the ``level`` % interval for steps ``1..horizon`` ``(H,)``."""
        f = np.asarray(self.factors[level], dtype=np.float64)
        if len(f) >= horizon:
            return f[:horizon]
        return np.concatenate([f, np.full(horizon - len(f), f[-1])])

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "score": "median-relative half-widths (CQR-m)",
            "per_step": self.per_step,
            "windows": self.windows,
            "points": self.points,
            "factors": {str(k): v for k, v in self.factors.items()},
            "coverage_before": {str(k): v for k, v in self.coverage_before.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Calibration:
        """Read :meth:`to_json`'s dict (``KeyError``/``ValueError``/``TypeError`` if damaged)."""
        factors = {int(k): [float(x) for x in v] for k, v in d["factors"].items()}
        if set(factors) != set(INTERVALS) or len({len(v) for v in factors.values()}) != 1:
            raise ValueError(f"factors for levels {sorted(factors)}, need {sorted(INTERVALS)}")
        if any(not math.isfinite(x) or x < 0 for v in factors.values() for x in v):
            raise ValueError("a factor is negative or not finite")
        before = {int(k): float(v) for k, v in d.get("coverage_before", {}).items()}
        return cls(factors, int(d["windows"]), int(d["points"]), before, str(d["method"]))


def scores(quantiles: np.ndarray, actual: np.ndarray, level: int) -> np.ndarray:
    """The conformity scores ``r (B, H)`` of the ``level`` % interval (module docstring).

    A side of zero width scores 0 for ``y`` on the median and infinity beyond it.
    """
    lo, hi = (QUANTILES.index(v) for v in INTERVALS[level])
    m = quantiles[:, MEDIAN]
    below, above = m - actual, actual - m  # (B, H)
    wl, wh = m - quantiles[:, lo], quantiles[:, hi] - m
    return np.maximum(_ratio(below, wl), _ratio(above, wh))


def _ratio(d: np.ndarray, w: np.ndarray) -> np.ndarray:
    out = np.where(d > 0, np.inf, 0.0)
    return np.divide(d, w, out=out, where=w > 0)


def conformal_rank(n: int, level: float) -> int:
    """CQR's rank ``ceil((n + 1) level)`` (1-based) among ``n`` sorted scores.

    >>> conformal_rank(10, 0.8), conformal_rank(156, 0.9)
    (9, 142)
    """
    return math.ceil((n + 1) * level - 1e-9)


def _quantile(r: np.ndarray, level: float) -> float:
    r = np.sort(r.ravel())
    k = conformal_rank(len(r), level)
    if k > len(r):
        raise ValueError(
            f"{len(r)} calibration points are too few for a {level:.0%} interval "
            f"(needs {math.ceil(level / (1 - level))})"
        )
    s = float(r[k - 1])
    if not math.isfinite(s):
        raise ValueError("the intervals have zero width on too many calibration points")
    return s


def fit(quantiles: np.ndarray, actual: np.ndarray, per_step: bool | None = None) -> Calibration:
    """The corrections that give each interval its nominal coverage on a calibration set.

    Args:
        quantiles: ``(B, Q, H)`` forecasts at :data:`~rnnkit.models.forecaster.QUANTILES` of
            ``B`` windows the model did not train on.
        actual: ``(B, H)`` what happened.
        per_step: one factor per horizon step (default: when ``B >= MIN_PER_STEP``).

    Raises:
        ValueError: too few points for the 90 % interval (pooled: fewer than 9).
    """
    B, _, H = quantiles.shape
    if actual.shape != (B, H):
        raise ValueError(f"actual values {actual.shape} do not match the forecasts {(B, H)}")
    per_step = B >= MIN_PER_STEP if per_step is None else per_step
    factors, before = {}, {}
    for level in INTERVALS:
        r = scores(quantiles, actual, level)  # (B, H)
        p = level / 100
        factors[level] = (
            [_quantile(r[:, h], p) for h in range(H)] if per_step else [_quantile(r, p)]
        )
        before[level] = float(np.mean(r <= 1.0))
    return Calibration(factors, B, B * H, before)


def apply(quantiles: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """``quantiles (B, Q, H)`` with every interval's half-widths scaled by its factors (a new
    array); the median as it was; intervals nested, so quantiles stay ordered. ``None``: the
    quantiles themselves, unchanged.
    """
    if calibration is None:
        return quantiles
    H = quantiles.shape[2]
    out = quantiles.copy()
    m = quantiles[:, MEDIAN]  # (B, H)
    for level, (lo_q, hi_q) in INTERVALS.items():
        lo, hi = QUANTILES.index(lo_q), QUANTILES.index(hi_q)
        s = calibration.factor(level, H)  # (H,)
        out[:, lo] = m - s * (m - quantiles[:, lo])
        out[:, hi] = m + s * (quantiles[:, hi] - m)
    # nested: outward from the median the lows never rise and the highs never fall
    out[:, MEDIAN::-1] = np.minimum.accumulate(out[:, MEDIAN::-1], axis=1)
    out[:, MEDIAN:] = np.maximum.accumulate(out[:, MEDIAN:], axis=1)
    return out
