"""C++ time loops of the fused elman kernel."""

ELMAN_C = r"""
"""
