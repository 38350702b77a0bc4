"""``rnnkit forecast RUN [SERIES] [--horizon H] [--samples N] [--output FILE.csv] [--plot FILE.png]``.

Forecasts every series from its end: SERIES read as the run's training data was (same columns,
frequency), or the run's own data without it. The CSV has one row per series and step:
``series, time, median, lo50, hi50, lo80, hi80, lo90, hi90`` (the 50/80/90 % central intervals,
from sample paths or the quantile head, corrected by the run's calibration ``RUN/calibration.json``
unless ``--no-calibrate``). The picture shows the first series (or ``--series``).
Known-future covariates cannot be extended past the end of the data, so a run trained with
``--covariates`` forecasts only where they are known (use ``rnnkit eval``).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np
import torch

from ..devices import add_device_flag
from ..errors import UserError
from ..forecasting.backtest import forecast_quantiles
from ..models.forecaster import QUANTILES, Forecaster
from ..runs import atomic_write
from ..tasks.forecast import read_series
from ..tasks.forecast_run import ForecastArtifacts, draw, load_calibration, run_windows
from ..tasks.run import open_run

__all__ = ["register", "run"]

COLUMNS = ("median", "lo50", "hi50", "lo80", "hi80", "lo90", "hi90")
LEVELS = (0.5, 0.25, 0.75, 0.1, 0.9, 0.05, 0.95)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forecast",
        help="forecast series with a trained forecast run (median and intervals)",
        description="Forecast every series from its end with a trained 'forecast' run.",
    )
    p.add_argument("run", metavar="RUN", help="the run directory")
    p.add_argument("series", nargs="?", metavar="SERIES",
                   help="a CSV or built-in series (default: the run's own data)")  # fmt: skip
    p.add_argument("--horizon", type=int, default=None, metavar="H",
                   help="steps to forecast (default: the run's --horizon)")  # fmt: skip
    p.add_argument("--samples", type=int, default=200, metavar="N",
                   help="sample paths per series (gaussian/student-t runs; default 200)")  # fmt: skip
    p.add_argument("--output", default=None, metavar="FILE.csv",
                   help="write the forecast here (default: print it as CSV)")  # fmt: skip
    p.add_argument("--plot", default=None, metavar="FILE.png", help="draw history and forecast")
    p.add_argument("--series-name", default=None, metavar="NAME",
                   help="which series the picture shows (default: the first)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the sample paths (default 0)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="the intervals as sampled, without the run's calibration")  # fmt: skip
    add_device_flag(p, default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    trained = open_run(args.run, "forecast", args.device)
    cfg, art, model = trained.config, trained.artifacts, trained.model
    assert isinstance(art, ForecastArtifacts) and isinstance(model, Forecaster)
    H = cfg.model.horizon if args.horizon is None else args.horizon
    if H < 1:
        raise UserError(f"--horizon must be positive, got {H}")
    if args.samples < 1:
        raise UserError(f"--samples must be positive, got {args.samples}")
    if cfg.model.likelihood == "quantile" and art.config().horizon != H:
        raise UserError(
            f"--horizon {H}: a quantile run forecasts exactly {art.config().horizon} steps"
        )
    source = args.series or cfg.sources[0]
    data = read_series(source, cfg.data)
    windows = run_windows(art, data, list(cfg.data.covariates), extra=H)
    pairs = [(i, len(s)) for i, s in enumerate(data.series)]
    short = [s.name for s in data.series if len(s) < windows.back]
    if short:
        raise UserError(
            f"series {short[0]!r} has fewer than the {windows.back} points the run reads"
        )
    cal = None if args.no_calibrate else load_calibration(trained.path, cfg)
    torch.manual_seed(args.seed)
    q = forecast_quantiles(model, windows, pairs, H, args.samples, cal)  # (B, Q, H)
    rows = []
    for k, s in enumerate(data.series):
        times = data.times(s, H, offset=len(s))
        for h in range(H):
            vals = [q[k, QUANTILES.index(lv), h] for lv in LEVELS]
            rows.append([s.name, times[h], *(f"{v:.6g}" for v in vals)])
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["series", "time", *COLUMNS])
    w.writerows(rows)
    if args.output:

        def write(tmp: Path) -> None:
            tmp.write_text(text.getvalue(), encoding="utf-8")

        atomic_write(Path(args.output), write)
        print(f"forecast of {H} steps for {len(data.series)} series written to {args.output}")
    else:
        sys.stdout.write(text.getvalue())
    if args.plot:
        names = data.names()
        if args.series_name is not None and args.series_name not in names:
            raise UserError(
                f"--series-name {args.series_name!r} is not among {', '.join(names[:10])}"
            )
        i = names.index(args.series_name) if args.series_name else 0
        draw(Path(args.plot), data, i, np.asarray(q[i]), len(data.series[i]))
        if args.output:
            print(f"picture: {args.plot}")
    return 0
