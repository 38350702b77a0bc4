"""Validation of the forecast task: every window of the validation part is scored (the best
checkpoint does not rest on one), one window per series exactly as before where the part holds
one horizon, evaluating leaves the random state alone and a resumed run evaluates the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.data.series import synthetic_series
from rnnkit.forecasting import forecast_quantiles
from rnnkit.forecasting import metrics as M
from rnnkit.models.forecaster import QUANTILES, Forecaster
from rnnkit.runs import load_json, read_jsonl
from rnnkit.tasks import forecast as F
from rnnkit.tasks.forecast import ForecastData, ForecastModel, ForecastTask, build_forecaster

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

H, HOLDOUT, N_SERIES, LENGTH = 5, 5, 3, 60
MED = QUANTILES.index(0.5)


def _task(val_points: int, likelihood: str = "student-t") -> tuple[ForecastTask, Forecaster]:
    data = synthetic_series(N_SERIES, LENGTH, seed=0)
    d = ForecastData(holdout=HOLDOUT, val_points=val_points)
    m = ForecastModel(horizon=H, context=10, likelihood=likelihood, eval_samples=20)
    task = ForecastTask(data, d, m, 8, 0)
    torch.manual_seed(0)
    model = build_forecaster(task, lambda i: rnnkit.GRU(i, 8, batch_first=True))
    return task, model.eval()


def _mase(task: ForecastTask, pair: tuple[int, int], median: np.ndarray) -> float:
    y = task.windows.arrays[pair[0]].y
    o = pair[1]
    return M.mase(y[o : o + H], median, y[:o], task.data.season)


@pytest.mark.parametrize("chunk", [512, 3])  # one batch; a batch per origin (3 series each)
def test_every_validation_window_counts_alike(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(F, "CHUNK", chunk)
    task, model = _task(val_points=9, likelihood="quantile")  # direct quantiles: no sampling
    end = LENGTH - HOLDOUT
    # every origin whose 5-step horizon lies in the 9 validation points: end - 9 ... end - 5
    want = {(i, o) for i in range(N_SERIES) for o in range(end - 9, end - H + 1)}
    assert len(task.val_pairs) == 15 and set(task.val_pairs) == want
    assert len(task.val_batches) == (1 if chunk == 512 else 5)
    got = task.evaluate(model)
    # the same windows scored one at a time, then averaged with equal weights
    with torch.no_grad():
        losses = [float(model.loss(*task.windows.batch([p]))) for p in task.val_pairs]
    mases = [_mase(task, p, forecast_quantiles(model, task.windows, [p], H, 1)[0, MED])
             for p in task.val_pairs]  # fmt: skip
    assert got["val_loss"] == pytest.approx(np.mean(losses), rel=1e-5)
    assert got["val_mase"] == pytest.approx(np.mean(mases), rel=1e-5)
    # not what the first window alone (the only one scored before) gives
    first = [p for p in task.val_pairs if p[1] == end - 9]
    with torch.no_grad():
        alone = float(model.loss(*task.windows.batch(first)))
    assert abs(got["val_loss"] - alone) > 1e-4


@pytest.mark.parametrize("val_points", [0, 3, H])  # none, shorter than a horizon, one horizon
def test_one_window_per_series_exactly_as_before(val_points: int) -> None:
    task, model = _task(val_points)
    pairs = [(i, LENGTH - HOLDOUT - H) for i in range(N_SERIES)]
    assert task.val_pairs == pairs and task.val_batches == [pairs]
    # what evaluate computed before it scored several windows (student-t: sampled medians)
    torch.manual_seed(7)
    with torch.no_grad():
        loss = float(model.loss(*task.windows.batch(pairs)))
    q = forecast_quantiles(model, task.windows, pairs, H, task.m.eval_samples)
    mase = float(np.mean([_mase(task, p, q[k, MED]) for k, p in enumerate(pairs)]))
    torch.manual_seed(7)
    assert task.evaluate(model) == {"val_loss": loss, "val_mase": mase}  # bit for bit


def test_evaluate_leaves_the_random_state() -> None:
    task, model = _task(val_points=9)
    torch.manual_seed(3)
    before = torch.get_rng_state()
    first = task.evaluate(model)
    assert torch.equal(torch.get_rng_state(), before)
    assert task.evaluate(model) == first  # the same samples again
    assert task.rng.bit_generator.state == np.random.default_rng(0).bit_generator.state


def test_a_stride_keeps_the_window_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "MAX_VAL_WINDOWS", 6)
    task, _ = _task(val_points=9)
    end = LENGTH - HOLDOUT
    # 15 windows > 6: every third origin, the last one (next to the holdout) kept
    assert sorted({o for _, o in task.val_pairs}) == [end - 8, end - 5]
    assert len(task.val_pairs) == 6


def test_a_resumed_run_keeps_the_same_evaluations(tmp_path: Path) -> None:
    base = ["train", "forecast", "airline", "--horizon", "6", "--holdout", "6", "--val-points",
            "10", "--hidden-size", "8", "--eval-every", "2", "--checkpoint-every", "2",
            "--schedule", "constant", "--quiet"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a"), "--max-steps", "6"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--max-steps", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--max-steps", "6", "--resume"]) == 0

    def evals(run: str) -> list[tuple[int, float, float]]:
        rows = read_jsonl(tmp_path / run / "metrics.jsonl")
        return [(r["step"], r["val_loss"], r["val_mase"]) for r in rows if "val_loss" in r]

    assert len(evals("a")) == 3 and evals("a") == evals("b")
    a, b = (load_json(tmp_path / r / "summary.json") for r in "ab")
    assert a["holdout"] == b["holdout"] and a["calibration"] == b["calibration"]
