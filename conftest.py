"""Collection settings for the whole suite (tests/ and the doctests in src/)."""

from __future__ import annotations

import importlib.util
import os

import torch

# Without a GPU, Triton kernels run under Triton's CPU interpreter, which must be chosen before
# Triton is first imported: the Triton engine's tests then check the kernels' numbers here too.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The Triton step kernels import Triton at the top; without it there is nothing to collect there.
collect_ignore_glob = (
    [] if importlib.util.find_spec("triton") else ["src/rnnkit/kernels/triton_*.py"]
)
