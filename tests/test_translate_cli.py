"""rnnkit train translate / translate / eval, in-process, on tiny data; bad input exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

TINY = ["--hidden-size", "8", "--embedding", "6", "--max-steps", "4", "--eval-every", "0",
        "--eval-sentences", "5", "--batch-size", "8", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    words = ["one", "two", "three", "four", "five", "six"]
    french = ["un", "deux", "trois", "quatre", "cinq", "six"]
    lines = [f"{words[i % 6]} {words[(i * 5) % 6]}\t{french[i % 6]} {french[(i * 5) % 6]}\tCC-BY"
             for i in range(60)]  # fmt: skip
    p = tmp_path_factory.mktemp("data") / "en-fr.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, pairs_file: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(["train", "translate", str(pairs_file), "--out", str(out), *TINY]) == 0
    return out


def test_train_writes_a_run(run: Path) -> None:
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["task"] == "translate" and cfg["data"]["level"] == "word"
    assert cfg["info"]["pairs"] == 54 and (run / "test.tsv").read_text().count("\n") == 3
    for name in ("src_vocab.json", "tgt_vocab.json", "model.safetensors", "attention.png"):
        assert (run / name).exists(), name
    assert json.loads((run / "src_vocab.json").read_text())["specials"] == ["<pad>", "<unk>", "<s>", "</s>"]  # fmt: skip


def test_translate_text_file_and_plot(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert (
        main(["translate", str(run), "one two", "--attention-plot", str(tmp_path / "a.png")]) == 0
    )
    first = capsys.readouterr().out
    assert first.count("\n") == 1 and (tmp_path / "a.png").exists()
    src = tmp_path / "in.txt"
    src.write_text("one two\nsix zebra\nfive\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert main(["translate", str(run), "--input", str(src), "--output", str(out), "--beam", "3"]) == 0  # fmt: skip
    assert out.read_text().count("\n") == 3
    assert "1 symbol(s) the run never saw were read as <unk>" in capsys.readouterr().err
    for batch in ("1", "64"):  # the batch never changes a translation
        assert main(["translate", str(run), "--input", str(src), "--batch-size", batch]) == 0
        assert capsys.readouterr().out.splitlines()[0] == first.strip()


def test_eval_json(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sacrebleu")
    assert main(["eval", str(run), str(run / "test.tsv"), "--beam", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    s = r["splits"]["test.tsv"]
    assert s["n"] == 3 and "bleu" in s and s["bleu_signature"].startswith("nrefs:1")
    assert sum(row["n"] for row in s["by_source_length"]) == 3


def test_resume_continues(pairs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "r2"
    assert main(["train", "translate", str(pairs_file), "--out", str(out), *TINY]) == 0
    more = ["train", "translate", str(pairs_file), "--out", str(out), "--max-steps", "6", "--resume",
            "--quiet"]  # fmt: skip
    assert main(more) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 6


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["translate", "{run}", "x", "--beam", "0"], "--beam must be 1 or more, got 0"),
        (["translate", "{run}", "--input", "{empty}"], "empty; nothing to translate"),
        (["translate", "{run}"], "give one TEXT or --input FILE"),
        (["translate", "{run}", ""], "input 1: an empty text"),
        (["eval", "{run}", "{bad}"], "line 2: one column"),
        (["train", "translate", "{bad}", "--out", "{new}"], "line 2: one column"),
        (
            ["train", "translate", "dates", "--out", "{new}", "--attention", "luong"],
            "--attention 'luong' is unknown",
        ),
        (["translate", "{text_run}", "x"], "not a 'translate' run"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], message: str, run: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "bad.tsv").write_text("a\tb\nonly\n")
    text_run = tmp_path / "text_run"
    text_run.mkdir()
    (text_run / "config.json").write_text(json.dumps({"task": "text", "format_version": 2}))
    names = {"run": run, "empty": tmp_path / "empty.txt", "bad": tmp_path / "bad.tsv",
             "new": tmp_path / "new", "text_run": text_run}  # fmt: skip
    assert main([a.format(**{k: str(v) for k, v in names.items()}) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "new").exists()
