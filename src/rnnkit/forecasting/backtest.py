"""Score forecasts made from many origins at once: a holdout origin or rolling origins (a backtest).

All windows of all origins are cut up front and forecast in a few large batches (one pass of the
model over the data, not one fit or call per origin; unit8co/darts#1531 reports backtests ~10x
slower than validation for lack of this). The baselines are refitted at every origin on the
history before it, the way they would be used; they are cheap except ETS and Theta.

Each method's score is the mean over windows of MASE (each window scaled by the seasonal-naive
in-sample error of its own history), and sMAPE, MAPE, MAE, RMSE over all forecast points. The
network also gets CRPS (from its quantiles), the weighted quantile loss and the coverage of its
50 %, 80 % and 90 % intervals. Given a :class:`~.calibration.Calibration` (a run's, fitted on
its validation windows), the intervals are corrected by it before they are scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.series import SeriesSet
from ..data.series_time import as_grid, parse_time
from ..errors import UserError
from ..models.forecaster import QUANTILES, Forecaster
from . import metrics as M
from .baselines import Baseline
from .calibration import INTERVALS, Calibration, apply
from .windows import Windows

__all__ = ["INTERVALS", "BacktestResult", "backtest", "forecast_quantiles", "resolve_start"]

CHUNK = 512  # windows per forward pass


@dataclass
class BacktestResult:
    """The windows scored and each method's metrics."""

    pairs: list[tuple[int, int]]  # (series index, origin)
    actual: np.ndarray  # (B, H)
    quantiles: np.ndarray  # (B, Q, H) the network's
    baselines: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (B, H)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> metric -> value


def forecast_quantiles(
    model: Forecaster,
    windows: Windows,
    pairs: list[tuple[int, int]],
    horizon: int,
    samples: int,
    calibration: Calibration | None = None,
) -> np.ndarray:
    """Quantiles ``(B, Q, H)`` of every window, in batches of :data:`CHUNK`; the intervals
    corrected by ``calibration`` when given (:func:`.calibration.apply`)."""
    was = model.training
    model.eval()
    out = []
    try:
        for k in range(0, len(pairs), CHUNK):
            y, f, p = windows.batch(pairs[k : k + CHUNK], horizon)
            out.append(model.predict(y, f, p, samples=samples, horizon=horizon).numpy())
    finally:
        model.train(was)
    return apply(np.concatenate(out).astype(np.float64), calibration)


def resolve_start(data: SeriesSet, text: str | int, i: int) -> int:
    """Index in series ``i`` of ``--start``: an index (negative from the end) or a time stamp."""
    s, t = data.series[i], str(text)
    stamp = parse_time(t) if data.freq != "step" and not t.startswith("-") else None
    if stamp is not None:
        return as_grid(stamp, data.freq) - s.start
    try:
        k = int(t)
    except ValueError:
        raise UserError(f"--start {t!r} is neither an index nor a time stamp") from None
    return k + len(s) if k < 0 else k


def _score(
    actual: np.ndarray, point: np.ndarray, histories: list[np.ndarray], season: int
) -> dict[str, float]:
    mase = [M.mase(a, f, h, season) for a, f, h in zip(actual, point, histories, strict=True)]
    return {
        "mase": float(np.mean(mase)),
        "smape": M.smape(actual, point),
        "mape": M.mape(actual, point),
        "mae": M.mae(actual, point),
        "rmse": M.rmse(actual, point),
    }


def backtest(
    model: Forecaster,
    windows: Windows,
    data: SeriesSet,
    pairs: list[tuple[int, int]],
    horizon: int,
    *,
    samples: int = 200,
    baselines: dict[str, Baseline] | None = None,
    calibration: Calibration | None = None,
) -> BacktestResult:
    """Forecast ``horizon`` steps from every ``(series, origin)`` in ``pairs`` and score them
    (the network's intervals corrected by ``calibration`` when given)."""
    if not pairs:
        raise UserError(
            "no forecast origin fits: each needs a full context before and the horizon after it"
        )
    torch.manual_seed(0)  # the same samples for the same run
    q = forecast_quantiles(model, windows, pairs, horizon, samples, calibration)
    ys = [windows.arrays[i].y for i, _ in pairs]
    actual = np.stack([y[o : o + horizon] for y, (_, o) in zip(ys, pairs, strict=True)])
    if actual.shape[1] != horizon:
        raise UserError(f"an origin leaves fewer than {horizon} actual values after it")
    hist = [y[:o] for y, (_, o) in zip(ys, pairs, strict=True)]
    res = BacktestResult(pairs, actual, q)
    med = q[:, QUANTILES.index(0.5)]
    net = _score(actual, med, hist, data.season)
    levels = {lv: q[:, k] for k, lv in enumerate(QUANTILES)}
    net["crps"] = M.crps_quantiles(actual, levels)
    net["wql"] = M.weighted_quantile_loss(actual, levels)
    for width, (lo, hi) in INTERVALS.items():
        net[f"coverage{width}"] = M.coverage(actual, levels[lo], levels[hi])
    res.scores["rnnkit"] = net
    for name, fn in (baselines or {}).items():
        pred = np.stack([fn(h, horizon, data.season) for h in hist])
        res.baselines[name] = pred
        res.scores[name] = _score(actual, pred, hist, data.season)
    return res
