"""``rnnkit eval RUN SERIES [--backtest --start T --stride K] [--json]`` for forecast runs.

Without ``--backtest``: the forecast of ``--horizon`` steps from the run's holdout origin (the
last ``holdout`` points; a run without a holdout: the last ``horizon`` points) of every series in
SERIES, scored next to the baselines (naive, seasonal naive, drift, ETS, Theta) measured on the same
points. With ``--backtest``: rolling origins from ``--start`` (a time stamp such as ``1956-01``
or an index; negative counts from the end) every ``--stride`` steps, as long as a full horizon
follows; all origins are forecast in one batched pass. The intervals are corrected by the run's
calibration (``RUN/calibration.json``, fitted on its validation windows) unless
``--no-calibrate``; a run without one is scored as sampled. The picture (``--plot``, default
``RUN/backtest.png`` or ``RUN/eval_forecast.png``) shows the first series.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..forecasting.backtest import resolve_start
from ..forecasting.baselines import available
from ..models.forecaster import Forecaster
from ..tasks import RunConfig
from ..tasks.forecast import read_series
from ..tasks.forecast_run import (
    CALIBRATION,
    ForecastArtifacts,
    draw,
    format_scores,
    load_calibration,
    run_windows,
    score,
)
from ..tasks.run import open_run

__all__ = ["add_arguments", "evaluate"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("forecast runs")
    g.add_argument("--backtest", action="store_true",
                   help="forecast: score rolling origins from --start every --stride steps")  # fmt: skip
    g.add_argument("--start", default=None, metavar="T",
                   help="forecast: first backtest origin, a time stamp or an index (negative: "
                   "from the end; default: the run's holdout origin)")  # fmt: skip
    g.add_argument("--stride", type=int, default=1, metavar="K",
                   help="forecast: steps between backtest origins (default 1)")  # fmt: skip
    g.add_argument("--samples", type=int, default=200, metavar="N",
                   help="forecast: sample paths per forecast (default 200)")  # fmt: skip
    g.add_argument("--plot", default=None, metavar="FILE.png",
                   help="forecast: the picture of the first series")  # fmt: skip
    g.add_argument("--no-calibrate", action="store_true",
                   help="forecast: score the intervals as sampled, without the run's "
                   "calibration")  # fmt: skip


def evaluate(args: argparse.Namespace, config: RunConfig) -> int:
    trained = open_run(args.run, "forecast")
    cfg, art, model = trained.config, trained.artifacts, trained.model
    assert isinstance(art, ForecastArtifacts) and isinstance(model, Forecaster)
    if args.stride < 1:
        raise UserError(f"--stride must be positive, got {args.stride}")
    if args.samples < 1:
        raise UserError(f"--samples must be positive, got {args.samples}")
    H = cfg.model.horizon
    data = read_series(args.data, cfg.data)
    windows = run_windows(art, data, list(cfg.data.covariates))
    back = cfg.data.holdout or H
    pairs: list[tuple[int, int]] = []
    for i, s in enumerate(data.series):
        if args.backtest:
            first = resolve_start(data, args.start, i) if args.start is not None else len(s) - back
            pairs += windows.origins(i, first, len(s) - H, args.stride)
        else:
            if args.start is not None:
                raise UserError("--start is for --backtest")
            pairs += windows.origins(i, len(s) - back, len(s) - back)
    cal = None if args.no_calibrate else load_calibration(trained.path, cfg)
    res = score(model, windows, data, pairs, H, args.samples, cal)
    _, note = available()
    what = "backtest" if args.backtest else "holdout"
    png = (
        Path(args.plot)
        if args.plot
        else trained.path / f"{'backtest' if args.backtest else 'eval_forecast'}.png"
    )
    first = [k for k, (i, _) in enumerate(pairs) if i == pairs[0][0]]
    s0 = data.series[pairs[0][0]]
    if args.backtest:
        from ..viz.forecast import plot_backtest

        plot_backtest(png, data.times(s0), s0.values, [pairs[k][1] for k in first],
                      res.quantiles[first], title=f"{s0.name}: backtest, {H}-step forecasts")  # fmt: skip
    else:
        draw(png, data, pairs[0][0], res.quantiles[0], pairs[0][1], res.actual[0])
    if args.json:
        out = {"run": str(args.run), "data": args.data, "task": "forecast", "mode": what,
               "horizon": H, "origins": len(pairs), "points": int(res.actual.size),
               "scores": _finite(res.scores), "picture": str(png), "note": note,
               "calibrated": cal is not None}  # fmt: skip
        print(json.dumps(out, sort_keys=True))
        return 0
    print(
        f"{args.data}: {what}, {len(pairs)} forecast origin(s) of {H} steps, {res.actual.size} points"
    )
    for line in format_scores(res.scores):
        print(line)
    if cal is not None:
        print(
            f"  intervals calibrated by {trained.path / CALIBRATION} (--no-calibrate: as sampled)"
        )
    if note:
        print(f"  note: {note}")
    print(f"  picture: {png}")
    return 0


def _finite(scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """NaN (MAPE of a series with zeros) becomes null in JSON."""
    return {
        k: {m: (None if not np.isfinite(v) else v) for m, v in s.items()} for k, s in scores.items()
    }
