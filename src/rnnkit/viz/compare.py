"""Learning curves of several cells on one task: the mean over seeds as a line, the spread a band.

Used by ``rnnkit compare``: each cell trains on the same task with the same seeds, and its
validation metric is drawn against training steps, with the score of a memoryless baseline as
a dashed line (the adding problem's 0.167, Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..runs import atomic_write

__all__ = ["Curve", "plot_compare"]

Curve = Sequence[tuple[int, float]]  # (step, metric) points of one run


def _on_grid(curves: Sequence[Curve]) -> tuple[np.ndarray, np.ndarray]:
    """Curves of one cell on the steps they share: ``(steps (S,), values (runs, S))``."""
    common = sorted(set.intersection(*(set(s for s, _ in c) for c in curves))) if curves else []
    values = np.array([[dict(c)[s] for s in common] for c in curves], dtype=np.float64)
    return np.array(common), values


def plot_compare(
    curves: Mapping[str, Sequence[Curve]],
    path: str | Path,
    metric: str,
    title: str = "",
    baseline: float | None = None,
    log_scale: bool = True,
) -> None:
    """Write a PNG of validation ``metric`` against steps, one line per cell (mean over its seeds).

    Args:
        curves: ``{cell: [run curve, ...]}``, each run curve a list of ``(step, value)``.
        baseline: a horizontal reference line (e.g. predicting the mean), or ``None``.
        log_scale: a logarithmic y axis (for losses and errors).
    """
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for name, runs in curves.items():
        runs = [c for c in runs if c]
        if not runs:
            continue
        steps, values = _on_grid(runs)
        if not len(steps):
            continue
        mean = values.mean(axis=0)
        (line,) = ax.plot(
            steps, mean, label=f"{name} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        )
        if len(runs) > 1:
            ax.fill_between(
                steps, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2
            )
    if baseline is not None:
        ax.axhline(
            baseline, color="gray", linestyle="--", linewidth=1, label=f"baseline {baseline:.3g}"
        )
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
