"""The forecasting task: series in, a probabilistic encoder-decoder forecaster out.

``rnnkit train forecast SERIES --out RUN --horizon H [--holdout N] ...``. SERIES is a CSV (wide or
long, :mod:`rnnkit.data.series`) or a built-in set (airline, co2, sunspots, synthetic).

Training draws windows uniformly over every ``(series, origin)`` of the training part (DeepAR
samples windows the same way), so many series train one global model, each window mean-scaled.
The last ``holdout`` points of every series are never read in training. ``evaluate`` (whose
``val_loss`` picks the best checkpoint) scores the ``val_points`` before the holdout when given
(kept out of training too): every window whose horizon lies inside them, origins one step apart
(at most :data:`MAX_VAL_WINDOWS` windows in all: a stride past that), so that the choice does not
rest on one noisy window. With ``val_points <= horizon`` it scores one window per series: the
validation part's, else the last training window (in-sample: a training curve, not a test score).
The autoregressive heads may train on windows shorter than the horizon (``train_horizon``: more
windows from a short series) and still roll out the full horizon.

The run keeps ``forecast.json`` (the forecaster's shapes, the series' names, frequency and season,
the covariate scaling) and, after training, ``summary.json`` and ``forecast.png``: the forecast
from the holdout origin scored against the baselines (:mod:`.forecast_run`).

>>> import rnnkit
>>> from rnnkit.data.series import synthetic_series
>>> data = synthetic_series(4, 60, seed=0)
>>> task = ForecastTask(data, ForecastData(holdout=5), ForecastModel(horizon=5, context=10), 8, 0)
>>> model = build_forecaster(task, lambda i: rnnkit.GRU(i, 8, batch_first=True))
>>> loss, n = task.loss(model, task.next_batch())
>>> n, sorted(task.evaluate(model))
(8, ['val_loss', 'val_mase'])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import ConfigError, check, option
from ..data.series import SeriesSet, check_lengths, load_series
from ..data.series_time import ALIASES
from ..errors import UserError
from ..forecasting import metrics as M
from ..forecasting.backtest import CHUNK, forecast_quantiles
from ..forecasting.windows import Windows, make_arrays, n_calendar
from ..models.forecaster import LIKELIHOODS, QUANTILES, Forecaster, ForecasterConfig
from ..train.trainer import Task

__all__ = [
    "MAX_VAL_WINDOWS",
    "ForecastData",
    "ForecastModel",
    "ForecastTask",
    "build_forecaster",
    "read_series",
    "validation_offsets",
]

Batch = tuple[Tensor, Tensor, Tensor]
MAX_VAL_WINDOWS = 1024  # validation windows per evaluation, all series together, at most


@dataclass
class ForecastData:
    """How SERIES is read and split; each field is a ``rnnkit train forecast`` flag."""

    target: str | None = option(None, "the value column, where a file has several", metavar="COL")
    time_column: str | None = option(None, "the time column (default: found by name or value)",
                                     metavar="COL")  # fmt: skip
    series_id: str | None = option(None, "long format: the column naming each row's series",
                                   metavar="COL")  # fmt: skip
    covariates: list[str] = option([], "known-future covariate columns, comma-separated",
                                   metavar="COL,...")  # fmt: skip
    past_covariates: list[str] = option([], "past-only covariate columns, comma-separated",
                                        metavar="COL,...")  # fmt: skip
    freq: str | None = option(None, "H D W M Q Y or step (default: inferred)", metavar="F")
    missing: str = option("interpolate", "gaps and empty values: interpolate (linearly) or error",
                          choices=("interpolate", "error"))  # fmt: skip
    season: int = option(0, "seasonal period for lags, MASE and the seasonal baselines "
                         "(0: from the data, e.g. 12 for monthly)", low=0)  # fmt: skip
    holdout: int = option(0, "last N points of every series never trained on (eval scores them)",
                          low=0)  # fmt: skip
    val_points: int = option(0, "N points before the holdout kept out for validation "
                             "(0: validate on the last training window)", low=0)  # fmt: skip

    def __post_init__(self) -> None:
        check(self)
        if self.freq is not None and self.freq.strip().lower() not in ALIASES:
            raise ConfigError("freq", f"{self.freq!r} is unknown; give H D W M Q Y or step")

    def read(self, source: str) -> SeriesSet:
        """SERIES read with these settings."""
        return read_series(source, self)


@dataclass
class ForecastModel:
    """The forecaster's settings; each field is a ``rnnkit train forecast`` flag."""

    horizon: int = option(12, "steps to forecast", low=1, high=100_000)
    context: int = option(0, "steps the encoder reads before the origin (0: max(horizon, "
                          "2 * season))", low=0, high=100_000)  # fmt: skip
    likelihood: str = option("student-t", "gaussian or student-t (DeepAR sampling) or quantile "
                             "(MQ-RNN direct quantiles)", choices=LIKELIHOODS)  # fmt: skip
    lags: list[int] = option([], "target lags fed as inputs, comma-separated (default: 1 and "
                             "the season)", metavar="L,...")  # fmt: skip
    train_horizon: int = option(0, "gaussian/student-t: horizon of each training window (0: "
                                "--horizon); shorter gives more windows", low=0)  # fmt: skip
    eval_samples: int = option(50, "sample paths per validation forecast", low=1, fixed=False)
    calibrate: str = option("conformal", "conformal: after training, scale the 50/80/90 percent "
                            "intervals to their coverage of the --val-points windows (split "
                            "conformal; needs --val-points >= --horizon); none: as forecast",
                            choices=("conformal", "none"), fixed=False)  # fmt: skip

    def __post_init__(self) -> None:
        try:
            self.lags = [int(v) for v in self.lags]
        except ValueError:
            raise ConfigError("lags", f"must be whole numbers, got {self.lags!r}") from None
        if any(v < 1 for v in self.lags):
            raise ConfigError("lags", f"must be positive, got {self.lags!r}")
        if self.likelihood == "quantile" and self.train_horizon not in (0, self.horizon):
            raise ConfigError("train_horizon", "does not apply to the quantile head (it is direct)")
        check(self)


