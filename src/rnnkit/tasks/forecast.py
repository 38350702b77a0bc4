"""The forecasting task: windows of series for the trainer, a global model over all series.

Training draws windows uniformly over every ``(series, origin)`` of the training part (DeepAR
samples windows the same way), so many series train one global model, each window mean-scaled.
The last ``holdout`` points of every series are never read in training; ``evaluate`` scores a
validation window per series: the ``val_points`` before the holdout when given (kept out of
training too), else the last training window (in-sample: a training curve, not a test score).

>>> import rnnkit
>>> from rnnkit.data.series import synthetic_series
>>> data = synthetic_series(4, 60, seed=0)
>>> s = ForecastSettings(horizon=5, context=10, holdout=5)
>>> task = ForecastTask(data, s, batch_size=8, seed=0)
>>> model = build_forecaster(task, lambda i: rnnkit.GRU(i, 8, batch_first=True))
>>> loss, n = task.loss(model, task.next_batch())
>>> n, sorted(task.evaluate(model))
(8, ['val_loss', 'val_mase'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..data.series import SeriesSet, check_lengths
from ..errors import UserError
from ..forecasting import metrics as M
from ..forecasting.backtest import forecast_quantiles
from ..forecasting.windows import Windows, make_arrays, n_calendar
from ..models.forecaster import LIKELIHOODS, QUANTILES, Forecaster, ForecasterConfig
from ..train.trainer import Task

__all__ = ["ForecastSettings", "ForecastTask", "build_forecaster"]

Batch = tuple[Tensor, Tensor, Tensor]


@dataclass
class ForecastSettings:
    """The task's flags, one to one (``--horizon`` ... ``--eval-samples``); 0 means a default."""

    horizon: int = 12  # steps to forecast
    context: int = 0  # steps the encoder reads (0: max(horizon, 2 * season))
    likelihood: str = "student-t"  # gaussian | student-t (DeepAR sampling) | quantile (MQ-RNN)
    lags: list[int] = field(default_factory=list)  # target lags as inputs ([]: 1 and the season)
    holdout: int = 0  # last points of every series never trained on (eval scores them)
    val_points: int = 0  # points before the holdout kept for validation (0: in-sample)
    covariates: list[str] = field(default_factory=list)  # known-future covariates
    past_covariates: list[str] = field(default_factory=list)  # past-only covariates
    eval_samples: int = 50  # sample paths per validation forecast

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise UserError(f"--horizon must be positive, got {self.horizon}")
        if self.likelihood not in LIKELIHOODS:
            raise UserError(
                f"--likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}"
            )
        for name in ("context", "holdout", "val_points"):
            if getattr(self, name) < 0:
                raise UserError(
                    f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}"
                )
        if any(lag < 1 for lag in self.lags):
            raise UserError(f"--lags must be positive integers, got {self.lags}")

    def resolved(self, season: int) -> ForecastSettings:
        """Defaults filled in for a series with this seasonal period."""
        lags = self.lags or sorted({1, season})
        context = self.context or max(self.horizon, 2 * season)
        return ForecastSettings(**{**asdict(self), "lags": lags, "context": context})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ForecastTask(Task):
    """Windows of ``data`` for :class:`~rnnkit.train.Trainer` (see the module docstring)."""

    unit = "window"
    curve_label = "negative log-likelihood (scaled)"

    def __init__(
        self, data: SeriesSet, settings: ForecastSettings, batch_size: int, seed: int
    ) -> None:
        s = settings.resolved(data.season)
        self.settings, self.data, self.batch_size = s, data, batch_size
        covs = s.covariates + s.past_covariates
        for c in covs:
            if c not in data.covariate_names:
                raise UserError(
                    f"covariate {c!r} was not read from the data ({', '.join(data.covariate_names) or 'none'})"
                )
        if s.holdout and s.horizon > s.holdout:
            raise UserError(f"--horizon {s.horizon} is longer than --holdout {s.holdout}")
        self.model_config = ForecasterConfig(
            context=s.context,
            horizon=s.horizon,
            likelihood=s.likelihood,
            lags=s.lags,
            n_calendar=n_calendar(data.freq),
            n_known=len(s.covariates),
            n_past=len(data.covariate_names) - len(s.covariates),
        )
        check_lengths(data, s.context + max(s.lags), s.horizon, s.holdout + s.val_points)
        self.windows = Windows(make_arrays(data, s.covariates), self.model_config)
        H, self.train_pairs, self.val_pairs = s.horizon, [], []
        for i, a in enumerate(self.windows.arrays):
            end = len(a.y) - s.holdout  # the training part is y[:end]
            self.train_pairs += self.windows.origins(i, 0, end - s.val_points - H)
            self.val_pairs.append((i, end - s.val_points if s.val_points >= H else end - H))
        self.rng = np.random.default_rng(seed)

    def covariate_scaling(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of each covariate (known, then past) over the training part."""
        k = self.model_config.n_calendar
        rows = [np.concatenate([a.feats[:, k:], a.past], 1)[: len(a.y) - self.settings.holdout]
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
        """``val_loss`` of the validation windows and the MASE of their median forecasts."""
        assert isinstance(model, Forecaster)
        with torch.no_grad():
            loss = float(model.loss(*self.windows.batch(self.val_pairs)))
        H = self.settings.horizon
        q = forecast_quantiles(model, self.windows, self.val_pairs, H, self.settings.eval_samples)
        med = q[:, QUANTILES.index(0.5)]
        mase = [M.mase(self.windows.arrays[i].y[o : o + H], med[k], self.windows.arrays[i].y[:o], self.data.season)
                for k, (i, o) in enumerate(self.val_pairs)]  # fmt: skip
        return {"val_loss": loss, "val_mase": float(np.mean(mase))}

    def describe(self, metrics: dict[str, float]) -> str:
        return f"val loss {metrics['val_loss']:.4f}, val MASE {metrics.get('val_mase', float('nan')):.3f}"

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def build_forecaster(task: ForecastTask, make_layer: Callable[[int], nn.Module]) -> Forecaster:
    """The forecaster for ``task``, its covariate scaling fitted on the training part."""
    try:
        model = Forecaster(task.model_config, make_layer)
    except ValueError as e:
        raise UserError(f"forecaster: {e}") from e
    mean, std = task.covariate_scaling()
    with torch.no_grad():
        model.cov_mean.copy_(torch.from_numpy(mean))  # type: ignore[operator]
        model.cov_std.copy_(torch.from_numpy(std))  # type: ignore[operator]
    return model
