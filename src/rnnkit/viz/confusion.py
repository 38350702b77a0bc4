"""The confusion matrix as a PNG: true class down, predicted class across, counts in the cells.

Drawn with matplotlib's object API (no pyplot state, no display needed) and written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..runs import atomic_write

__all__ = ["plot_confusion"]


def plot_confusion(cm: np.ndarray, names: Sequence[str], path: str | Path, title: str = "") -> None:
    """Write the ``(C, C)`` confusion matrix ``cm`` to ``path`` (PNG); colour = share of the row.

    Counts are printed in each cell when there are at most 30 classes.
    """
    cm = np.asarray(cm)
    C = len(names)
    size = min(3 + 0.45 * C, 16)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.add_subplot()
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)  # fraction of each true class
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = np.arange(C)
    ax.set_xticks(ticks, labels=list(names), rotation=90 if C > 8 else 0)
    ax.set_yticks(ticks, labels=list(names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if C <= 30:
        for i in range(C):
            for j in range(C):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        str(int(cm[i, j])),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black",
                    )
    total = int(cm.sum())
    acc = np.trace(cm) / total if total else float("nan")
    ax.set_title((f"{title}: " if title else "") + f"accuracy {acc:.1%} of {total}")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
