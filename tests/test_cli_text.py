"""``rnnkit train text``, ``sample``, ``eval`` and ``demo`` in-process: the happy path, exact resume,
and every kind of bad input (exit code 2 and a one-line message naming the thing)."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from rnnkit.cli import main
from rnnkit.runs import read_jsonl
from rnnkit.tasks.text import TextTask
from rnnkit.train import checkpoint as ck
from rnnkit.train import rundir

TINY = [
    "--hidden-size",
    "16",
    "--num-layers",
    "1",
    "--embedding",
    "8",
    "--batch-size",
    "4",
    "--seq-len",
    "16",
    "--quiet",
]
TEXT = "".join(
    f"{w} saw {o}.\n" for w, o in [("Doug", "Jane"), ("Jane", "Spot"), ("Spot", "Doug")] * 60
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "saw.txt"
    path.write_text(TEXT)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def train(
    capsys: pytest.CaptureFixture[str], corpus: Path, out: Path, *extra: Any
) -> tuple[int, str, str]:
    return run_cli(
        capsys,
        "train",
        "text",
        corpus,
        "--out",
        out,
        *TINY,
        "--max-steps",
        24,
        "--eval-every",
        8,
        "--checkpoint-every",
        8,
        *extra,
    )


@pytest.fixture
def trained(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = train(capsys, corpus, tmp_path / "run", "--lr", "0.02")
    assert code == 0, out
    return tmp_path / "run"


def test_train_writes_a_complete_run(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {
        "config.json",
        "vocab.json",
        "model.safetensors",
        "metrics.jsonl",
        "loss.png",
        "checkpoint.json",
    } <= names
    config = json.loads((trained / "config.json").read_text())
    assert config["task"] == "text" and config["layer"]["cell"] == "lstm"
    assert [r["step"] for r in read_jsonl(trained / "metrics.jsonl") if "val_loss" in r] == [
        8,
        16,
        24,
    ]


def test_summary_line_reports_bits_per_char(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = train(capsys, corpus, tmp_path / "r")
    assert code == 0
    assert "trained 24 steps" in out and "bits/char" in out


def test_sample_streams_and_is_seeded(
    trained: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, s: str) -> int:
            writes.append(s)
            return super().write(s)

    monkeypatch.setattr("sys.stdout", Recorder())
    assert main(["sample", str(trained), "--prime", "Doug", "--length", "40", "--seed", "3"]) == 0
    assert writes[0] == "Doug" and len(writes) == 1 + 40 + 1  # the prime, one write per char, "\n"
    monkeypatch.undo()
    code, first, _ = run_cli(
        capsys, "sample", trained, "--prime", "Doug", "--length", 40, "--seed", 3
    )
    assert code == 0 and first == "".join(writes)
    _, other, _ = run_cli(capsys, "sample", trained, "--prime", "Doug", "--length", 40, "--seed", 4)
    assert other != first
    _, greedy, _ = run_cli(
        capsys, "sample", trained, "--length", 10, "--temperature", 0, "--top-k", 3
    )
    assert len(greedy) == 11  # the default prime ("\n") is not echoed


def test_eval_prints_bits_per_char_and_json(
    trained: Path, corpus: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    held = tmp_path / "held.txt"
    held.write_text("Jane saw Spot.\nSpot saw Doug!\n")
    code, out, _ = run_cli(capsys, "eval", trained, held)
    assert code == 0 and "bits/char" in out and "1 chars outside the vocabulary" in out
    code, out, _ = run_cli(capsys, "eval", trained, held, "--json")
    result = json.loads(out)
    assert code == 0 and result["symbols"] == len(held.read_text()) - 1 and result["unknown"] == 1
    assert result["bits_per_char"] == pytest.approx(result["nats"] / 0.6931471805599453)


def test_resume_after_ctrl_c_matches_an_uninterrupted_run(
    tmp_path: Path,
    corpus: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert train(capsys, corpus, tmp_path / "straight")[0] == 0
    real, calls = TextTask.next_batch, []

    def next_batch(self: TextTask) -> Any:
        calls.append(1)
        if len(calls) == 11:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self)

    monkeypatch.setattr(TextTask, "next_batch", next_batch)
    code, out, _ = train(capsys, corpus, tmp_path / "cut")
    assert code == 130 and "interrupted at step 11" in out
    monkeypatch.undo()
    code, out, _ = run_cli(
        capsys, "train", "text", "--out", tmp_path / "cut", "--resume", "--quiet"
    )
    assert code == 0 and "resuming at step 11" in out
    a = ck.load_checked(tmp_path / "straight" / "model.safetensors")
    b = ck.load_checked(tmp_path / "cut" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)

    def losses(run: Path) -> list[Any]:
        return [
            (r["step"], r.get("train_loss"), r.get("val_loss"))
            for r in read_jsonl(run / "metrics.jsonl")
        ]

    assert losses(tmp_path / "straight") == losses(tmp_path / "cut")


def test_word_level(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(
        capsys,
        "train",
        "text",
        corpus,
        "--out",
        tmp_path / "w",
        "--level",
        "word",
        *TINY,
        "--seq-len",
        4,
        "--max-steps",
        5,
    )
    assert code == 0
    code, out, _ = run_cli(capsys, "sample", tmp_path / "w", "--prime", "Jane saw", "--length", 6)
    assert code == 0 and out.startswith("Jane saw")
    code, out, _ = run_cli(capsys, "eval", tmp_path / "w", corpus)
    assert code == 0 and "perplexity" in out


def test_builtin_corpus_and_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "train", "text", "--out", tmp_path / "b", *TINY, "--max-steps", 2
    )
    assert code == 0 and "standard-library" in out
    assert json.loads((tmp_path / "b" / "config.json").read_text())["sources"] == ["builtin"]
    code, out, _ = run_cli(
        capsys, "demo", "--time-budget", 1, "--hidden", 16, "--length", 30, "--out", tmp_path / "d"
    )
    assert (
        code == 0
        and "--- what it writes" in out
        and (tmp_path / "d" / "model.safetensors").exists()
    )


def test_classic_demo_is_still_there(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "demo", "--classic")
    assert code == 0 and "Dinner cycle" in out and "Doug saw Jane" in out


# ----- bad input: exit code 2, one line naming the thing -------------------------------------------


def bad(capsys: pytest.CaptureFixture[str], *args: Any) -> str:
    code, _, err = run_cli(capsys, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: ")
    return lines[0]


def test_bad_corpus_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert "nope.txt: no such file or directory" in bad(
        capsys, "train", "text", tmp_path / "nope.txt", "--out", out
    )
    (tmp_path / "empty.txt").write_text("")
    assert "empty.txt: the file is empty" in bad(
        capsys, "train", "text", tmp_path / "empty.txt", "--out", out
    )
    (tmp_path / "d").mkdir()
    assert "d: no text files in the directory" in bad(
        capsys, "train", "text", tmp_path / "d", "--out", out
    )
    (tmp_path / "latin.txt").write_bytes(b"Caf\xe9 " * 400)
    msg = bad(capsys, "train", "text", tmp_path / "latin.txt", "--out", out, *TINY)
    assert "latin.txt: byte 0xe9 at offset 3" in msg and "--encoding" in msg
    code, _, _ = run_cli(
        capsys,
        "train",
        "text",
        tmp_path / "latin.txt",
        "--out",
        out,
        *TINY,
        "--max-steps",
        1,
        "--encoding",
        "latin-1",
    )
    assert code == 0
    (tmp_path / "short.txt").write_text("too short to train on\n" * 5)
    msg = bad(capsys, "train", "text", tmp_path / "short.txt", "--out", tmp_path / "s")
    assert (
        "short.txt: the training text has 99 chars, fewer than one window of --batch-size 32 x --seq-len 128"
        in msg
    )


def test_bad_model_and_run_options(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--cell 'lstn' is unknown" in bad(
        capsys, "train", "text", corpus, "--out", tmp_path / "a", "--cell", "lstn"
    )
    assert "--lr must be greater than 0, got -1" in bad(
        capsys, "train", "text", corpus, "--out", tmp_path / "a", "--lr", "-1"
    )
    assert "--unit-forget-bias applies to the LSTM" in bad(
        capsys,
        "train",
        "text",
        corpus,
        "--out",
        tmp_path / "a",
        "--cell",
        "gru",
        "--unit-forget-bias",
    )
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "full: the directory is not empty" in bad(
        capsys, "train", "text", corpus, "--out", tmp_path / "full"
    )
    assert "nowhere: no run to resume" in bad(
        capsys, "train", "text", "--out", tmp_path / "nowhere", "--resume"
    )


def test_prime_outside_the_vocabulary(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    msg = bad(capsys, "sample", trained, "--prime", "Doug é Q")
    assert "--prime: 'é', 'Q' are not in the vocabulary of" in msg
    assert "--top-p must be in (0, 1]" in bad(capsys, "sample", trained, "--top-p", "0")


def test_resume_keeps_the_batch(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    msg = bad(capsys, "train", "text", "--out", trained, "--resume", "--batch-size", "8")
    assert (
        f"--batch-size 8: {trained} was trained with --batch-size 4, which a resumed run keeps"
        in msg
    )


def test_corrupted_and_truncated_checkpoints(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = trained / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x55
    weights.write_bytes(bytes(data))
    assert "model.safetensors: corrupted" in bad(capsys, "sample", trained)
    assert "model.safetensors: corrupted" in bad(capsys, "eval", trained, trained / "vocab.json")
    weights.write_bytes(bytes(data[:100]))
    assert "model.safetensors: not a readable safetensors file" in bad(capsys, "sample", trained)
    (ckpt,) = trained.glob("checkpoint-*")
    (ckpt / "optimizer.safetensors").write_bytes(b"\x08\x00\x00\x00")
    assert "optimizer.safetensors: not a readable" in bad(
        capsys, "train", "text", "--out", trained, "--resume"
    )
    (trained / "vocab.json").write_text('{"level": "char"')
    assert "vocab.json: not valid JSON" in bad(capsys, "sample", trained)
    (trained / "model.safetensors").unlink()
    for checkpoint in trained.glob("checkpoint-*"):  # else sample falls back to its weights
        shutil.rmtree(checkpoint)
    assert "model.safetensors yet" in bad(capsys, "sample", trained)


def test_runs_of_another_task_or_no_run(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "cls"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"task": "classify"}))
    assert "is a 'classify' run, not a 'text' run" in bad(capsys, "sample", other)
    assert "is a 'classify' run, not a 'text' run" in bad(
        capsys, "train", "text", corpus, "--out", other, "--resume"
    )
    assert "not a run directory (no config.json)" in bad(capsys, "sample", tmp_path)
    assert "no such run directory" in bad(capsys, "eval", tmp_path / "nope", corpus)


def test_disk_full_during_save_keeps_the_previous_checkpoint(
    tmp_path: Path,
    corpus: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real, calls = rundir.save_file, []

    def flaky(tensors: dict[str, torch.Tensor], filename: str, metadata: Any = None) -> None:
        calls.append(filename)
        if ".checkpoint-000016" in filename:  # the second checkpoint fills the disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(rundir, "save_file", flaky)
    code, _, err = train(capsys, corpus, tmp_path / "r")
    assert code == 2
    assert "could not save the checkpoint of step 16" in err
    assert "No space left on device; the previous checkpoint (checkpoint-000008) is intact" in err
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "r").glob("*checkpoint-*")) == ["checkpoint-000008"]
    code, out, _ = run_cli(capsys, "train", "text", "--out", tmp_path / "r", "--resume", "--quiet")
    assert code == 0 and "resuming at step 8" in out
