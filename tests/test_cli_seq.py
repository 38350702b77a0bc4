"""The sequence commands end to end (tiny sizes), and every bad input: exit 2, one line, nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tests.helpers import one_line_error

from rnnkit.cli import main

TINY = ["--hidden-size", "8", "--max-steps", "6", "--eval-every", "3", "--batch-size", "8"]


def _reviews(path: Path, n: int = 40, labels: tuple[str, ...] = ("neg", "pos")) -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "sentiment"])
        for i in range(n):
            lab = labels[i % len(labels)]
            word = {"pos": "good", "neg": "bad"}.get(lab, lab)
            w.writerow([f"a {word} film " + "x" * int(rng.integers(0, 4)), lab])
    return path


def _conll(path: Path, n: int = 30) -> Path:
    rng = np.random.default_rng(1)
    words = {"the": "O", "a": "O", "dog": "B-ANIMAL", "cat": "B-ANIMAL", "runs": "O"}
    lines = []
    for _ in range(n):
        for w in rng.choice(list(words), int(rng.integers(1, 5))):
            lines.append(f"{w}\t{words[str(w)]}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ----- end to end -------------------------------------------------------------------------------


def test_classify_text_train_predict_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _reviews(tmp_path / "reviews.csv")
    run = tmp_path / "run"
    argv = ["train", "classify", str(data), "--label-column", "sentiment", "--out", str(run), *TINY]
    assert (
        main(
            [
                *argv,
                "--level",
                "word",
                "--bidirectional",
                "--pooling",
                "mean",
                "--class-weights",
                "balanced",
            ]
        )
        == 0
    )
    for name in (
        "config.json",
        "model.safetensors",
        "labels.json",
        "vocab.json",
        "metrics.jsonl",
        "confusion.png",
    ):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "classify" and config["data"]["format"] == "text"
    assert json.loads((run / "labels.json").read_text()) == ["neg", "pos"]

    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(data), "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 40 and set(rows[0]) == {
        "row",
        "prediction",
        "probability",
        "label",
        "p_neg",
        "p_pos",
    }
    assert abs(float(rows[0]["p_neg"]) + float(rows[0]["p_pos"]) - 1) < 1e-4

    capsys.readouterr()
    assert main(["eval", str(run), str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 40 and 0 <= report["accuracy"] <= 1 and len(report["confusion"]) == 2
    assert Path(report["confusion_png"]).is_file()

    # resume continues from the checkpoint to a new step limit
    assert main([*argv, "--resume", "--max-steps", "9"]) == 0
    steps = [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert max(steps) == 9


def test_regress_adding_and_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "add"
    assert (
        main(
            [
                "train",
                "regress",
                "adding",
                "--length",
                "12",
                "--out",
                str(run),
                "--cell",
                "gru",
                *TINY,
            ]
        )
        == 0
    )
    summary = json.loads((run / "summary.json").read_text())
    assert 0.1 < summary["test"]["baseline_mse"] < 0.25  # predicting the mean of the generator
    assert main(["eval", str(run), "adding", "--json"]) == 0
    assert "mse" in json.loads(capsys.readouterr().out.splitlines()[-1])

    X = np.random.default_rng(0).normal(size=(30, 6, 2)).astype(np.float32)
    np.savez(
        tmp_path / "d.npz", X=X, lengths=np.full(30, 6) - np.arange(30) % 3, y=X[:, 0, 0] * 3 + 1
    )
    run2 = tmp_path / "npz"
    assert (
        main(
            [
                "train",
                "regress",
                str(tmp_path / "d.npz"),
                "--out",
                str(run2),
                "--cell",
                "rnn",
                *TINY,
            ]
        )
        == 0
    )
    np.savez(tmp_path / "new.npz", X=X[:4])
    out = tmp_path / "p.jsonl"
    assert main(["predict", str(run2), str(tmp_path / "new.npz"), "--output", str(out)]) == 0
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == 4 and isinstance(preds[0]["prediction"], float)


def test_tag_conll_and_long_csv_classify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _conll(tmp_path / "train.conll")
    run = tmp_path / "tag"
    assert main(["train", "tag", str(data), "--out", str(run), *TINY]) == 0
    out = tmp_path / "tagged.conll"
    _conll(tmp_path / "new.conll", 3).write_text("the\ndog\n\nruns\n")
    assert main(["predict", str(run), str(tmp_path / "new.conll"), "--output", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert [ln.split("\t")[0] for ln in lines if ln] == ["the", "dog", "runs"] and lines[2] == ""
    assert all(ln.split("\t")[1] in ("O", "B-ANIMAL") for ln in lines if ln)
    assert main(["eval", str(run), str(data)]) == 0
    out_text = capsys.readouterr().out
    assert (
        "whole sequences right" in out_text and "entity F1" in out_text
    )  # BIO tags: entity scores

    long = tmp_path / "long.csv"
    rows = ["id,step,x,label"] + [
        f"s{i},{t},{(i % 2) * t},{'up' if i % 2 else 'flat'}" for i in range(20) for t in range(3)
    ]
    long.write_text("\n".join(rows) + "\n")
    run2 = tmp_path / "long"
    assert main(["train", "classify", str(long), "--out", str(run2), "--cell", "cifg", *TINY]) == 0
    assert json.loads((run2 / "config.json").read_text())["data"]["format"] == "long-csv"


def test_compare_table_and_curves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    argv = ["compare", "--task", "adding", "--length", "8", "--cells", "rnn,lstm", "--seeds", "2",
            "--steps", "4", "--eval-every", "2", "--hidden-size", "4", "--out", str(out)]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["cell"] for c in report["cells"]] == ["rnn", "lstm"]
    assert all(len(c["runs"]) == 2 and c["min"] <= c["mean"] <= c["max"] for c in report["cells"])
    assert report["baseline"] == pytest.approx(1 / 6)
    assert (out / "compare.png").is_file() and (out / "lstm-seed1" / "model.safetensors").is_file()
    err = one_line_error(capsys, argv)  # the runs exist now
    assert "already exists" in err


# ----- bad input --------------------------------------------------------------------------------


def _train_error(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str]) -> str:
    run = tmp_path / "run"
    err = one_line_error(capsys, ["train", *args, "--out", str(run), *TINY])
    assert not run.exists(), "a failed start must leave nothing behind"
    return err


def test_missing_label_column_lists_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _reviews(tmp_path / "r.csv")
    err = _train_error(capsys, tmp_path, ["classify", str(data)])
    assert "no column 'label' (columns: text, sentiment)" in err and "--label-column" in err


def test_one_class_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _reviews(tmp_path / "r.csv", labels=("pos",))
    err = _train_error(capsys, tmp_path, ["classify", str(data), "--label-column", "sentiment"])
    assert "only one class ('pos')" in err


def test_unseen_label_at_eval_and_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    train = _reviews(tmp_path / "r.csv")
    assert (
        main(
            [
                "train",
                "classify",
                str(train),
                "--label-column",
                "sentiment",
                "--out",
                str(run),
                *TINY,
            ]
        )
        == 0
    )
    new = _reviews(tmp_path / "new.csv", n=6, labels=("pos", "neg", "meh"))
    err = one_line_error(capsys, ["eval", str(run), str(new)])
    assert "line 4: label 'meh' was not seen in training" in err and "--unknown-label skip" in err
    one_line_error(capsys, ["predict", str(run), str(new)])
    capsys.readouterr()
    assert main(["eval", str(run), str(new), "--unknown-label", "skip", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 4 and report["skipped"] == 2


@pytest.mark.parametrize(
    ("kind", "name", "content", "match"),
    [
        ("classify", "e.csv", "text,label\n   ,pos\nb,neg\n", "line 2: 'text' is empty"),
        (
            "classify",
            "r.csv",
            "id,step,x,label\na,0,1,p\na,1,2,p\nb,0,3\n",
            "line 4: 3 fields, expected 4",
        ),
        (
            "classify",
            "n.csv",
            "id,step,x,label\na,0,1,p\nb,0,nan,q\n",
            "line 3: feature 'x' is nan",
        ),
        ("regress", "t.csv", "text,label\nab,1.5\ncd,inf\n", "line 3: target is inf"),
        ("tag", "t.conll", "the O\ndog B-X\n\na O x\n", "line 4: 3 fields, expected 2"),
        ("classify", "missing.csv", None, "no such file, and no built-in dataset"),
        ("classify", "adding", None, "adding is a regress task, not classify"),
    ],
)
def test_bad_training_data(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    name: str,
    content: str | None,
    match: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    err = _train_error(
        capsys, tmp_path, [kind, str(path) if content is not None or "." in name else name]
    )
    assert match in err


def test_bad_npz_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X = np.ones((4, 3, 2), dtype=np.float32)
    np.savez(tmp_path / "empty.npz", X=X, lengths=np.array([3, 3, 0, 3]), y=np.arange(4) % 2)
    assert "sequence 2 is empty" in _train_error(
        capsys, tmp_path, ["classify", str(tmp_path / "empty.npz")]
    )
    X[1, 2, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=np.arange(4) % 2)
    assert "X[1, 2, 1] is nan (sequence 1, step 2)" in _train_error(
        capsys, tmp_path, ["classify", str(tmp_path / "nan.npz")]
    )

    run = tmp_path / "ok"
    np.savez(
        tmp_path / "ok.npz", X=np.random.default_rng(0).normal(size=(10, 3, 2)), y=np.arange(10) % 2
    )
    assert main(["train", "classify", str(tmp_path / "ok.npz"), "--out", str(run), *TINY]) == 0
    np.savez(tmp_path / "wide.npz", X=np.zeros((2, 3, 5)))
    err = one_line_error(capsys, ["predict", str(run), str(tmp_path / "wide.npz")])
    assert "5 features" in err and "trained on 2" in err


def test_existing_run_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    err = one_line_error(
        capsys, ["train", "regress", "adding", "--length", "5", "--out", str(run), *TINY]
    )
    assert "not empty" in err and (run / "notes.txt").read_text() == "mine"
