"""``rnnkit doctor``, in-process: the JSON report says what this machine runs, and the text report
names the reason when the compiled loops are off."""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit.cli import main
from rnnkit.cli.doctor import EXTRAS
from rnnkit.kernels import fused_c


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
