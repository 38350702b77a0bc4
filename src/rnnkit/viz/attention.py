"""Pictures of translation: the attention matrix of one sentence, and scores by source length.

* :func:`plot_attention` — rows are output symbols, columns source symbols, each cell the weight
  the decoder gave that source symbol when writing that output symbol (Bahdanau et al. 2015,
  Figure 3; Luong et al. 2015, Figure 7).
* :func:`plot_by_length` — a score (BLEU, exact match) against source length, one line per model:
  Bahdanau et al. (2015)'s Figure 2 story (the plain encoder-decoder degrades with length,
  attention much less), measured on our own data.

Drawn with matplotlib's object API on an Agg canvas (no display, the global backend untouched);
PNGs are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import UserError
from ..runs import atomic_write

__all__ = ["plot_attention", "plot_by_length"]


def _save(fig: Figure, path: str | Path) -> None:
    canvas = FigureCanvasAgg(fig)
    atomic_write(Path(path), lambda tmp: canvas.print_png(str(tmp)))


def _label(symbol: str) -> str:
    return "␣" if symbol == " " else symbol


def plot_attention(
    weights: Any,
    source: Sequence[str],
    target: Sequence[str],
    path: str | Path,
    *,
    title: str = "",
) -> None:
    """Draw ``weights (len(target), len(source))`` as a labelled heat map in ``path``.

    Raises:
        UserError: the matrix does not match the labels.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(target), len(source)):
        raise UserError(
            f"attention matrix of shape {w.shape} for {len(target)} output and "
            f"{len(source)} source symbols"
        )
    cell = 0.32
    fig = Figure(figsize=(max(3.0, 1.5 + cell * len(source)), max(2.5, 1.2 + cell * len(target))))
    ax = fig.add_subplot()
    im = ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), [_label(s) for s in source], rotation=90, fontsize=8)
    ax.set_yticks(range(len(target)), [_label(s) for s in target], fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    if title:
        ax.set_title(title, fontsize=9, y=-0.12 if len(target) > 3 else -0.3)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    _save(fig, path)


def plot_by_length(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | Path,
    *,
    metric: str = "bleu",
    title: str = "",
) -> None:
    """One line per model: ``metric`` of each source-length band (rows from
    :func:`rnnkit.tasks.translate_metrics.by_length`: ``{"lengths": "1-10", metric: ...}``)."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    labels: list[str] = []
    for name, rows in tables.items():
        rows = [r for r in rows if metric in r]
        if not rows:
            continue
        mids = [np.mean([int(x) for x in r["lengths"].split("-")]) for r in rows]
        ax.plot(mids, [r[metric] for r in rows], marker="o", label=name)
        labels += [r["lengths"] for r in rows]
    if not labels:
        raise UserError(f"no {metric} scores to plot (is sacrebleu installed?)")
    ax.set_xlabel("source length (symbols)")
    ax.set_ylabel({"bleu": "BLEU", "chrf": "chrF", "exact": "exact match (%)"}.get(metric, metric))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    _save(fig, path)
