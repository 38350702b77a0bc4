"""Plots: learning curves, confusion matrices, cell comparisons."""

from .curves import plot_loss_curve

__all__ = ["plot_loss_curve"]
