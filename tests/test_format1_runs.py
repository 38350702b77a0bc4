"""Runs written before the one task path (format 1) still sample, score, predict and resume with
the numbers the old code gave (tests/fixtures/format1/expected.json, recorded by that code)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from rnnkit.cli import main
from rnnkit.runs import load_json
from rnnkit.tasks import FORMAT_VERSION, read_run_config

FIXTURES = Path(__file__).parent / "fixtures" / "format1"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text())
SEQUENCE_RUNS = [
    ("classify-run", "reviews.csv"),
    ("classify-builtin-run", "dinner"),
    ("regress-run", "series.npz"),
    ("regress-builtin-run", "adding"),
    ("tag-run", "tags.conll"),
]
TIMING = {"elapsed", "rate", "seconds"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the fixtures, as the working directory (the runs name files relatively)."""
    shutil.copytree(FIXTURES, tmp_path / "f")
    monkeypatch.chdir(tmp_path / "f")
    return tmp_path / "f"


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("run", ["text-run", "text-word-run"])
def test_text_runs_score_and_sample_as_before(
    here: Path, capsys: pytest.CaptureFixture[str], run: str
) -> None:
    assert json.loads(_out(capsys, "eval", run, "corpus.txt", "--json")) == EXPECTED[f"{run}/eval"]
    prime = ["--prime", "Doug", "--length", "40", "--seed", "3"]
    if run == "text-word-run":
        prime = ["--length", "12", "--seed", "5"]
    assert _out(capsys, "sample", run, *prime) == EXPECTED[f"{run}/sample"]


@pytest.mark.parametrize(("run", "data"), SEQUENCE_RUNS)
def test_sequence_runs_score_and_predict_as_before(
    here: Path, capsys: pytest.CaptureFixture[str], run: str, data: str
) -> None:
    got = json.loads(_out(capsys, "eval", run, data, "--json"))
    assert got == EXPECTED[f"{run}/eval"]
    if f"{run}/predict" in EXPECTED:
        out = here / ("p.conll" if run == "tag-run" else "p.csv")
        _out(capsys, "predict", run, data, "--output", str(out))
        assert out.read_text() == EXPECTED[f"{run}/predict"]


@pytest.mark.parametrize(
    ("run", "task", "data"),
    [("text-run", "text", "corpus.txt"), ("classify-run", "classify", "reviews.csv"),
     ("tag-run", "tag", "tags.conll")],
)  # fmt: skip
def test_format1_runs_resume_bit_for_bit_and_become_format2(
    here: Path, capsys: pytest.CaptureFixture[str], run: str, task: str, data: str
) -> None:
    assert read_run_config(run).format_version == 1
    _out(capsys, "train", task, data, "--out", run, "--resume", "--max-steps", "9", "--quiet")
    rows = [json.loads(line) for line in (here / run / "metrics.jsonl").read_text().splitlines()]
    evals = [{k: v for k, v in r.items() if k not in TIMING} for r in rows if "val_loss" in r]
    want = [
        {k: v for k, v in r.items() if k not in TIMING} for r in EXPECTED[f"{run}/resume-metrics"]
    ]
    assert evals == want
    config = load_json(here / run / "config.json")
    assert config["format_version"] == FORMAT_VERSION
    assert read_run_config(run).layer == read_run_config(FIXTURES / run).layer
