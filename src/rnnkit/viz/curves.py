"""The loss curve of a run: training and validation loss against steps, from ``metrics.jsonl``.

Rows with ``"train_loss"`` draw the training line, rows with ``"val_loss"`` the validation line
(with a marker on each evaluation). Drawn with matplotlib's object API on an Agg canvas, so it
needs no display and never changes the global backend; the PNG is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..runs import atomic_write, read_jsonl

__all__ = ["plot_loss_curve"]


def plot_loss_curve(
    metrics_path: str | Path,
    png_path: str | Path,
    *,
    scale: float = 1.0,
    ylabel: str = "loss",
    title: str | None = None,
) -> bool:
    """Draw ``png_path`` from ``metrics_path``; returns False (and writes nothing) without data.

    Args:
        metrics_path: a ``metrics.jsonl`` (rows with ``step`` and ``train_loss``/``val_loss``).
        png_path: the picture to write.
        scale: losses are multiplied by this (e.g. ``1 / ln 2`` to draw bits).
        ylabel: the y-axis label.
        title: the title (default: the run directory's name).
    """
    rows = read_jsonl(metrics_path)
    train = [
        (r["step"], r["train_loss"] * scale) for r in rows if "train_loss" in r and "step" in r
    ]
    val = [(r["step"], r["val_loss"] * scale) for r in rows if "val_loss" in r and "step" in r]
    if not train and not val:
        return False
    fig = Figure(figsize=(7, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train, strict=True), label="training", color="tab:blue", linewidth=1.2)
    if val:
        ax.plot(
            *zip(*val, strict=True),
            label="validation",
            color="tab:orange",
            marker="o",
            markersize=3,
            linewidth=1.5,
        )
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else Path(metrics_path).resolve().parent.name)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png"))
    return True
