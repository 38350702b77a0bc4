"""Time series from CSV files and built-in sets, checked and put on a regular time grid.

Two CSV layouts:

* **wide** — a time column and one numeric column per series (``month,passengers`` or
  ``date,shop_a,shop_b``). With ``target=`` one column is the series and ``covariates=`` others
  are its covariates; without it every numeric column that is not a covariate is a series.
* **long** — ``series_id=`` names the id column: rows ``id, time, value, covariates...``; the
  value column is ``target=`` or the only numeric column left.

The time column (``time_column=``, else the first column called time/date/month/year/... or
whose first value is a date) is parsed as ISO dates (``1949-01``, ``2001-05-31``,
``2001-05-31 13:00``, a bare year ``1700``); without one the rows are steps ``0, 1, 2, ...``.
The frequency (``H D W M Q Y`` or ``step``) is inferred from the median spacing or given.

**Gaps and missing values**: a timestamp missing from the grid and an empty/``NA`` value are
filled by linear interpolation between the nearest observed values of that series (covariates
too, for missing timestamps); leading and trailing missing values are dropped; the count is in
:attr:`SeriesSet.filled`. With ``missing="error"`` they are refused instead. Covariate cells
must never be empty (a covariate cannot be guessed).

Every problem is a :class:`~rnnkit.errors.UserError` naming the file, row, column or series.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import UserError
from .series_time import FREQ_DAYS, as_grid, from_grid, parse_freq, parse_time

__all__ = [
    "BUILTIN_SERIES",
    "Series",
    "SeriesSet",
    "builtin_series",
    "check_lengths",
    "load_series",
    "synthetic_series",
]

MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}
TIME_NAMES = {"time", "date", "datetime", "timestamp", "ds", "month", "year", "week", "day",
              "period", "quarter", "hour"}  # fmt: skip
# name -> (file, seasonal period used by MASE and the seasonal baselines)
BUILTIN_SERIES: dict[str, tuple[str | None, int]] = {
    "airline": ("airline.csv", 12),
    "co2": ("co2.csv", 12),
    "sunspots": ("sunspots.csv", 11),
    "synthetic": (None, 10),
}


@dataclass
class Series:
    """One series on a regular grid: ``values[i]`` at grid step ``start + i``."""

    name: str
    values: np.ndarray  # (N,) float64
    start: int  # grid index of values[0] (see series_time.as_grid)
    covariates: np.ndarray  # (N, C) float64

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class SeriesSet:
    """Series sharing one frequency and one set of covariate columns."""

    series: list[Series]
    freq: str  # H D W M Q Y or step
    covariate_names: list[str] = field(default_factory=list)
    season: int = 1  # seasonal period (for MASE and seasonal baselines)
    filled: int = 0  # values filled by interpolation
    source: str = ""

    def times(self, s: Series, steps: int | None = None, offset: int = 0) -> list[str]:
        """ISO labels of ``steps`` grid points of ``s`` from ``offset`` (negative: after the end)."""
        n = len(s) if steps is None else steps
        return [from_grid(s.start + offset + i, self.freq) for i in range(n)]

    def names(self) -> list[str]:
        return [s.name for s in self.series]


def _default_season(freq: str) -> int:
    return {"H": 24, "D": 7, "W": 52, "M": 12, "Q": 4, "Y": 1, "step": 1}[freq]


def synthetic_series(
    n_series: int = 100, length: int = 400, season: int = 10, seed: int = 0
) -> SeriesSet:
    """Trend + seasonality + AR(1) noise, positive, seeded (after pytorch-forecasting's generator).

    ``y_t = level * (1 + b t / length + a sin(2 pi t / season + phase)) + e_t`` with
    ``e_t = 0.7 e_{t-1} + N(0, (0.05 level)^2)``; level, b, a and phase differ per series.

    >>> s = synthetic_series(3, 50, seed=1)
    >>> len(s.series), len(s.series[0]), bool((s.series[2].values > 0).all())
    (3, 50, True)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    out = []
    for k in range(n_series):
        level = rng.uniform(5, 50)
        b, a, phase = rng.uniform(-0.3, 0.8), rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi)
        noise = np.zeros(length)
        eps = rng.normal(0, 0.05 * level, length)
        for i in range(1, length):
            noise[i] = 0.7 * noise[i - 1] + eps[i]
        y = level * (1 + b * t / length + a * np.sin(2 * np.pi * t / season + phase)) + noise
        out.append(Series(f"s{k}", np.maximum(y, 0.01 * level), 0, np.zeros((length, 0))))
    return SeriesSet(out, "step", [], season, 0, "synthetic")


