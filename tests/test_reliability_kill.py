"""Fault injection (issue 14): SIGKILL a training process at random moments, many of them in the
middle of a checkpoint save; after each kill the run directory must hold a complete checkpoint,
``--resume`` must continue from it, and at the end the run must load and score.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.runs import LOCK, read_jsonl
from rnnkit.train import checkpoint as ck

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

CHECKPOINT_FILES = {
    "model.safetensors",
    "optimizer.safetensors",
    "optimizer.json",
    "train_state.json",
    "train_state.safetensors",
}


def env() -> dict[str, str]:
    src = str(Path(ck.__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def pointer_step(run: Path) -> int:
    try:
        return int(json.loads((run / "checkpoint.json").read_text())["step"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1


def assert_complete(run: Path) -> int:
    """The pointer names a whole checkpoint whose files all read; returns its step."""
    name = json.loads((run / "checkpoint.json").read_text())["dir"]
    files = {p.name for p in (run / name).iterdir()}
    assert files >= CHECKPOINT_FILES, f"{name} lacks {CHECKPOINT_FILES - files}"
    for f in files:
        if f.endswith(".safetensors"):
            ck.load_checked(run / name / f)
        else:
            json.loads((run / name / f).read_text())
    return pointer_step(run)


def kill_during_training(argv: list[str], run: Path, rng: random.Random, mid_save: bool) -> None:
    """Start training, wait for a checkpoint newer than the current one, then SIGKILL it: at
    once when a ``.checkpoint-*.partial`` appears (``mid_save``) or after a random delay."""
    before = pointer_step(run)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
    )
    try:
        deadline = time.monotonic() + 60
        while pointer_step(run) <= before:
            assert proc.poll() is None, f"training ended early: {proc.stderr.read().decode()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
        if mid_save:
            while not any(run.glob(".checkpoint-*.partial")):
                assert proc.poll() is None
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.004))
        else:
            time.sleep(rng.uniform(0, 0.3))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_during_checkpoint_saves_then_resume_and_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(14)
    gen = np.random.default_rng(0)
    X = gen.normal(size=(40, 5, 2)).astype(np.float32)
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=(X[:, :, 0].sum(1) > 0).astype(np.int64))
    run = tmp_path / "run"
    argv = ["train", "classify", str(data), "--out", str(run), "--hidden-size", "4"]
    argv += [
        "--embedding",
        "4",
        "--batch-size",
        "4",
        "--eval-every",
        "3",
        "--checkpoint-every",
        "1",
    ]
    steps = []
    for k in range(4):
        resume = ["--resume"] if k else []
        kill_during_training(
            [*argv, *resume, "--max-steps", "100000"], run, rng, mid_save=k % 2 == 1
        )
        steps.append(assert_complete(run))
        assert not (run / LOCK).exists() or (run / LOCK).read_text().strip() != str(os.getpid())
    assert steps == sorted(steps) and steps[0] > 0
    final = steps[-1] + 3
    assert main([*argv, "--resume", "--max-steps", str(final)]) == 0
    assert assert_complete(run) == final
    assert not list(run.glob(".checkpoint-*.partial")) and not list(run.glob(".*.tmp"))
    rows = [r["step"] for r in read_jsonl(run / "metrics.jsonl") if "val_loss" in r]
    assert rows == sorted(set(rows)), f"evaluations written twice or out of order: {rows}"
    capsys.readouterr()
    assert main(["eval", str(run), str(data), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert 0.0 <= scores["accuracy"] <= 1.0
