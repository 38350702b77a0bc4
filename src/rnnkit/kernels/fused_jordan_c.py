"""C++ time loops of the fused jordan kernel."""

JORDAN_C = r"""
"""
