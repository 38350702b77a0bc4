"""``rnnkit train forecast``, ``rnnkit forecast`` and ``rnnkit eval`` on a forecast run, in-process."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rnnkit.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

TINY = ["--hidden-size", "8", "--max-steps", "6", "--eval-every", "3", "--quiet"]


@pytest.fixture(scope="module")
def airline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("fc") / "run"
    args = ["train", "forecast", "airline", "--out", str(out), "--horizon", "12",
            "--holdout", "12", "--train-horizon", "6", *TINY]  # fmt: skip
    assert main(args) == 0
    torch.set_num_threads(n)
    return out


def test_train_writes_the_run_and_scores_the_holdout(
    airline_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "config.json",
        "forecast.json",
        "model.safetensors",
        "summary.json",
        "forecast.png",
    ):
        assert (airline_run / name).exists(), name
    summary = json.loads((airline_run / "summary.json").read_text())
    assert {"rnnkit", "naive", "seasonal_naive", "drift"} <= set(summary["holdout"])
    cfg = json.loads((airline_run / "config.json").read_text())
    assert cfg["task"] == "forecast" and cfg["info"]["lags"] == [1, 12]


def test_forecast_writes_csv_with_intervals(airline_run: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "f.csv", tmp_path / "f.png"
    assert main(["forecast", str(airline_run), "--horizon", "5", "--samples", "20",
                 "--output", str(out), "--plot", str(png)]) == 0  # fmt: skip
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 5 and rows[0]["time"] == "1961-01" and rows[-1]["time"] == "1961-05"
    r = {k: float(v) for k, v in rows[0].items() if k not in ("series", "time")}
    assert r["lo90"] <= r["lo80"] <= r["lo50"] <= r["median"] <= r["hi50"] <= r["hi80"] <= r["hi90"]
    assert png.stat().st_size > 1000


def test_eval_holdout_and_backtest_json(
    airline_run: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert main(["eval", str(airline_run), "airline", "--json", "--samples", "20"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["mode"] == "holdout" and res["origins"] == 1 and res["points"] == 12
    png = tmp_path / "b.png"
    args = ["eval", str(airline_run), "airline", "--backtest", "--start", "1959-01", "--stride", "3",
            "--json", "--samples", "20", "--plot", str(png)]  # fmt: skip
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    # origins 1959-01, -04, -07, -10, 1960-01: each followed by 12 actual months
    assert res["origins"] == 5 and res["points"] == 60 and png.exists()
    assert 0 <= res["scores"]["rnnkit"]["coverage80"] <= 1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ["train", "forecast", "airline", "--horizon", "24", "--holdout", "12"],
            "--horizon 24 is longer than --holdout 12",
        ),
        (
            ["train", "forecast", "airline", "--context", "200"],
            "series 'passengers' has 144 points",
        ),
        (
            ["train", "forecast", "airline", "--likelihood", "poisson"],
            "--likelihood 'poisson' is unknown",
        ),
        (["train", "forecast", "nope.csv"], "nope.csv: no such file"),
        (
            ["train", "forecast", "airline", "--freq", "fortnightly"],
            "--freq 'fortnightly' is unknown",
        ),
    ],
)
def test_bad_training_input_is_one_line(args: list[str], match: str | None, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "r"
    try:
        code = main([*args, "--out", str(out), *TINY])
    except SystemExit as e:  # argparse's own refusal
        code = int(e.code or 0)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) >= 1
    if match is not None:
        assert match in err
    assert not (out / "model.safetensors").exists()


def test_bad_use_of_a_run(
    airline_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("month,v\n2020-01,1\n2020-02,x\n")
    assert main(["forecast", str(airline_run), str(bad)]) == 2
    assert "row 3, column 'v': 'x' is not a number" in capsys.readouterr().err
    assert main(["forecast", str(airline_run), "sunspots"]) == 2
    assert "frequency is Y, the run was trained on M" in capsys.readouterr().err
    assert main(["eval", str(airline_run), "airline", "--backtest", "--stride", "0"]) == 2
    assert "--stride must be positive" in capsys.readouterr().err
    other = tmp_path / "notarun"
    other.mkdir()
    assert main(["forecast", str(other)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_resume_reaches_the_same_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    base = ["train", "forecast", "airline", "--horizon", "6", "--holdout", "6", "--hidden-size", "8",
            "--eval-every", "3", "--checkpoint-every", "3", "--schedule", "constant", "--quiet"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a"), "--max-steps", "6"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--max-steps", "3"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--max-steps", "6", "--resume"]) == 0
    a, b = (
        load_file(tmp_path / "a" / "model.safetensors"),
        load_file(tmp_path / "b" / "model.safetensors"),
    )
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
