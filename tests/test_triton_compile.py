"""The Triton step kernels compile for a real GPU (sm_90), checked on a machine without one.

``tests/test_fused.py`` checks the kernels' numbers under Triton's interpreter; this checks what
the interpreter cannot: that Triton's CUDA compiler accepts every kernel down to a cubin, for a
covering sample of the launches the fused kernels make (see ``triton_compile_check.py``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="Triton is not installed"
)


def test_every_triton_kernel_compiles_for_sm90() -> None:
    script = Path(__file__).with_name("triton_compile_check.py")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run(
        [sys.executable, str(script), "--cover", "90"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "sm_90: compiled" in out and "_lstm_bwd" in out and "_gru_bwd_r" in out, out
    done, of = out.split("sm_90: compiled ")[1].split(" launches")[0].split(" of ")
    assert done == of and int(of) >= 8, out  # every sampled launch, at least one per kernel
