"""``rnnkit bench`` runs and returns well-formed rows (numbers only; no timing is asserted)."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch

from rnnkit import bench
from rnnkit.bench import (
    VARIANTS,
    Size,
    available_engines,
    bench_step,
    engine_errors,
    run_bench,
    saved_bytes,
    target_misses,
)
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
    assert set(data["environment"]) >= {"torch", "threads", "compiled_loops", "clock", "device"}
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


# ----- engines side by side, devices, torch.compile ----------------------------------------------

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine")
no_cuda = pytest.mark.skipif(CUDA, reason="checks what a machine without CUDA says")
FUSED = [name for name in VARIANTS if name not in ("lstm", "gru", "rnn_tanh")]
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=needs_cuda),
]


@pytest.mark.usefixtures("one_thread")
def test_engines_are_timed_side_by_side() -> None:
    engines = available_engines(torch.device("cpu"))
    assert engines[-1] == "torch" and "triton" not in engines  # never the slow interpreter
    rows = run_bench([TINY], ["lstm", "lstm_peephole", "jordan"], repeats=1, engines=engines)
    assert [(r["variant"], r["engine"]) for r in rows] == [
        ("lstm", None),  # torch's own kernel: no loop engine
        *[("lstm_peephole", e) for e in engines],
        *[("jordan", e) for e in engines],
    ]
    for name in ["lstm_peephole", "jordan"]:
        same = [r for r in rows if r["variant"] == name]
        # one naive loop per variant, measured once and shared by its engine rows
        assert len({r["naive_fwdbwd_ms"] for r in same}) == 1
        assert len({r["saved_bytes"] for r in same}) == 1  # every engine saves the same buffers
        assert all(r["fwdbwd_ms"] > 0 and r["device"] == "cpu" for r in same)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("variant", FUSED)
def test_every_engine_computes_the_naive_loop(variant: str, device: str) -> None:
    """Outputs and all gradients of each engine equal the naive loop's (on CUDA: Triton)."""
    engines = available_engines(torch.device(device))
    result = engine_errors(Size(5, 3, 4, 8), variant, engines, device=device)
    for engine in engines:
        ran, err = result[engine]
        assert ran == engine  # the engine asked for really ran
        assert err < 1e-5, f"{variant}[{engine}] differs from the naive loop by {err:.2e}"


@needs_cuda
def test_bench_on_cuda_times_triton_and_torch() -> None:
    rows = run_bench([TINY], ["lstm_peephole", "gru_reset_before"], repeats=1, device="cuda")
    engines = available_engines(torch.device("cuda"))
    assert "triton" in engines, "Triton is not installed: the GPU engine cannot be measured"
    assert [r["engine"] for r in rows] == ["triton", "triton"]  # the automatic choice on CUDA
    rows = run_bench(
        [TINY], ["lstm_peephole", "gru_reset_before"], repeats=1, device="cuda", engines=engines
    )
    assert [(r["variant"], r["engine"]) for r in rows] == [
        (v, e) for v in ["lstm_peephole", "gru_reset_before"] for e in engines
    ]
    assert all(r["device"].startswith("cuda") and r["fwdbwd_ms"] > 0 for r in rows)


@needs_cuda
def test_cuda_graph_rows_follow_their_engines() -> None:
    rows = run_bench([TINY], ["lstm_peephole"], repeats=1, device="cuda", graphs=True)
    assert [r["engine"] for r in rows] == ["triton", "triton+graphs"]
    assert "graphs_error" not in rows[0] and rows[1]["fwdbwd_ms"] > 0


@no_cuda
def test_a_failed_cuda_graph_capture_is_a_row_note() -> None:
    """Without CUDA the capture fails; the bench keeps the row and says why in one line."""
    layer = VARIANTS["lstm_peephole"](4, 8, "fused")
    fns, info = bench._graphed(layer, torch.randn(3, 2, 4), None, lambda: None)
    assert fns == {} and info["graphs_error"].count("\n") == 0 and info["graphs_error"]
    assert "forward" not in vars(layer)  # a capture replaces forward on the copy, never here


@pytest.mark.usefixtures("one_thread")
def test_cli_engines_and_save_json(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    saved = tmp_path / "bench.json"
    argv = ["bench", "--sizes", "3,2,4,8", "--variants", "lstm_coupled", "--repeats", "1"]
    assert (
        main([*argv, "--device", "cpu", "--engines", "--markdown", "--save-json", str(saved)]) == 0
    )
    out = capsys.readouterr().out
    engines = available_engines(torch.device("cpu"))
    for engine in engines:
        assert f"| lstm_coupled | fused | {engine} |" in out
    assert f"engines side by side: {', '.join(engines)}" in out
    assert "| torch.nn.LSTM | native |  |" in out
    data = json.loads(saved.read_text())
    assert data["environment"]["engines"] == engines
    assert data["environment"]["device"] == "cpu"
    assert [r["engine"] for r in data["rows"]] == engines


@pytest.mark.usefixtures("one_thread")
def test_compile_rows(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The plumbing of ``--compile`` (the real compiler takes ~50 s per tiny variant here, so it
    is replaced by the identity: the "compiled" loop is then the naive loop itself)."""
    modes: list[str] = []

    def fake_compile(module: torch.nn.Module, mode: str) -> torch.nn.Module:
        modes.append(mode)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    argv = ["bench", "--sizes", "3,2,4,8", "--variants", "jordan", "--repeats", "1"]
    assert main([*argv, "--compile", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert modes == ["default"]  # on the CPU; reduce-overhead on CUDA
    assert row["compile_s"] >= 0 and row["compiled_fwdbwd_ms"] > 0 and row["fwdbwd_vs_compiled"]
    assert main([*argv, "--compile", "max-autotune-no-cudagraphs"]) == 0
    assert modes[-1] == "max-autotune-no-cudagraphs"
    assert "f+b ÷ compiled" in capsys.readouterr().out

    def failing(*args: object) -> None:
        raise RuntimeError("InductorError: no C++ compiler\nthe traceback")

    monkeypatch.setattr(torch, "compile", lambda module, mode: failing)
    assert main([*argv, "--compile"]) == 0  # the other rows still come
    out = capsys.readouterr().out
    why = "RuntimeError: InductorError: no C++ compiler"
    assert f"torch.compile failed for T=3,B=2,I=4,H=8 jordan: {why}" in out


def test_target_misses_names_each_shortfall() -> None:
    met = {"size": "S", "variant": "jordan", "engine": "c", "fwdbwd_vs_lstm": 0.4,
           "fwdbwd_vs_naive": 3.5}  # fmt: skip
    slow = met | {"variant": "lstm", "engine": None, "fwdbwd_vs_lstm": 1.6, "fwdbwd_vs_naive": 1.2}
    assert target_misses([met]) == []
    assert target_misses([met, slow]) == ["S lstm: 1.60x nn.LSTM, only 1.20x the naive loop"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engines", "nope"], "--engines: unknown nope; choose from c, triton, torch"),
        (["--device", "cpu", "--engines", "triton"], "--engines triton: cannot run on cpu here"),
        (["--device", "tpu"], "--device 'tpu': not a device"),
        (["--compile", "fast"], "--compile 'fast': choose one of default, reduce-overhead"),
        (["--save-json", "/nonexistent/b.json"], "--save-json /nonexistent/b.json: no folder"),
        (["--device", "cpu", "--graphs"], "--graphs: CUDA graphs need a CUDA device, not cpu"),
        pytest.param(["--device", "cuda"], "--device cuda: no CUDA GPU", marks=no_cuda),
    ],
)
def test_cli_bad_device_and_engines(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
