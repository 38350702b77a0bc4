"""Split-conformal calibration of forecast intervals: by hand, ordering, old runs, the flag, the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli import main
from rnnkit.errors import UserError
from rnnkit.forecasting import Calibration, apply, fit
from rnnkit.forecasting.calibration import INTERVALS, conformal_rank, scores
from rnnkit.models.forecaster import QUANTILES
from rnnkit.tasks import read_run_config
from rnnkit.tasks.forecast_run import CALIBRATION, load_calibration

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

MED = QUANTILES.index(0.5)
HALF = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])  # 90/80/50 % half-widths 3, 2, 1


def _flat(b: int, h: int, center: float = 0.0) -> np.ndarray:
    """``(b, Q, h)`` quantiles: median ``center``, the 50/80/90 % intervals +-1, +-2, +-3."""
    return np.broadcast_to((center + HALF)[None, :, None], (b, len(QUANTILES), h)).copy()


def test_widening_by_hand() -> None:
    # 20 windows, residuals +-0.5, +-1.0, ..., +-5.0 (half above, half below the median 10)
    y = 10 + np.array([k / 2 * (-1) ** k for k in range(1, 21)])[:, None]
    cal = fit(_flat(20, 1, 10.0), y)
    # the 50 % interval: r = |y - m| / 1; rank ceil(21 * 0.5) = 11 of the sorted 0.5, 1, ..., 10
    assert conformal_rank(20, 0.5) == 11 and cal.factors[50] == [5.5]
    # 80 %: r = |y - m| / 2, rank 17 -> 8.5 / 2; 90 %: r = |y - m| / 3, rank 19 -> 9.5 / 3
    assert cal.factors[80] == [pytest.approx(4.25)] and cal.factors[90] == [pytest.approx(9.5 / 3)]
    assert cal.coverage_before == {50: 0.1, 80: 0.2, 90: 0.3}  # |r| <= 1: 0.5, 1 / ..., 1.5
    q = apply(_flat(20, 1, 10.0), cal)
    assert q[0, :, 0].tolist() == pytest.approx([0.5, 1.5, 4.5, 10, 15.5, 18.5, 19.5])
    for level, (lo, hi) in INTERVALS.items():
        inside = (y >= q[:, QUANTILES.index(lo)]) & (y <= q[:, QUANTILES.index(hi)])
        assert inside.mean() >= level / 100  # at least nominal on the calibration set
    # too narrow an interval is narrowed: residuals all within a tenth of the half-width
    y_small = 10 + np.linspace(-0.1, 0.1, 20)[:, None]
    assert max(fit(_flat(20, 1, 10.0), y_small).factors[50]) <= 0.1


def test_scores_and_zero_width_sides() -> None:
    q = _flat(3, 1)
    q[:, :MED] = 0.0  # no width below the median
    y = np.array([[-1.0], [0.0], [2.0]])
    assert scores(q, y, 80)[:, 0].tolist() == [np.inf, 0.0, 1.0]
    with pytest.raises(ValueError, match="too few"):
        fit(_flat(5, 1), np.ones((5, 1)))  # 5 points cannot calibrate a 90 % interval


def test_per_step_when_there_are_enough_windows() -> None:
    rng = np.random.default_rng(0)
    B, H = 400, 3
    y = rng.normal(size=(B, H)) * np.array([1.0, 2.0, 4.0])  # the spread grows with the step
    cal = fit(_flat(B, H), y)
    assert cal.per_step and len(cal.factors[80]) == H
    f = cal.factors[80]
    assert f[0] < f[1] < f[2]
    # Gaussian: the 80 % interval's half-width is 1.2816 sd, the unit quantiles' half-width is 2
    assert f[2] == pytest.approx(4 * 1.2816 / 2, rel=0.15)
    assert not fit(_flat(20, H), y[:20]).per_step  # too few windows: pooled
    # a longer forecast than calibrated takes the last step's factor
    assert cal.factor(80, 5).tolist() == [*f, f[2], f[2]]


def test_quantiles_stay_ordered_and_the_median_unchanged() -> None:
    rng = np.random.default_rng(1)
    q = np.sort(rng.normal(size=(50, len(QUANTILES), 4)), axis=1)
    # factors that would cross the intervals: the 50 % one made wider than the 90 % one
    cal = Calibration({50: [6.0, 0.0, 1.0, 2.0], 80: [0.3] * 4, 90: [0.1] * 4}, 50, 200, {})
    out = apply(q, cal)
    assert np.array_equal(out[:, MED], q[:, MED])
    assert bool((np.diff(out, axis=1) >= 0).all())
    assert apply(q, None) is q  # nothing to apply: the very numbers


def test_calibration_json_round_trip_and_damage(tmp_path: Path) -> None:
    cal = fit(_flat(20, 2), np.linspace(-4, 4, 40).reshape(20, 2))
    back = Calibration.from_json(json.loads(json.dumps(cal.to_json())))
    assert back.factors == cal.factors and back.points == 40 and back.windows == 20
    for bad in ({"factors": {"50": [1.0]}}, {**cal.to_json(), "factors": {"50": [-1], "80": [1],
                                                                         "90": [1]}}):  # fmt: skip
        with pytest.raises((KeyError, ValueError)):
            Calibration.from_json(bad)


# ----- runs and the command line ------------------------------------------------------------

TINY = ["--hidden-size", "8", "--max-steps", "20", "--eval-every", "20", "--quiet"]


def _series_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(90)
    cols = [10 + 3 * np.sin(2 * np.pi * t / 6 + k) + rng.normal(0, 1, t.size) for k in range(3)]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c"])
        w.writerows(zip(*[[f"{v:.4f}" for v in c] for c in cols], strict=True))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A calibrated run and the same run trained with ``--calibrate none``."""
    base = tmp_path_factory.mktemp("cal")
    data = _series_csv(base / "s.csv")
    args = ["train", "forecast", str(data), "--horizon", "4", "--holdout", "4", "--val-points",
            "12", "--context", "8", "--lags", "1,6", *TINY]  # fmt: skip
    assert main([*args, "--out", str(base / "on")]) == 0
    assert main([*args, "--out", str(base / "off"), "--calibrate", "none"]) == 0
    return base / "on", base / "off"