def read_series(source: str, d: ForecastData) -> SeriesSet:
    """SERIES (a file or a built-in name) read with the data settings ``d``."""
    data = load_series(
        source,
        target=d.target,
        time_column=d.time_column,
        series_id=d.series_id,
        covariates=list(d.covariates) + list(d.past_covariates),
        freq=d.freq,
        missing=d.missing,
    )
    if d.season:
        data.season = d.season
    return data


def forecaster_config(data: SeriesSet, d: ForecastData, m: ForecastModel) -> ForecasterConfig:
    """The forecaster's shapes for ``data``; the defaults of context and lags filled in."""
    lags = list(m.lags) or sorted({1, data.season})
    context = m.context or max(m.horizon, 2 * data.season)
    train_h = m.horizon if m.likelihood == "quantile" else (m.train_horizon or m.horizon)
    return ForecasterConfig(
        context=context,
        horizon=train_h,
        likelihood=m.likelihood,
        lags=lags,
        n_calendar=n_calendar(data.freq),
        n_known=len(d.covariates),
        n_past=len(d.past_covariates),
    )


class ForecastTask(Task):
    """Windows of ``data`` for :class:`~rnnkit.train.Trainer` (see the module docstring)."""

    unit = "window"
    curve_label = "loss (scaled NLL or pinball)"

    def __init__(
        self, data: SeriesSet, d: ForecastData, m: ForecastModel, batch_size: int, seed: int
    ) -> None:
        self.data, self.d, self.m, self.batch_size = data, d, m, batch_size
        for c in [*d.covariates, *d.past_covariates]:
            if c not in data.covariate_names:
                have = ", ".join(data.covariate_names) or "none"
                raise UserError(f"covariate {c!r} was not read from the data ({have})")
        if d.holdout and m.horizon > d.holdout:
            raise UserError(f"--horizon {m.horizon} is longer than --holdout {d.holdout}")
        self.model_config = cfg = forecaster_config(data, d, m)
        check_lengths(data, cfg.context + cfg.max_lag, cfg.horizon, d.holdout + d.val_points)
        self.windows = Windows(make_arrays(data, list(d.covariates)), cfg)
        H, self.train_pairs = cfg.horizon, []
        ends = [len(a.y) - d.holdout for a in self.windows.arrays]  # training part: y[:end]
        for i, end in enumerate(ends):
            self.train_pairs += self.windows.origins(i, 0, end - d.val_points - H)
        if not self.train_pairs:
            raise UserError("no training window fits; lower --context, --horizon or --holdout")
        # the validation windows, a batch per group of origins (every series at each origin)
        offsets = validation_offsets(d.val_points, H, len(ends))
        per = max(1, CHUNK // len(ends))
        self.val_batches = [[(i, end - k) for k in offsets[j : j + per] for i, end in enumerate(ends)]
                            for j in range(0, len(offsets), per)]  # fmt: skip
        self.val_pairs = [p for b in self.val_batches for p in b]
        self.rng = np.random.default_rng(seed)

    def covariate_scaling(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of each covariate (known, then past) over the training part."""
        k = self.model_config.n_calendar
        rows = [np.concatenate([a.feats[:, k:], a.past], 1)[: len(a.y) - self.d.holdout]
                for a in self.windows.arrays]  # fmt: skip
        allr = np.concatenate(rows)
        std = allr.std(0)
        return allr.mean(0), np.where(std > 0, std, 1.0)

    def next_batch(self) -> Batch:
        idx = self.rng.integers(len(self.train_pairs), size=self.batch_size)
        return self.windows.batch([self.train_pairs[j] for j in idx])

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        return model.loss(*batch), batch[0].shape[0]  # type: ignore[operator]

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """``val_loss`` of the validation windows (the mean over all of them) and the mean MASE
        of their median forecasts. The random state is left as it was (the forecasts' samples
        are drawn on a fork of it)."""
        assert isinstance(model, Forecaster)
        H = self.model_config.horizon
        dev = next(model.parameters()).device
        with torch.no_grad(), torch.random.fork_rng([dev] if dev.type == "cuda" else []):
            losses = [float(model.loss(*self.windows.batch(b))) for b in self.val_batches]
            q = forecast_quantiles(model, self.windows, self.val_pairs, H, self.m.eval_samples)
        loss = float(np.average(losses, weights=[len(b) for b in self.val_batches]))
        med = q[:, QUANTILES.index(0.5)]
        ys = [self.windows.arrays[i].y for i, _ in self.val_pairs]
        mase = [M.mase(y[o : o + H], med[k], y[:o], self.data.season)
                for k, (y, (_, o)) in enumerate(zip(ys, self.val_pairs, strict=True))]  # fmt: skip
        return {"val_loss": loss, "val_mase": float(np.mean(mase))}

    def describe(self, metrics: dict[str, float]) -> str:
        return f"val loss {metrics['val_loss']:.4f}, val MASE {metrics.get('val_mase', float('nan')):.3f}"

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def validation_offsets(val_points: int, horizon: int, n_series: int) -> list[int]:
    """How far before the end of the training part each validation origin lies, earliest first.

    ``val_points <= horizon``: one window, ``horizon`` before the end (the validation part's, or
    the last training window). More: every origin whose horizon lies inside the validation part,
    one step apart, or a stride apart when ``n_series`` series would have more than
    :data:`MAX_VAL_WINDOWS` windows (the last window, next to the holdout, always kept).

    >>> validation_offsets(12, 12, 1), validation_offsets(15, 12, 1)
    ([12], [15, 14, 13, 12])
    >>> validation_offsets(15, 12, 500)  # 2000 windows: every other origin
    [14, 12]
    """
    if val_points <= horizon:
        return [horizon]
    n = val_points - horizon + 1  # origins per series
    stride = max(1, math.ceil(n * n_series / MAX_VAL_WINDOWS))
    return list(range(horizon, val_points + 1, stride))[::-1]


def set_covariate_scaling(model: Forecaster, mean: Any, std: Any) -> None:
    with torch.no_grad():
        model.cov_mean.copy_(torch.as_tensor(np.asarray(mean, dtype=np.float32)))  # type: ignore[operator]
        model.cov_std.copy_(torch.as_tensor(np.asarray(std, dtype=np.float32)))  # type: ignore[operator]


def build_forecaster(task: ForecastTask, make_layer: Callable[[int], nn.Module]) -> Forecaster:
    """The forecaster for ``task``, its covariate scaling fitted on the training part."""
    try:
        model = Forecaster(task.model_config, make_layer)
    except ValueError as e:
        raise UserError(f"forecaster: {e}") from e
    set_covariate_scaling(model, *task.covariate_scaling())
    return model
