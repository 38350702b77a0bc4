"""Forecasting around the :class:`~rnnkit.models.forecaster.Forecaster`: windows, metrics,
classical baselines and backtests.

* :mod:`.metrics` — MASE, sMAPE, MAPE, MAE, RMSE, quantile loss, CRPS, interval coverage;
* :mod:`.baselines` — naive, seasonal naive, drift, ETS and Theta (statsmodels, optional);
* :mod:`.windows` — per-series arrays and batches of windows;
* :mod:`.backtest` — batched forecasts from many origins, scored against the baselines;
* :mod:`.calibration` — split-conformal correction of the intervals on validation windows.
"""

from .backtest import INTERVALS, BacktestResult, backtest, forecast_quantiles, resolve_start
from .baselines import BASELINES, available
from .calibration import Calibration, apply, fit
from .windows import Windows, make_arrays

__all__ = [
    "BASELINES",
    "INTERVALS",
    "BacktestResult",
    "Calibration",
    "Windows",
    "apply",
    "available",
    "backtest",
    "fit",
    "forecast_quantiles",
    "make_arrays",
    "resolve_start",
]