def _forecast(run: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    assert main(["forecast", str(run), "--samples", "40", "--output", str(out), *extra]) == 0
    return list(csv.DictReader(out.read_text().splitlines()))


def _eval(run: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    capsys.readouterr()
    data = read_run_config(run).sources[0]
    args = [
        "eval",
        str(run),
        data,
        "--backtest",
        "--start",
        "80",
        "--stride",
        "2",
        "--json",
        "--samples",
        "40",
    ]
    assert main([*args, "--plot", str(run / "b.png"), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_training_stores_the_calibration(runs: tuple[Path, Path]) -> None:
    on, off = runs
    cal = json.loads((on / CALIBRATION).read_text())
    # 3 series x origins 74..82 (the 12 validation points before the holdout, 4-step forecasts)
    assert cal["windows"] == 27 and cal["points"] == 108 and not cal["per_step"]
    assert set(cal["factors"]) == {"50", "80", "90"}
    summary = json.loads((on / "summary.json").read_text())
    assert summary["calibration"]["factors"] == cal["factors"]
    raw, fixed = summary["holdout_uncalibrated"], summary["holdout"]["rnnkit"]
    assert raw["mase"] == fixed["mase"]  # the median does not move
    assert not (off / CALIBRATION).exists() and "calibration" not in json.loads(
        (off / "summary.json").read_text()
    )


def test_forecast_and_backtest_apply_it_and_the_flag_turns_it_off(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on, _ = runs
    cal = _forecast(on, tmp_path / "c.csv")
    raw = _forecast(on, tmp_path / "r.csv", "--no-calibrate")
    assert [r["median"] for r in cal] == [r["median"] for r in raw]
    assert [r["hi80"] for r in cal] != [r["hi80"] for r in raw]
    for r in cal:
        v = [float(r[k]) for k in ("lo90", "lo80", "lo50", "median", "hi50", "hi80", "hi90")]
        assert v == sorted(v)
    a, b = _eval(on, capsys), _eval(on, capsys, "--no-calibrate")
    assert a["calibrated"] and not b["calibrated"]
    assert a["scores"]["rnnkit"]["mase"] == b["scores"]["rnnkit"]["mase"]
    assert a["scores"]["rnnkit"]["crps"] != b["scores"]["rnnkit"]["crps"]
    assert a["scores"]["naive"] == b["scores"]["naive"]


def test_a_run_made_before_calibration_forecasts_as_before(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on, off = runs
    old = tmp_path / "old"
    shutil.copytree(on, old)
    (old / CALIBRATION).unlink()
    cfg = json.loads((old / "config.json").read_text())
    del cfg["model"]["calibrate"]  # the setting did not exist either
    (old / "config.json").write_text(json.dumps(cfg))
    assert load_calibration(old, read_run_config(old)) is None
    assert _forecast(old, tmp_path / "o.csv") == _forecast(on, tmp_path / "r.csv", "--no-calibrate")
    assert _eval(old, capsys)["scores"] == _eval(on, capsys, "--no-calibrate")["scores"]
    # --calibrate none: the same run as sampled, whatever file lies there
    none = tmp_path / "none"
    shutil.copytree(off, none)
    shutil.copy(on / CALIBRATION, none / CALIBRATION)
    assert load_calibration(none, read_run_config(none)) is None


def test_a_damaged_calibration_is_one_line(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(runs[0], bad)
    (bad / CALIBRATION).write_text('{"factors": {"50": [1]}}')
    with pytest.raises(UserError, match=r"calibration\.json: not a forecast calibration"):
        load_calibration(bad, read_run_config(bad))
    assert main(["forecast", str(bad), "--samples", "5"]) == 2
    assert "not a forecast calibration" in capsys.readouterr().err
