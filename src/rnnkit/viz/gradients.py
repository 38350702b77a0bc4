"""The gradient-flow figure of ``rnnkit compare --gradients``: ‖∂L/∂h_t‖ against the distance
from the loss, one colour per cell, dashed at initialisation and solid after training, on a
logarithmic axis, so a geometric decay (the vanishing gradient) is a straight falling line.
The numbers come from :func:`rnnkit.gradflow.compare_gradients`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..runs import atomic_write

__all__ = ["plot_gradients"]


def plot_gradients(
    flows: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = ""
) -> None:
    """Write the PNG: for each cell its ``init`` and ``trained`` norms by distance."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for k, (cell, flow) in enumerate(flows.items()):
        color = f"C{k}"
        for when, style in (("init", "--"), ("trained", "-")):
            norms = np.asarray(flow[when], dtype=np.float64)
            d = np.arange(len(norms))
            keep = norms > 0
            ax.plot(d[keep], norms[keep], style, color=color, label=f"{cell}, {when}")
    ax.set_yscale("log")
    ax.set_xlabel("distance from the loss (steps back from the last step)")
    ax.set_ylabel("‖∂L/∂h_t‖ (mean over test rows)")
    ax.set_title(title or "gradient flow through time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
