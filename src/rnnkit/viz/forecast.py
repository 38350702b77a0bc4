"""Pictures of forecasts: history, median and 50 %/90 % intervals; a backtest's rolling forecasts.

Drawn with matplotlib's object API on an Agg canvas (no display, no global backend change); the
PNG is written atomically. The x axis is the series' time labels (a few shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..models.forecaster import QUANTILES
from ..runs import atomic_write

__all__ = ["plot_backtest", "plot_forecast"]


def _save(fig: Figure, path: str | Path) -> None:
    path = Path(path)
    atomic_write(path, lambda tmp: FigureCanvasAgg(fig).print_png(str(tmp)))


def _ticks(ax: object, labels: Sequence[str]) -> None:
    step = max(1, len(labels) // 8)
    pos = list(range(0, len(labels), step))
    ax.set_xticks(pos)  # type: ignore[attr-defined]
    ax.set_xticklabels([labels[p] for p in pos], rotation=30, ha="right", fontsize=8)  # type: ignore[attr-defined]


def plot_forecast(
    path: str | Path,
    labels: Sequence[str],
    history: np.ndarray,
    quantiles: np.ndarray,
    *,
    actual: np.ndarray | None = None,
    title: str = "",
    show_history: int = 0,
) -> None:
    """Draw ``history`` then the forecast ``quantiles (Q, H)`` (levels :data:`QUANTILES`).

    Args:
        labels: time labels of the history followed by the H forecast steps.
        actual: the true values over the horizon, drawn when given.
        show_history: draw only the last N history points (0: all).
    """
    n, H = len(history), quantiles.shape[1]
    start = max(0, n - show_history) if show_history else 0
    x_h, x_f = np.arange(start, n) - start, np.arange(n, n + H) - start
    q = {lv: quantiles[k] for k, lv in enumerate(QUANTILES)}
    fig = Figure(figsize=(8, 4), dpi=110)
    ax = fig.add_subplot()
    ax.plot(x_h, history[start:], color="black", lw=1.2, label="history")
    ax.fill_between(x_f, q[0.05], q[0.95], color="tab:blue", alpha=0.18, label="90 % interval")
    ax.fill_between(x_f, q[0.25], q[0.75], color="tab:blue", alpha=0.35, label="50 % interval")
    ax.plot(x_f, q[0.5], color="tab:blue", lw=1.5, label="median forecast")
    if actual is not None:
        ax.plot(x_f, actual, color="tab:red", lw=1.0, ls="--", label="actual")
    _ticks(ax, list(labels)[start : n + H])
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_backtest(
    path: str | Path,
    labels: Sequence[str],
    values: np.ndarray,
    origins: Sequence[int],
    quantiles: np.ndarray,
    *,
    title: str = "",
) -> None:
    """Draw a series and the forecast from each origin: ``quantiles (B, Q, H)`` for ``origins``.

    Each origin's median is a thin line; the 80 % interval of every one-step-ahead forecast is
    shaded, so the picture shows both the paths and how well the intervals cover.
    """
    lo, med, hi = (QUANTILES.index(v) for v in (0.1, 0.5, 0.9))
    H = quantiles.shape[2]
    fig = Figure(figsize=(9, 4), dpi=110)
    ax = fig.add_subplot()
    ax.plot(np.arange(len(values)), values, color="black", lw=1.2, label="actual")
    for k, o in enumerate(origins):
        x = np.arange(o, o + H)
        ax.plot(x, quantiles[k, med], color="tab:blue", lw=0.8, alpha=0.7,
                label="median forecast" if k == 0 else None)  # fmt: skip
        ax.fill_between(x, quantiles[k, lo], quantiles[k, hi], color="tab:blue", alpha=0.06,
                        label="80 % interval" if k == 0 else None)  # fmt: skip
    first = max(0, min(origins) - 2 * H) if len(origins) else 0
    ax.set_xlim(first, len(values))
    _ticks(ax, list(labels))
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
