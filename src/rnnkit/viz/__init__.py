"""Plots: learning curves, confusion matrices, cell comparisons."""