def builtin_series(name: str) -> SeriesSet:
    """A built-in set by name: ``airline``, ``co2``, ``sunspots`` or ``synthetic``."""
    if name not in BUILTIN_SERIES:
        raise UserError(f"unknown built-in series {name!r}; known: {', '.join(BUILTIN_SERIES)}")
    file, season = BUILTIN_SERIES[name]
    if file is None:
        return synthetic_series(season=season)
    ref = resources.files("rnnkit.data").joinpath("series_builtin", file)
    with resources.as_file(ref) as path:
        data = load_series(path)
    data.season, data.source = season, name
    return data


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number") from None


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise UserError(
            f"{path}: no such file (and not a built-in series: {', '.join(BUILTIN_SERIES)})"
        )
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"{path}: not a readable CSV file ({e})") from e
    if len(rows) < 2:
        raise UserError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise UserError(f"{path}: row {i} has {len(r)} fields, the header has {len(header)}")
    return header, [[c.strip() for c in r] for r in rows[1:]]


def _pick_time_column(
    header: list[str], rows: list[list[str]], given: str | None, path: Path
) -> int | None:
    if given is not None:
        if given not in header:
            raise UserError(
                f"{path}: no column {given!r} for --time-column (columns: {', '.join(header)})"
            )
        return header.index(given)
    for i, h in enumerate(header):
        if h.lower() in TIME_NAMES:
            return i
    for i, c in enumerate(rows[0]):
        if c.lower() not in MISSING and parse_time(c) is not None:
            try:
                float(c)
            except ValueError:
                return i
    return None


def _column(header: list[str], name: str, flag: str, path: Path) -> int:
    if name not in header:
        raise UserError(f"{path}: no column {name!r} for {flag} (columns: {', '.join(header)})")
    return header.index(name)


