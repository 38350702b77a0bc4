"""``rnnkit doctor``, in-process: the JSON report says what this machine runs (compiled loops,
Triton, the fused loops' engine per device), and the text report names the reason when the
compiled loops are off."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from rnnkit.cli import main
from rnnkit.cli.doctor import EXTRAS
from rnnkit.kernels import fused_c
from rnnkit.kernels.engines import triton_interpreted


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["doctor", *args]) == 0
    return capsys.readouterr().out


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    info = json.loads(doctor(capsys, "--json"))
    loops = info["compiled_loops"]
    assert loops["active"] is (fused_c.clib(torch.zeros(1)) is not None)
    assert loops["active"] or loops["reason"]
    assert info["threads"]["intra_op"] == torch.get_num_threads()
    assert info["devices"]["cuda"] is torch.cuda.is_available()
    assert info["versions"]["torch"] == torch.__version__
    assert set(info["extras"]) == set(EXTRAS)
    assert info["extras"]["hypothesis"]  # a dev dependency: installed wherever the tests run


def test_text_report_names_why_loops_are_off(capsys: pytest.CaptureFixture[str]) -> None:
    with fused_c.use_c(False):
        out = doctor(capsys)
    assert "compiled loops: off: switched off (RNNKIT_NO_CEXT)" in out
    assert f"threads: {torch.get_num_threads()} intra-op" in out
    for name in EXTRAS:
        assert name in out


def test_triton_and_the_engine_per_device(capsys: pytest.CaptureFixture[str]) -> None:
    info = json.loads(doctor(capsys, "--json"))
    triton = info["triton"]
    assert triton["installed"] is (importlib.util.find_spec("triton") is not None)
    assert triton["interpreted"] is triton_interpreted()
    assert not triton["installed"] or triton["version"]
    cuda = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    assert list(info["engines"])[: 1 + len(cuda)] == ["cpu", *cuda]
    # the CPU runs the compiled loops where they build, never Triton (not even interpreted)
    assert info["engines"]["cpu"] == ("c" if info["compiled_loops"]["active"] else "torch")
    for device in cuda:
        assert info["engines"][device] == ("triton" if triton["installed"] else "torch")


def test_text_report_names_the_engines(capsys: pytest.CaptureFixture[str]) -> None:
    with fused_c.use_c(False):
        out = doctor(capsys)
    assert "fused loops: cpu torch (PyTorch ops)" in out
    if importlib.util.find_spec("triton") is not None and not torch.cuda.is_available():
        interpreter = "under its CPU interpreter" if triton_interpreted() else "unused here"
        assert interpreter in next(li for li in out.splitlines() if li.startswith("triton: "))
