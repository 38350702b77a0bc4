"""``rnnkit bench`` runs and returns well-formed rows (numbers only; no timing is asserted)."""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit.bench import Size, bench_step, run_bench, saved_bytes
from rnnkit.cli import main

TINY = Size(3, 2, 4, 8)


def test_run_bench_rows() -> None:
    rows = run_bench([TINY], ["lstm", "lstm_recurrent_dropout", "jordan"], repeats=1)
    assert [r["variant"] for r in rows] == ["lstm", "lstm_recurrent_dropout", "jordan"]
    assert [r["kernel"] for r in rows] == ["native", "fused", "fused"]
    for r in rows:
        assert r["size"] == "T=3,B=2,I=4,H=8"
        for key in ["fwd_ms", "fwdbwd_ms", "naive_fwdbwd_ms", "lstm_fwdbwd_ms", "fwdbwd_vs_lstm"]:
            assert r[key] > 0
        assert r["saved_bytes"] > 0 and r["naive_saved_bytes"] > 0
    assert rows[0]["fwdbwd_vs_torch"] > 0  # the standard LSTM has a torch.nn twin
    assert rows[2]["fwdbwd_vs_torch"] is None  # torch has no Jordan network


def test_saved_bytes_counts_what_backward_keeps() -> None:
    lin = torch.nn.Linear(256, 1, bias=False)
    x = torch.randn(4, 256)
    assert saved_bytes(lin, x) == 4 * 256 * 4  # the input, in float32
    with torch.no_grad():
        assert saved_bytes(lin, x) == 0


def test_bench_step_row() -> None:
    row = bench_step(TINY, repeats=3)
    assert row["size"] == "B=2,I=4,H=8" and row["step_us"] > 0 and row["nn_lstm_len1_us"] > 0


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--sizes", "3,2,4,8", "--variants", "gru_reset_before", "--repeats", "1"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["variant"] == "gru_reset_before"
    assert data["step"][0]["size"] == "B=2,I=4,H=8"
    assert set(data["environment"]) == {"torch", "threads", "compiled_loops", "clock"}
    assert main(argv) == 0
    line = next(li for li in capsys.readouterr().out.splitlines() if "gru_reset_before" in li)
    assert line.split()[:2] == ["gru_reset_before", "fused"]
    threads = torch.get_num_threads()
    try:
        assert main([*argv, "--markdown", "--clock", "cpu", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)  # the command sets it for the whole process
    out = capsys.readouterr().out
    assert "| gru_reset_before | fused |" in out and "1 threads" in out and "CPU time" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "3,2,4"], "expected four positive integers T,B,I,H, got '3,2,4'"),
        (["--variants", "lstm", "nope"], "--variants: unknown nope"),
        (["--repeats", "0"], "--repeats must be at least 1"),
    ],
)
def test_cli_bad_arguments(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args]) == 2
    assert message in capsys.readouterr().err
