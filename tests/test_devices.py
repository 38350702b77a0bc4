"""--device and --precision: parsing, what a CPU-only machine refuses (exit 2, one line), runs that
record where they trained and open on the CPU; the GPU half runs where CUDA is present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.helpers import one_line_error, word_corpus

from rnnkit.cli import main
from rnnkit.devices import _tensors_to, place, precision_dtype, resolve_device
from rnnkit.errors import UserError
from rnnkit.tasks import open_run

pytestmark = pytest.mark.usefixtures("one_thread")

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA GPU on this machine")
no_cuda = pytest.mark.skipif(CUDA, reason="checks what a machine without CUDA says")

TINY = ["--hidden-size", "8", "--num-layers", "1", "--seq-len", "8", "--batch-size", "4",
        "--max-steps", "3", "--eval-every", "3", "--dropout", "0", "--quiet"]  # fmt: skip


# ----- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu "])
def test_cpu_names(name: str) -> None:
    assert resolve_device(name) == torch.device("cpu")


@no_cuda
def test_auto_is_the_cpu_without_a_gpu() -> None:
    mps = getattr(torch.backends, "mps", None)
    want = "mps" if mps is not None and mps.is_available() else "cpu"
    assert resolve_device("auto").type == want


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_one_is_refused(name: str) -> None:
    with pytest.raises(UserError, match=rf"--device {name}: no CUDA GPU is visible here"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "cuda0", "gpu", ""])
def test_unknown_devices(name: str) -> None:
    with pytest.raises(UserError, match="not a device; use one of auto, cpu, cuda, cuda:N, mps"):
        resolve_device(name)


def test_precision_on_the_cpu() -> None:
    cpu = torch.device("cpu")
    assert precision_dtype("fp32", cpu) is None
    assert precision_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(UserError, match="--precision fp16: not on the CPU"):
        precision_dtype("fp16", cpu)
    with pytest.raises(UserError, match="--precision 'fp8': use one of fp32, bf16, fp16"):
        precision_dtype("fp8", cpu)


def test_outputs_come_back_in_float32() -> None:
    out = _tensors_to((torch.ones(2, dtype=torch.bfloat16), [torch.ones(1)], {"n": 3}),
                      torch.device("cpu"), widen=True)  # fmt: skip
    assert out[0].dtype is torch.float32 and out[1][0].dtype is torch.float32 and out[2] == {"n": 3}


def test_place_on_the_cpu_adds_no_hooks() -> None:
    lin = place(torch.nn.Linear(2, 1), torch.device("cpu"))
    assert not lin._forward_pre_hooks and not hasattr(lin, "_rnnkit_boundary")


# ----- commands --------------------------------------------------------------------------------


@no_cuda
def test_train_cuda_without_one_exits_2_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = word_corpus(tmp_path / "c.txt")
    err = one_line_error(capsys, ["train", "text", str(corpus), "--out", str(tmp_path / "r"), *TINY,
                          "--device", "cuda"])  # fmt: skip
    assert "--device cuda: no CUDA GPU is visible here" in err
    assert not (tmp_path / "r").exists()


def test_bad_device_and_precision_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = word_corpus(tmp_path / "c.txt")
    base = ["train", "text", str(corpus), "--out", str(tmp_path / "r"), *TINY]
    assert "--device 'tpu': not a device" in one_line_error(capsys, [*base, "--device", "tpu"])
    err = one_line_error(capsys, [*base, "--device", "cpu", "--precision", "fp16"])
    assert "--precision fp16: not on the CPU" in err
    assert "--nproc 999: this machine has" in one_line_error(capsys, [*base, "--nproc", "999"])
    assert "--nproc 0: must be at least 1" in one_line_error(capsys, [*base, "--nproc", "0"])
    assert not (tmp_path / "r").exists()


def test_cpu_run_records_its_device_and_opens_on_the_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = word_corpus(tmp_path / "c.txt")
    run = tmp_path / "r"
    argv = ["train", "text", str(corpus), "--out", str(run), *TINY]
    assert main([*argv, "--device", "cpu", "--precision", "bf16"]) == 0
    info = json.loads((run / "config.json").read_text())["info"]
    assert info["trained_on"] == [{"device": "cpu", "precision": "bf16", "processes": 1}]
    # a resumed session on other settings is added; the model's config is unchanged
    resume = ["train", "text", str(corpus), "--out", str(run), "--resume", "--quiet"]
    assert main([*resume, "--max-steps", "4"]) == 0
    info = json.loads((run / "config.json").read_text())["info"]
    assert [s["precision"] for s in info["trained_on"]] == ["bf16", "fp32"]
    opened = open_run(run, "text", device="cpu")
    assert {p.device.type for p in opened.model.parameters()} == {"cpu"}
    capsys.readouterr()
    assert main(["sample", str(run), "--length", "5", "--device", "cpu"]) == 0
    assert main(["eval", str(run), str(corpus), "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])


def test_sample_on_a_missing_gpu_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if CUDA:
        pytest.skip("this machine has a GPU")
    corpus = word_corpus(tmp_path / "c.txt")
    run = tmp_path / "r"
    assert main(["train", "text", str(corpus), "--out", str(run), *TINY]) == 0
    assert "no CUDA GPU" in one_line_error(capsys, ["sample", str(run), "--device", "cuda:1"])


# ----- on a GPU --------------------------------------------------------------------------------


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_train_on_the_gpu_then_sample_on_the_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], precision: str
) -> None:
    corpus = word_corpus(tmp_path / "c.txt")
    run = tmp_path / "r"
    argv = ["train", "text", str(corpus), "--out", str(run), *TINY]
    assert main([*argv, "--device", "cuda", "--precision", precision]) == 0
    info = json.loads((run / "config.json").read_text())["info"]
    assert info["trained_on"][0]["device"].startswith("cuda:0")
    resume = ["train", "text", str(corpus), "--out", str(run), "--resume", "--quiet"]
    assert main([*resume, "--max-steps", "4", "--device", "cpu"]) == 0
    gpu = open_run(run, "text", device="cuda")
    cpu = open_run(run, "text", device="cpu")
    x = torch.randint(len(cpu.artifacts.vocab), (6, 2))
    logits_gpu, _ = gpu.model(x)  # CPU input in, CPU output back (float32)
    logits_cpu, _ = cpu.model(x)
    assert logits_gpu.device.type == "cpu"
    torch.testing.assert_close(logits_gpu, logits_cpu, atol=1e-4, rtol=1e-4)
    assert main(["sample", str(run), "--length", "5", "--device", "cuda"]) == 0
