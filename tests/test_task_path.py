"""The one task path: flags generated from the typed configs, one name per concept, the same
resume checks for every task, every setting checked before anything is written."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import build_parser, main
from rnnkit.tasks import TASKS, LayerConfig, open_run
from rnnkit.tasks.run import flag, section_class
from rnnkit.tasks.spec import SECTIONS

TINY = ["--hidden-size", "8", "--max-steps", "2", "--eval-every", "2", "--batch-size", "4"]


def _train_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    train = next(
        a
        for a in parser._subparsers._group_actions[0].choices["train"]._actions  # type: ignore[union-attr]
        if isinstance(a, argparse._SubParsersAction)
    )
    return dict(train.choices)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_flag_is_one_config_field_and_back(name: str) -> None:
    spec, parser = TASKS[name], _train_parsers()[name]
    dests = {a.dest: a for a in parser._actions if "." in a.dest and a.help != argparse.SUPPRESS}
    want = set()
    for section in SECTIONS:
        for f in fields(section_class(spec, section)):
            if f.metadata.get("internal") or f.name in spec.hidden.get(section, set()):
                continue
            want.add(f"{section}.{f.name}")
            action = dests.get(f"{section}.{f.name}")
            assert action is not None, f"{name}: no flag for {section}.{f.name}"
            assert flag(f.name) in action.option_strings
    assert set(dests) == want


def _cfg(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def test_the_hidden_size_travels_under_one_name(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "regress", "adding", "--length", "5", "--out", str(run), *TINY]) == 0
    assert _cfg(run)["layer"]["hidden_size"] == 8
    assert open_run(run).model.encoder.layer.hidden_size == 8  # type: ignore[union-attr]


def test_old_spellings_still_work_with_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = ["--hidden", "8", "--layers", "1", "--batch", "4", "--max-steps", "1"]
    assert (
        main(["train", "regress", "adding", "--length", "4", "--out", str(tmp_path / "a"), *old])
        == 0
    )
    err = capsys.readouterr().err
    assert "--hidden is deprecated; use --hidden-size" in err
    assert "--batch is deprecated; use --batch-size" in err
    new = ["--hidden-size", "8", "--num-layers", "1", "--batch-size", "4", "--max-steps", "1"]
    assert (
        main(["train", "regress", "adding", "--length", "4", "--out", str(tmp_path / "b"), *new])
        == 0
    )
    a, b = _cfg(tmp_path / "a"), _cfg(tmp_path / "b")
    assert (a["layer"], a["train"]) == (b["layer"], b["train"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-length", "-1"], "--max-length must be at least 1, got -1"),
        (["--max-vocab", "-1"], "--max-vocab must be at least 0, got -1"),
        (["--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
        (["--seed", str(2**64)], "--seed must be in [0, 9223372036854775807], got"),
        (["--activation", "bogus"], "--activation 'bogus' is unknown"),
        (["--cell", "rnn", "--unit-forget-bias"], "--unit-forget-bias applies to the LSTM cells"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--pooling", "median"], "--pooling 'median' is unknown; choose one of last, mean, max"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    out = tmp_path / "run"
    assert main(["train", "classify", "dinner", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnkit: error: ") and message in err[0]
    assert not out.exists()


def _npz(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 5, 2)).astype(np.float32)
    np.savez(path, X=X, lengths=np.full(40, 5), y=(X[:, :, 0].sum(1) > 0).astype(np.int64))
    return path


@pytest.mark.parametrize("task", ["classify", "regress"])
def test_resume_refuses_other_data_and_contradicting_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], task: str
) -> None:
    run, data = str(tmp_path / "run"), str(_npz(tmp_path / "a.npz", 0))
    assert main(["train", task, data, "--out", run, *TINY]) == 0
    other = str(_npz(tmp_path / "b.npz", 1))  # same labels, other rows
    capsys.readouterr()
    assert main(["train", task, other, "--out", run, "--resume", "--max-steps", "4"]) == 2
    assert "not the data" in capsys.readouterr().err
    assert main(["train", task, data, "--out", run, "--resume", "--hidden-size", "16"]) == 2
    err = capsys.readouterr().err
    assert "--hidden-size 16:" in err and "--hidden-size 8, which a resumed run keeps" in err
    assert main(["train", task, data, "--out", run, "--resume", "--seed", "7"]) == 2
    assert "--seed 7:" in capsys.readouterr().err
    assert main(["train", task, data, "--out", run, "--resume", "--max-steps", "4"]) == 0
    assert _cfg(Path(run))["train"]["max_steps"] == 4


def test_layer_config_builds_every_cell() -> None:
    from rnnkit.tasks import CELLS

    for cell in CELLS:
        layer = LayerConfig(cell=cell, hidden_size=4, num_layers=1).build(3)
        assert layer.hidden_size == 4


def test_a_config_edited_to_a_huge_model_is_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(["train", "regress", "adding", "--length", "4", "--out", str(run), *TINY]) == 0
    config = _cfg(run)
    config["layer"]["hidden_size"] = 60_000  # 14e9 numbers: allocating them would take 58 GB
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["eval", str(run), "adding"]) == 2
    err = capsys.readouterr().err
    assert "model.safetensors: " in err and "the model in config.json needs" in err


def test_outputs_are_checked_before_work_and_read_only_runs_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    assert main(["train", "classify", "dinner", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    bad = str(tmp_path / "nodir" / "x.csv")
    assert main(["predict", str(run), "dinner", "--output", bad]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["eval", str(run), "dinner", "--confusion", bad]) == 2
    assert "--confusion" in capsys.readouterr().err
    import rnnkit.cli.eval_seq as eval_seq

    monkeypatch.setattr(eval_seq.os, "access", lambda *a: False)  # as for a read-only run
    assert main(["eval", str(run), "dinner", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["confusion_png"] is None and "read-only" in out.err
    assert not (run / "eval_confusion.png").exists()
