"""Translation at subword level: SentencePiece piece models trained at prepare time, kept in the run,
read back on resume, and used to join the outputs back into text."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.data.pairs import clean
from rnnkit.data.subword import SubwordModel
from rnnkit.tasks.translate import TranslateData, default_levels, symbol_labels

TINY = ["--hidden-size", "8", "--embedding", "6", "--max-steps", "4", "--eval-every", "0",
        "--eval-sentences", "5", "--batch-size", "8", "--quiet"]  # fmt: skip
EN = ["one", "two", "three", "four", "five", "six", "seven"]
FR = ["un", "deux", "trois", "quatre", "cinq", "six", "sept"]
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py
needs_sentencepiece = pytest.mark.usefixtures("sentencepiece_installed")
SENTENCES = [f"{EN[i % 7]} {EN[(i * 3) % 7]} {EN[(i * 5) % 7]}" for i in range(80)]


@pytest.fixture(scope="module")
def sentencepiece_installed() -> None:
    pytest.importorskip("sentencepiece")


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [f"{EN[i % 7]} {EN[i // 7 % 7]}\t{FR[i % 7]} {FR[i // 7 % 7]}" for i in range(60)]
    p = tmp_path_factory.mktemp("data") / "en-fr.tsv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def train(pairs: Path, out: Path, *flags: str) -> None:
    argv = ["train", "translate", str(pairs), "--out", str(out), "--level", "subword", *TINY]
    assert main([*argv, *flags]) == 0


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, pairs_file: Path, sentencepiece_installed: None) -> Path:  # fmt: skip
    out = tmp_path_factory.mktemp("runs") / "r"
    train(pairs_file, out)
    return out


def test_the_run_keeps_its_piece_models(run: Path) -> None:
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["data"]["level"], cfg["data"]["target_level"]) == ("subword", "subword")
    for side in ("src", "tgt"):
        vocab = json.loads((run / f"{side}_vocab.json").read_text())
        pieces = SubwordModel.load(run / f"{side}_subword.model")
        assert vocab["level"] == "subword" and vocab["symbols"] == pieces.pieces()
        assert vocab["symbols"][:4] == ["<pad>", "<unk>", "<s>", "</s>"]
        assert len(pieces) == cfg["info"][f"{side}_vocab_size"] < 1000  # clipped to the data
    assert json.loads((run / "tgt_vocab.json").read_text())["symbols"].count("▁deux") == 1


def test_same_data_and_seed_same_run(run: Path, pairs_file: Path, tmp_path: Path) -> None:
    train(pairs_file, tmp_path / "again")
    for name in ("src_subword.model", "tgt_subword.model", "model.safetensors"):
        assert (tmp_path / "again" / name).read_bytes() == (run / name).read_bytes(), name


@needs_sentencepiece
@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_piece_model_bytes_are_deterministic(kind: str) -> None:
    a = SubwordModel.train(SENTENCES, 60, kind, seed=3)
    b = SubwordModel.train(list(SENTENCES), 60, kind, seed=3)
    assert a.proto == b.proto and len(a) <= 60


@needs_sentencepiece
def test_round_trip_gives_the_normalized_text() -> None:
    texts = [clean(t) for t in ["Caf\u00e9 cr\u00e8me, s'il vous pla\u00eet.", "L'\u00e9t\u00e9 est l\u00e0 !",
                                "Le caf\u00e9 est chaud.", "Il fait chaud l'\u00e9t\u00e9."]]  # fmt: skip
    m = SubwordModel.train(texts * 10, 80, "bpe")
    for text in [*texts, "Cafe\u0301  chaud", "l\u00e0, est-il chaud ?"]:
        normalized = " ".join(clean(text).split())  # NFC, runs of spaces as one
        assert m.normalize(clean(text)) == normalized
        assert m.join(m.split(clean(text))) == normalized
    assert symbol_labels(["▁caf", "é", "▁", "</s>"], m) == ["caf", "é", "␣", "</s>"]


def test_translate_and_eval_write_text_not_pieces(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["translate", str(run), "one two", "--attention-plot", str(tmp_path / "a.png")]) == 0  # fmt: skip
    assert "▁" not in capsys.readouterr().out and (tmp_path / "a.png").exists()
    pytest.importorskip("sacrebleu")
    assert main(["eval", str(run), str(run / "test.tsv"), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["splits"]["test.tsv"]
    assert s["n"] == 3 and "bleu" in s and s["by_source_length"]


@needs_sentencepiece
def test_a_trained_run_translates(pairs_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "r"
    train(pairs_file, out, "--target-level", "subword", "--subword-type", "bpe", "--max-steps",
          "120", "--hidden-size", "24", "--batch-size", "16", "--lr", "0.01")  # fmt: skip
    capsys.readouterr()
    assert main(["translate", str(out), "three five"]) == 0
    assert capsys.readouterr().out == "trois cinq\n"


def test_resume_reads_the_piece_models_back(
    run: Path, pairs_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "r"
    shutil.copytree(run, out)
    before = (out / "src_subword.model").read_bytes()

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a resumed run trained its piece model again")

    monkeypatch.setattr(SubwordModel, "train", no_training)
    resume = ["train", "translate", str(pairs_file), "--out", str(out), "--resume", "--quiet"]
    assert main([*resume, "--max-steps", "5"]) == 0
    assert (out / "src_subword.model").read_bytes() == before
    other = tmp_path / "other.tsv"
    other.write_text(pairs_file.read_text().replace("quatre", "vier"), encoding="utf-8")
    capsys.readouterr()
    assert main(["train", "translate", str(other), *resume[3:], "--max-steps", "6"]) == 2
    assert f"not the data {out} was trained on" in capsys.readouterr().err


def test_without_sentencepiece_one_line(
    pairs_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # import fails
    argv = ["train", "translate", str(pairs_file), "--out", str(tmp_path / "r")]
    assert main([*argv, "--target-level", "subword", *TINY]) == 2
    err = capsys.readouterr().err
    assert err == "rnnkit: error: --target-level subword needs sentencepiece: pip install rnnkit[translate]\n"  # fmt: skip
    assert not (tmp_path / "r").exists()


@needs_sentencepiece
@pytest.mark.parametrize(
    ("lines", "flags", "message"),
    [
        (["a\tb"] * 25, [], "training text: 23 sentences are too few to learn subword pieces"),
        ([f"{EN[i % 7]}\t{FR[i % 7]}" for i in range(40)], ["--subword-vocab", "8"],
         "--subword-vocab 8: the source side's training text needs at least 18 pieces"),
    ],
)  # fmt: skip
def test_too_little_data_or_too_few_pieces(
    lines: list[str], flags: list[str], message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    p = tmp_path / "small.tsv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["train", "translate", str(p), "--out", str(tmp_path / "r"), "--level", "subword"]
    assert main([*argv, *flags, *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r").exists()


def test_auto_levels_unchanged() -> None:
    d = TranslateData()
    assert [default_levels(s, d) for s in ("dates", "numbers", "reverse", "x.tsv")] == [
        ("char", "char"), ("char", "word"), ("word", "word"), ("word", "word")]  # fmt: skip
    assert default_levels("numbers", TranslateData(target_level="subword")) == ("char", "subword")
