"""The forecast task on the one task path (:class:`ForecastSpec`), and what its commands share:
opening a run's series, the origins to score, the table of scores.

A forecast run keeps ``forecast.json`` (:class:`ForecastArtifacts`). ``finish`` fits the interval
calibration on the validation windows into ``calibration.json`` (``--calibrate conformal`` with
``--val-points`` >= ``--horizon``: :mod:`rnnkit.forecasting.calibration`), scores the forecast from
the holdout origin against the baselines into ``summary.json`` and draws ``forecast.png``. A run
without ``calibration.json`` (made before it existed, or not calibrated) forecasts as sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..data.series import BUILTIN_SERIES, SeriesSet
from ..errors import UserError
from ..forecasting.backtest import BacktestResult, backtest, forecast_quantiles
from ..forecasting.baselines import available
from ..forecasting.calibration import Calibration, fit
from ..forecasting.windows import Windows, make_arrays
from ..models.forecaster import Forecaster, ForecasterConfig
from ..runs import load_json, save_json
from ..train.trainer import TrainResult
from .forecast import ForecastData, ForecastModel, ForecastTask, read_series, set_covariate_scaling
from .spec import Prepared, RunConfig, TaskSpec, fingerprint

__all__ = [
    "CALIBRATION",
    "FORECAST",
    "ForecastArtifacts",
    "ForecastSpec",
    "calibration_pairs",
    "fit_calibration",
    "format_scores",
    "load_calibration",
    "run_windows",
]

ARTIFACTS = "forecast.json"
CALIBRATION = "calibration.json"
CALIBRATION_SAMPLES = 200  # sample paths per calibration window (rnnkit forecast's default)
METRICS_SHOWN = ("mase", "smape", "mape", "mae", "rmse")


@dataclass
class ForecastArtifacts:
    """What a forecast run keeps besides its weights (``RUN/forecast.json``)."""

    forecaster: dict[str, Any]  # ForecasterConfig
    freq: str
    season: int
    names: list[str]
    cov_mean: list[float]
    cov_std: list[float]

    def config(self) -> ForecasterConfig:
        return ForecasterConfig(**self.forecaster)


def _fingerprint(source: str) -> str:
    if source in BUILTIN_SERIES and not Path(source).exists():
        return fingerprint(f"builtin:{source}")
    return fingerprint(Path(source))


class ForecastSpec(TaskSpec):
    name = "forecast"
    help = "probabilistic forecasting of time series (DeepAR / MQ-RNN; airline, co2, sunspots)"
    description = (
        "Train a global encoder-decoder forecaster over one or many series. SERIES: a CSV "
        "(wide: a column per series; long: --series-id) or a built-in series. --holdout N "
        "keeps the last N points out and scores the forecast from there against the baselines."
    )
    Data = ForecastData
    Model = ForecastModel
    defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "layer": {"hidden_size": 32, "num_layers": 1},
        "train": {
            "max_steps": 600,
            "eval_every": 100,
            "checkpoint_every": 600,
            "batch_size": 32,
            "lr": 3e-3,
        },
    }
    data_help = f"a CSV file or a built-in series ({', '.join(BUILTIN_SERIES)})"
    hidden: ClassVar[Mapping[str, set[str]]] = {"layer": {"bidirectional"}}

    def prepare(self, cfg: RunConfig) -> Prepared:
        if len(cfg.sources) != 1:
            raise UserError(f"rnnkit train forecast reads one SERIES, got {len(cfg.sources)}")
        source = cfg.sources[0]
        data = read_series(source, cfg.data)
        task = ForecastTask(data, cfg.data, cfg.model, cfg.train.batch_size, cfg.train.seed)
        cfg.fingerprint = _fingerprint(source)
        if source not in BUILTIN_SERIES or Path(source).exists():
            cfg.sources = [str(Path(source).resolve())]
        mean, std = task.covariate_scaling()
        fc = task.model_config
        art = ForecastArtifacts(fc.to_json(), data.freq, data.season, data.names(),
                                mean.tolist(), std.tolist())  # fmt: skip
        points = sum(len(s) for s in data.series)
        cfg.info = {"series": len(data.series), "points": points, "freq": data.freq,
                    "season": data.season, "filled": data.filled, "context": fc.context,
                    "lags": fc.lags}  # fmt: skip
        describe = (f"on {len(data.series)} series ({points} points, frequency {data.freq}, "
                    f"season {data.season}), {len(task.train_pairs)} training windows")  # fmt: skip
        return Prepared(task, art, describe)

    def build_model(self, cfg: RunConfig, artifacts: Any) -> nn.Module:
        layer = cfg.layer
        try:
            model = Forecaster(artifacts.config(), lambda n: layer.build(n, batch_first=True))
        except ValueError as e:
            raise UserError(f"forecaster: {e}") from e
        set_covariate_scaling(model, artifacts.cov_mean, artifacts.cov_std)
        return model

    def save_artifacts(self, run: Path, artifacts: Any) -> None:
        save_json(run / ARTIFACTS, asdict(artifacts))

    def load_artifacts(self, run: Path, cfg: RunConfig) -> ForecastArtifacts:
        d = load_json(run / ARTIFACTS)
        try:
            return ForecastArtifacts(**d)
        except TypeError as e:
            raise UserError(f"{run / ARTIFACTS}: not a forecast run's file ({e})") from e

    def finish(self, model: nn.Module, prep: Prepared, run: Path, result: TrainResult) -> list[str]:
        task = prep.task
        assert isinstance(task, ForecastTask) and isinstance(model, Forecaster)
        summary: dict[str, Any] = {"steps": result.state.step, "stopped": result.state.stop_reason,
                                   "seconds": round(result.state.elapsed, 2), **result.metrics}  # fmt: skip
        lines: list[str] = []
        cal = None
        if task.m.calibrate == "conformal" and not result.interrupted:
            cal, line = _calibrate(model, task, run)
            lines.append(line)
            if cal is not None:
                summary["calibration"] = cal.to_json()
        if task.d.holdout and not result.interrupted:
            H = task.m.horizon
            pairs = [(i, len(a.y) - task.d.holdout) for i, a in enumerate(task.windows.arrays)]
            res = score(model, task.windows, task.data, pairs, H, 200, cal)
            summary["holdout"] = res.scores
            if cal is not None:
                raw = backtest(model, task.windows, task.data, pairs, H, samples=200).scores
                summary["holdout_uncalibrated"] = raw["rnnkit"]
            lines.append(f"forecast of {H} steps from the holdout origin, scored on "
                         f"{res.actual.size} points:")  # fmt: skip
            lines += format_scores(res.scores)
            draw(run / "forecast.png", task.data, 0, res.quantiles[0], pairs[0][1], res.actual[0])
            lines.append(f"picture: {run / 'forecast.png'}")
        save_json(run / "summary.json", summary)
        return lines


def calibration_pairs(task: ForecastTask) -> list[tuple[int, int]]:
    """The validation origins of every series: each forecast ``horizon`` steps lies within the
    last ``val_points`` training points (kept out of training, before the holdout)."""
    H, pairs = task.m.horizon, []
    for i, a in enumerate(task.windows.arrays):
        end = len(a.y) - task.d.holdout
        pairs += task.windows.origins(i, end - task.d.val_points, end - H)
    return pairs


def fit_calibration(
    model: Forecaster, task: ForecastTask, samples: int = CALIBRATION_SAMPLES
) -> Calibration:
    """The run's interval calibration, fitted on :func:`calibration_pairs` (seeded: the same
    model gives the same factors).

    Raises:
        UserError: no validation part fits a horizon, or too few windows in it.
    """
    H, pairs = task.m.horizon, calibration_pairs(task)
    if task.d.val_points < H or not pairs:
        raise UserError(f"calibrating needs --val-points >= --horizon ({H}), got "
                        f"{task.d.val_points}")  # fmt: skip
    torch.manual_seed(0)
    q = forecast_quantiles(model, task.windows, pairs, H, samples)
    actual = np.stack([task.windows.arrays[i].y[o : o + H] for i, o in pairs])
    try:
        return fit(q, actual)
    except ValueError as e:
        raise UserError(f"calibrating on {len(pairs)} validation windows: {e}") from e


def _calibrate(model: Forecaster, task: ForecastTask, run: Path) -> tuple[Calibration | None, str]:
    """Fit and save ``calibration.json``; a line saying what was done (or why not)."""
    if task.d.val_points < task.m.horizon:
        return None, (f"intervals not calibrated: --calibrate conformal needs --val-points >= "
                      f"--horizon ({task.m.horizon}) points kept out of training")  # fmt: skip
    try:
        cal = fit_calibration(model, task)
    except UserError as e:  # the weights are saved: say why, do not fail the run
        return None, f"intervals not calibrated: {e}"
    save_json(run / CALIBRATION, cal.to_json())
    how = "per horizon step" if cal.per_step else "pooled over the horizon"
    span = ", ".join(f"{lv} % x{min(f):.2f}" + (f"..{max(f):.2f}" if len(f) > 1 else "")
                     for lv, f in cal.factors.items())  # fmt: skip
    before = ", ".join(f"{v:.0%}" for v in cal.coverage_before.values())
    return cal, (f"intervals calibrated on {cal.windows} validation windows ({cal.points} "
                 f"points; 50/80/90 % covered {before} before), {how}: half-widths {span}")  # fmt: skip


def load_calibration(run: str | Path, cfg: RunConfig) -> Calibration | None:
    """A run's interval calibration: ``None`` for a run made with ``--calibrate none`` or without
    ``calibration.json`` (then forecasts are exactly as before calibration existed)."""
    path = Path(run) / CALIBRATION
    if cfg.model.calibrate == "none" or not path.exists():
        return None
    try:
        return Calibration.from_json(load_json(path))
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not a forecast calibration ({e})") from e


def score(model: Forecaster, windows: Windows, data: SeriesSet, pairs: list[tuple[int, int]],
          horizon: int, samples: int, calibration: Calibration | None = None,
          ) -> BacktestResult:  # fmt: skip
    """Forecast from ``pairs`` and score the network (its intervals corrected by
    ``calibration``) and every available baseline."""
    baselines, _ = available()
    return backtest(model, windows, data, pairs, horizon, samples=samples, baselines=baselines,
                    calibration=calibration)  # fmt: skip


def run_windows(
    art: ForecastArtifacts, data: SeriesSet, known: list[str], extra: int = 0
) -> Windows:
    """Windows over ``data`` for a trained run (its frequency checked)."""
    if data.freq != art.freq:
        raise UserError(f"the series' frequency is {data.freq}, the run was trained on {art.freq}")
    return Windows(make_arrays(data, known, extra), art.config())


def format_scores(scores: dict[str, dict[str, float]]) -> list[str]:
    """A table: one row per method, rnnkit first, its rank by MASE noted."""
    head = f"  {'method':<15}" + "".join(f"{m.upper():>9}" for m in METRICS_SHOWN)
    rows = [head]
    for name, s in scores.items():
        rows.append(f"  {name:<15}" + "".join(f"{s[m]:9.3f}" for m in METRICS_SHOWN))
    order = sorted(scores, key=lambda k: scores[k]["mase"])
    net = scores.get("rnnkit", {})
    if net:
        cov = ", ".join(f"{w} % interval {net[f'coverage{w}']:.0%}" for w in (50, 80, 90))
        rows.append(f"  rnnkit ranks {order.index('rnnkit') + 1} of {len(order)} by MASE; "
                    f"coverage: {cov}; CRPS {net['crps']:.4g}")  # fmt: skip
    return rows


def draw(path: Path, data: SeriesSet, i: int, quantiles: np.ndarray, origin: int,
         actual: np.ndarray | None = None) -> None:  # fmt: skip
    """``forecast.png``: series ``i`` up to ``origin`` and the forecast from there."""
    from ..viz.forecast import plot_forecast  # matplotlib loads only when it draws

    s = data.series[i]
    H = quantiles.shape[1]
    labels = data.times(s, origin + H)
    plot_forecast(path, labels, s.values[:origin], quantiles, actual=actual,
                  title=f"{s.name}: {H}-step forecast", show_history=max(4 * H, 48))  # fmt: skip


FORECAST = ForecastSpec()
