"""PNG figures of ``rnnkit inspect``: the gate saturation scatter and a sequence's evolution.

:func:`plot_saturation` draws Karpathy, Johnson & Fei-Fei (2015), Figure 3: one panel per
layer, each sigmoid gate unit a dot at (fraction of steps below 0.1, fraction above 0.9).
:func:`plot_sequence` draws, for one input of a classify, regress or tag run, the last layer's
hidden state (units x steps) above the prediction at each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..runs import atomic_write
from .inspect_page import GATE_COLORS, KIND_NAMES

__all__ = ["plot_saturation", "plot_sequence"]

Key = tuple[int, str]


def plot_saturation(
    sat: dict[Key, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = ""
) -> None:
    """Write the saturation scatter as a PNG, one panel per layer."""
    layers = sorted({layer for layer, _ in sat})
    fig = Figure(figsize=(3.3 * len(layers) + 0.4, 3.6))
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, layer in zip(axes, layers, strict=True):
        for (lay, gate), (left, right) in sat.items():
            if lay == layer:
                ax.scatter(left, right, s=9, alpha=0.5, color=GATE_COLORS.get(gate, "#555"),
                           label=f"{gate} ({KIND_NAMES.get(gate, gate)})")  # fmt: skip
        ax.plot([0, 1], [1, 0], color="#bbb", linewidth=0.8, linestyle="--")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("fraction left-saturated (< 0.1)", fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("fraction right-saturated (> 0.9)", fontsize=8)
    axes[-1].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def plot_sequence(
    hidden: np.ndarray,
    prediction: np.ndarray,
    path: str | Path,
    *,
    labels: Sequence[str] | None,
    tokens: Sequence[str] | None = None,
    title: str = "",
) -> None:
    """Write one input's step-by-step picture as a PNG.

    Args:
        hidden: ``(T, H)`` the last layer's hidden state after each step.
        prediction: ``(T, C)`` class or tag probabilities at each step, or ``(T,)`` values.
        labels: the class names (``None`` for a regression).
        tokens: the input's tokens, written under the steps when there are few of them.
    """
    T, H = hidden.shape
    fig = Figure(figsize=(min(14, 5 + T * 0.08), 5.6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    m = float(np.abs(hidden).max()) or 1.0
    img = top.imshow(hidden.T, aspect="auto", cmap="RdBu_r", vmin=-m, vmax=m,
                     interpolation="nearest", extent=(-0.5, T - 0.5, H - 0.5, -0.5))  # fmt: skip
    fig.colorbar(img, ax=top, fraction=0.03, pad=0.01)
    top.set_ylabel("hidden unit")
    top.set_title(title, fontsize=10)
    steps = np.arange(T)
    if labels is None:
        bottom.plot(steps, prediction, color="#c62828")
        bottom.set_ylabel("predicted value")
    else:
        show = np.argsort(-prediction.max(0))[:6]  # the classes that ever matter most
        for k in show:
            bottom.plot(steps, prediction[:, k], label=str(labels[k]))
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_ylabel("probability")
        bottom.legend(fontsize=7, loc="upper left", ncol=min(3, len(show)))
    bottom.grid(True, alpha=0.3)
    bottom.set_xlabel("step")
    if tokens is not None and T <= 40:
        bottom.set_xticks(steps, [str(t) for t in tokens[:T]], rotation=60, fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
