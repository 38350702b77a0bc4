"""Time stamps of series: parsing, frequencies, a regular integer grid per frequency, calendar features.

Every frequency maps a time stamp to an integer grid position (hours, days, weeks, months, quarters
or years since 1970), so a series is ``start`` plus a run of values and future stamps are
``start + n + k``. Calendar features (DeepAR, Salinas et al. 2020, §3.4: "time-dependent features
like the day-of-the-week and hour-of-the-day"; MQ-RNN, Wen et al. 2017, uses the same) are one-hot
position in the season: hour of day, day of week, month of year, quarter of year.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..errors import UserError

__all__ = [
    "FREQS",
    "FREQ_DAYS",
    "as_grid",
    "calendar_features",
    "from_grid",
    "parse_freq",
    "parse_time",
]

FREQ_DAYS = {"H": 1 / 24, "D": 1.0, "W": 7.0, "M": 30.44, "Q": 91.31, "Y": 365.25}
FREQS = (*FREQ_DAYS, "step")
ALIASES = {"h": "H", "hour": "H", "hourly": "H", "d": "D", "day": "D", "daily": "D", "w": "W",
           "week": "W", "weekly": "W", "m": "M", "ms": "M", "month": "M", "monthly": "M", "q": "Q",
           "qs": "Q", "quarter": "Q", "quarterly": "Q", "y": "Y", "a": "Y", "as": "Y", "ys": "Y",
           "year": "Y", "yearly": "Y", "annual": "Y", "step": "step", "none": "step"}  # fmt: skip
EPOCH = dt.datetime(1970, 1, 1)
MONDAY = dt.datetime(1969, 12, 29)  # weeks are counted from a Monday


def parse_freq(text: str) -> str:
    """``'monthly'`` -> ``'M'``.

    >>> parse_freq("monthly"), parse_freq("H")
    ('M', 'H')
    """
    f = ALIASES.get(text.strip().lower())
    if f is None:
        raise UserError(
            f"unknown frequency {text!r}; known: H D W M Q Y step (or hourly, daily, ...)"
        )
    return f


def parse_time(text: str) -> dt.datetime | None:
    """An ISO date or time (``1949-01``, ``1949-01-31``, ``1949-01-31 10:00``, ``1700``), else None.

    >>> parse_time("1949-02"), parse_time("x")
    (datetime.datetime(1949, 2, 1, 0, 0), None)
    """
    t = text.strip()
    if len(t) == 4 and t.isdigit():
        return dt.datetime(int(t), 1, 1)
    if len(t) == 7 and t[4] in "-/":
        t = t[:4] + "-" + t[5:] + "-01"
    try:
        return dt.datetime.fromisoformat(t.replace("/", "-").replace("Z", ""))
    except ValueError:
        return None


def as_grid(t: dt.datetime, freq: str) -> int:
    """The grid position of ``t`` at ``freq`` (periods since 1970; weeks from a Monday)."""
    if freq == "H":
        return int((t - EPOCH).total_seconds() // 3600)
    if freq == "D":
        return (t - EPOCH).days
    if freq == "W":
        return (t - MONDAY).days // 7
    if freq == "M":
        return (t.year - 1970) * 12 + t.month - 1
    if freq == "Q":
        return (t.year - 1970) * 4 + (t.month - 1) // 3
    if freq == "Y":
        return t.year - 1970
    raise ValueError(freq)


def _stamp(g: int, freq: str) -> dt.datetime:
    if freq == "H":
        return EPOCH + dt.timedelta(hours=g)
    if freq == "D":
        return EPOCH + dt.timedelta(days=g)
    if freq == "W":
        return MONDAY + dt.timedelta(weeks=g)
    if freq in ("M", "Q"):
        m = g * (3 if freq == "Q" else 1)
        return dt.datetime(1970 + m // 12, m % 12 + 1, 1)
    return dt.datetime(1970 + g, 1, 1)


def from_grid(g: int, freq: str) -> str:
    """The ISO label of grid position ``g``.

    >>> from_grid(as_grid(dt.datetime(1958, 1, 1), "M"), "M"), from_grid(5, "step")
    ('1958-01', '5')
    """
    if freq == "step":
        return str(g)
    t = _stamp(g, freq)
    return {"H": t.strftime("%Y-%m-%d %H:00"), "D": t.strftime("%Y-%m-%d"), "W": t.strftime("%Y-%m-%d"),
            "M": t.strftime("%Y-%m"), "Q": t.strftime("%Y-%m"), "Y": t.strftime("%Y")}[freq]  # fmt: skip


def calendar_features(grid: np.ndarray, freq: str) -> np.ndarray:
    """One-hot seasonal position of each grid point: ``(N, F)``; F = 0 for Y, W (none) and step.

    >>> calendar_features(np.array([0, 1, 13]), "M").argmax(1).tolist()  # Jan, Feb, Feb
    [0, 1, 1]
    """
    grid = np.asarray(grid, dtype=np.int64)
    if freq == "M":
        return np.eye(12)[grid % 12]
    if freq == "Q":
        return np.eye(4)[grid % 4]
    if freq == "D":
        return np.eye(7)[(grid + 3) % 7]  # 1970-01-01 was a Thursday (Monday = 0)
    if freq == "H":
        return np.concatenate([np.eye(24)[grid % 24], np.eye(7)[(grid // 24 + 3) % 7]], 1)
    return np.zeros((len(grid), 0))
