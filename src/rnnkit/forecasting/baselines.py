"""Classical baselines, measured the same way as the network: each maps a history to H values.

* ``naive``: the last value; ``seasonal_naive``: the value one season earlier;
  ``drift``: the line through the first and last values (Hyndman & Athanasopoulos, *Forecasting:
  Principles and Practice*, 3rd ed., §5.2).
* ``ets``: Holt-Winters exponential smoothing with additive trend and (when the history holds two
  seasons) additive season, fitted by statsmodels' ``ExponentialSmoothing``;
  ``theta``: the Theta method (Assimakopoulos & Nikolopoulos 2000) as statsmodels' ``ThetaModel``.
  These two need the optional extra ``rnnkit[forecast]`` (statsmodels); :func:`available`
  leaves them out, with a note, when it is absent.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["BASELINES", "available", "drift", "ets", "naive", "seasonal_naive", "theta"]

Baseline = Callable[[np.ndarray, int, int], np.ndarray]  # (history, horizon, season) -> (H,)


def naive(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The last value.

    >>> naive(np.array([1.0, 2.0, 3.0]), 2).tolist()
    [3.0, 3.0]
    """
    return np.full(horizon, float(history[-1]))


def seasonal_naive(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The last full season repeated.

    >>> seasonal_naive(np.array([1.0, 2.0, 3.0, 4.0]), 3, 2).tolist()
    [3.0, 4.0, 3.0]
    """
    m = season if 1 <= season <= len(history) else 1
    last = np.asarray(history[-m:], dtype=np.float64)
    return np.resize(last, horizon)


def drift(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The line through the first and last values.

    >>> drift(np.array([1.0, 2.0, 3.0]), 2).tolist()
    [4.0, 5.0]
    """
    h = np.asarray(history, dtype=np.float64)
    slope = (h[-1] - h[0]) / max(len(h) - 1, 1)
    return h[-1] + slope * np.arange(1, horizon + 1)


def ets(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """ETS(A,A,A) (ETS(A,A,N) without two full seasons), fitted by maximum likelihood."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    h = np.asarray(history, dtype=np.float64)
    seasonal = "add" if season > 1 and len(h) >= 2 * season else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ExponentialSmoothing(
            h, trend="add", seasonal=seasonal, seasonal_periods=season if seasonal else None
        )
        return np.asarray(model.fit().forecast(horizon), dtype=np.float64)


def theta(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The Theta method; deseasonalised (multiplicatively) when the series is positive and seasonal."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    h = np.asarray(history, dtype=np.float64)
    seasonal = season > 1 and len(h) >= 2 * season and bool((h > 0).all())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ThetaModel(h, period=season if seasonal else 1, deseasonalize=seasonal)
        return np.asarray(model.fit().forecast(horizon), dtype=np.float64)


BASELINES: dict[str, Baseline] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "ets": ets,
    "theta": theta,
}
NEEDS_STATSMODELS = ("ets", "theta")


def available() -> tuple[dict[str, Baseline], str]:
    """The baselines usable here, and a note naming those left out (empty when none are)."""
    if importlib.util.find_spec("statsmodels") is not None:
        return dict(BASELINES), ""
    kept = {k: v for k, v in BASELINES.items() if k not in NEEDS_STATSMODELS}
    return (
        kept,
        "ets and theta skipped: statsmodels is not installed (pip install 'rnnkit[forecast]')",
    )