def load_series(
    source: str | Path,
    *,
    target: str | None = None,
    time_column: str | None = None,
    series_id: str | None = None,
    covariates: tuple[str, ...] | list[str] = (),
    freq: str | None = None,
    missing: str = "interpolate",
    season: int | None = None,
) -> SeriesSet:
    """Read a built-in name or a CSV file (see the module docstring for layouts and checks).

    >>> airline = load_series("airline")
    >>> airline.freq, len(airline.series[0]), airline.series[0].values[:3].tolist()
    ('M', 144, [112.0, 118.0, 132.0])
    """
    if missing not in ("interpolate", "error"):
        raise UserError(f"--missing must be interpolate or error, got {missing!r}")
    if isinstance(source, str) and source in BUILTIN_SERIES and not Path(source).exists():
        data = builtin_series(source)
        if freq and parse_freq(freq) != data.freq:
            raise UserError(f"built-in series {source!r} is of frequency {data.freq}, not {freq}")
        if target or series_id or covariates:
            raise UserError(
                f"built-in series {source!r} takes no --target/--series-id/--covariates"
            )
        return data
    path = Path(source)
    header, rows = _read_rows(path)
    tcol = _pick_time_column(header, rows, time_column, path)
    idcol = _column(header, series_id, "--series-id", path) if series_id else None
    covcols = [_column(header, c, "--covariates", path) for c in covariates]
    taken = {tcol, idcol, *covcols}
    rest = [i for i in range(len(header)) if i not in taken]
    if target is not None:
        vcols = [_column(header, target, "--target", path)]
    elif idcol is not None:
        if len(rest) != 1:
            raise UserError(
                f"{path}: long format needs --target: value column among {', '.join(header[i] for i in rest)}"
            )
        vcols = rest
    else:
        vcols = rest
    if not vcols:
        raise UserError(f"{path}: no value column left (columns: {', '.join(header)})")
    # times: grid positions, or row numbers without a time column
    stamps: list[dt.datetime | None] = []
    for r, row in enumerate(rows, start=2):
        if tcol is None:
            stamps.append(None)
            continue
        t = parse_time(row[tcol])
        if t is None:
            raise UserError(
                f"{path}: row {r}, column {header[tcol]!r}: {row[tcol]!r} is not a date or time"
            )
        stamps.append(t)
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row[idcol] if idcol is not None else "", []).append(i)
    f = parse_freq(freq) if freq else _infer_freq(stamps, groups, path)
    out: list[Series] = []
    filled = 0
    for gid, idx in groups.items():
        grid = (np.array([as_grid(stamps[i], f) for i in idx]) if tcol is not None  # type: ignore[arg-type]
                else np.arange(len(idx)))  # fmt: skip
        for k in range(1, len(grid)):
            if grid[k] <= grid[k - 1]:
                what = (
                    "duplicate timestamp" if grid[k] == grid[k - 1] else "timestamps not increasing"
                )
                tc = tcol if tcol is not None else 0
                where = f" in series {gid!r}" if gid else ""
                if idcol is None and grid[k] < grid[k - 1]:
                    where += "; several series in one column? give --series-id"
                raise UserError(
                    f"{path}: row {idx[k] + 2}: {what} "
                    f"({rows[idx[k - 1]][tc]} then {rows[idx[k]][tc]}){where}"
                )
        span = int(grid[-1] - grid[0]) + 1
        pos = grid - grid[0]
        cov = np.full((span, len(covcols)), np.nan)
        for j, c in enumerate(covcols):
            for k, i in enumerate(idx):
                v = rows[i][c]
                if v.lower() in MISSING:
                    raise UserError(
                        f"{path}: row {i + 2}, column {header[c]!r}: covariate is missing (NaN)"
                    )
                cov[pos[k], j] = _number(v, f"{path}: row {i + 2}, column {header[c]!r}")
        for vc in vcols:
            y = np.full(span, np.nan)
            for k, i in enumerate(idx):
                v = rows[i][vc]
                if v.lower() not in MISSING:
                    y[pos[k]] = _number(v, f"{path}: row {i + 2}, column {header[vc]!r}")
            name = gid if idcol is not None else header[vc]
            if span != len(idx) and missing == "error":
                raise UserError(
                    f"{path}: series {name!r} has {span - len(idx)} missing timestamps (--missing error)"
                )
            if np.isnan(y).any() and missing == "error":
                raise UserError(
                    f"{path}: series {name!r} has {int(np.isnan(y).sum())} missing values (--missing error)"
                )
            ok = np.flatnonzero(~np.isnan(y))
            if len(ok) == 0:
                raise UserError(f"{path}: series {name!r} has no values")
            lo, hi = ok[0], ok[-1] + 1
            filled += int(np.isnan(y[lo:hi]).sum())
            y = _interpolate(y[lo:hi])
            cv = (
                np.stack([_interpolate(cov[lo:hi, j]) for j in range(len(covcols))], 1)
                if covcols
                else np.zeros((hi - lo, 0))
            )
            if np.ptp(y) == 0:
                raise UserError(
                    f"{path}: series {name!r} is constant ({y[0]:g}): nothing to forecast"
                )
            out.append(Series(name, y, int(grid[0]) + int(lo), cv))
    return SeriesSet(
        out, f, [header[c] for c in covcols], season or _default_season(f), filled, str(path)
    )


def _interpolate(y: np.ndarray) -> np.ndarray:
    bad = np.isnan(y)
    if not bad.any():
        return y
    x = np.arange(len(y))
    y = y.copy()
    y[bad] = np.interp(x[bad], x[~bad], y[~bad])
    return y


def _infer_freq(stamps: list[dt.datetime | None], groups: dict[str, list[int]], path: Path) -> str:
    if stamps and stamps[0] is None:
        return "step"
    gaps: list[float] = []
    for idx in groups.values():
        ts = sorted(stamps[i] for i in idx)  # type: ignore[type-var]
        gaps += [(b - a).total_seconds() / 86400 for a, b in itertools.pairwise(ts)]  # type: ignore[operator]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        raise UserError(f"{path}: cannot infer the frequency from a single timestamp; give --freq")
    median = float(np.median(gaps))
    best = min(FREQ_DAYS, key=lambda k: abs(np.log(median / FREQ_DAYS[k])))
    if abs(np.log(median / FREQ_DAYS[best])) > 0.2:
        raise UserError(f"{path}: timestamps {median:g} days apart match no frequency; give --freq")
    return best


def check_lengths(data: SeriesSet, context: int, horizon: int, holdout: int = 0) -> None:
    """Every series must hold ``context + horizon`` points for training (after the holdout).

    Raises:
        UserError: naming the first series that is too short and the lengths.
    """
    if holdout and horizon > holdout:
        raise UserError(f"--horizon {horizon} is longer than --holdout {holdout}")
    need = context + horizon + holdout
    for s in data.series:
        if len(s) < need:
            extra = f" + holdout {holdout}" if holdout else ""
            raise UserError(
                f"series {s.name!r} has {len(s)} points; context {context} + horizon {horizon}{extra} needs {need}"
            )
