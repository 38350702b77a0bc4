"""Forecasting: metrics by hand, baselines against published numbers, the model, the task, backtests."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.config import ConfigError
from rnnkit.data.series import load_series, synthetic_series
from rnnkit.errors import UserError
from rnnkit.forecasting import available, backtest, forecast_quantiles, resolve_start
from rnnkit.forecasting import baselines as B
from rnnkit.forecasting import metrics as M
from rnnkit.models.forecaster import LIKELIHOODS, QUANTILES, Forecaster, ForecasterConfig
from rnnkit.tasks.forecast import ForecastData, ForecastModel, ForecastTask, build_forecaster
from rnnkit.viz.forecast import plot_backtest, plot_forecast

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


Y = np.array([10.0, 20.0, 30.0, 40.0])
F = np.array([12.0, 18.0, 33.0, 40.0])


def test_metrics_by_hand() -> None:
    assert M.mae(Y, F) == pytest.approx((2 + 2 + 3 + 0) / 4)
    assert M.rmse(Y, F) == pytest.approx(math.sqrt((4 + 4 + 9) / 4))
    assert M.mape(Y, F) == pytest.approx(100 * (0.2 + 0.1 + 0.1 + 0) / 4)
    assert M.smape(Y, F) == pytest.approx(200 / 4 * (2 / 22 + 2 / 38 + 3 / 63))
    # history 1, 3, 2, 6 with m = 2: |2-1|, |6-3| -> scale 2
    assert M.mase_scale([1, 3, 2, 6], 2) == 2.0
    assert M.mase(Y, F, [1, 3, 2, 6], 2) == pytest.approx(1.75 / 2)
    assert math.isnan(M.mape([0.0, 1.0], [1.0, 1.0]))
    # pinball at q = 0.8: under-forecast by 2 costs 1.6, over-forecast by 2 costs 0.4
    assert M.pinball([10, 10], [8, 12], 0.8) == pytest.approx((1.6 + 0.4) / 2)
    assert M.coverage(Y, Y - 1, F) == 0.75  # 20 is outside [19, 18]; the other three are inside


def test_coverage_and_crps_by_hand() -> None:
    assert M.coverage([1, 2, 3, 4], [0, 3, 0, 5], [2, 4, 4, 6]) == 0.5
    # one sample equal to y: CRPS 0; two samples at y +- 1: 1 - 0.5 * (0 + 2 + 2 + 0) / 4 = 0.5
    assert M.crps_samples([3.0], [[3.0]]) == 0.0
    assert M.crps_samples([3.0], [[2.0], [4.0]]) == pytest.approx(0.5)
    assert M.crps_quantiles([3.0], {0.25: [2.0], 0.75: [4.0]}) == pytest.approx(
        (2 * 0.25 + 2 * 0.25) / 2
    )
    assert M.weighted_quantile_loss([4.0, 6.0], {0.5: [5.0, 5.0]}) == pytest.approx(
        2 * (0.5 + 0.5) / 10
    )


def test_simple_baselines_by_hand() -> None:
    h = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
    assert B.naive(h, 2).tolist() == [7.0, 7.0]
    assert B.seasonal_naive(h, 4, 3).tolist() == [4.0, 5.0, 7.0, 4.0]
    assert B.drift(h, 2).tolist() == [8.2, 9.4]


def test_baselines_on_airline_match_the_published_numbers() -> None:
    y = load_series("airline").series[0].values
    train, test = y[:-36], y[-36:]
    got = {k: f(train, 36, 12) for k, f in available()[0].items()}
    scale = M.mase_scale(train, 12)
    assert scale == pytest.approx(30.57, abs=0.01)
    assert M.mape(test, got["seasonal_naive"]) == pytest.approx(13.19, abs=0.005)
    assert M.mase(test, got["seasonal_naive"], train, 12) == pytest.approx(1.965, abs=0.0005)
    assert M.mape(test, got["naive"]) == pytest.approx(19.89, abs=0.005)
    pytest.importorskip("statsmodels")
    assert M.mape(test, got["ets"]) == pytest.approx(5.11, abs=0.01)
    assert M.mase(test, got["ets"], train, 12) == pytest.approx(0.705, abs=0.001)
    assert M.mape(test, got["theta"]) == pytest.approx(8.32, abs=0.01)
    assert M.mase(test, got["theta"], train, 12) == pytest.approx(1.275, abs=0.001)


def _model(lik: str, layer: type = rnnkit.LSTM) -> Forecaster:
    cfg = ForecasterConfig(
        context=6, horizon=4, likelihood=lik, lags=[1, 3], n_calendar=2, n_known=1, n_past=1
    )
    torch.manual_seed(0)
    return Forecaster(cfg, lambda i: layer(i, 8, batch_first=True))


@pytest.mark.parametrize("lik", LIKELIHOODS)
@pytest.mark.parametrize("layer", [rnnkit.LSTM, rnnkit.GRU, rnnkit.RNN])
def test_model_trains_and_gives_ordered_quantiles(lik: str, layer: type) -> None:
    m = _model(lik, layer)
    y, f, p = torch.rand(5, 13) + 1, torch.rand(5, 13, 3), torch.rand(5, 13, 1)
    loss = m.loss(y, f, p)
    loss.backward()
    assert loss.isfinite() and all(q.grad is not None for q in m.head.parameters())
    q = m.predict(y[:, :9], f, p, samples=30)
    assert q.shape == (5, len(QUANTILES), 4)
    assert bool((q.diff(dim=1) >= -1e-5).all())


def test_sampling_reads_only_the_context_and_scales_back() -> None:
    m = _model("gaussian")
    y, f, p = torch.rand(2, 13) + 1, torch.rand(2, 13, 3), torch.rand(2, 13, 1)
    torch.manual_seed(1)
    a = m.sample(y[:, :9], f, p, samples=5)
    torch.manual_seed(1)
    b = m.sample(torch.cat([y[:, :9], torch.full((2, 4), 1e6)], 1), f, p, samples=5)
    assert torch.equal(a, b)  # future values never leak in
    torch.manual_seed(1)
    c = m.sample(y[:, :9] * 1000, f, p, samples=5)
    assert c.abs().mean() > 50 * a.abs().mean()  # mean scaling: outputs follow the level


def test_task_resume_draws_the_same_batches() -> None:
    data = synthetic_series(3, 60, seed=0)
    d, m = ForecastData(holdout=5), ForecastModel(horizon=5, context=10)
    t1 = ForecastTask(data, d, m, 4, 7)
    t1.next_batch()
    state = t1.state_dict()
    t2 = ForecastTask(data, d, m, 4, 99)
    t2.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(t1.next_batch(), t2.next_batch(), strict=True))
    # the holdout is never read: every training window ends before it
    last = max(o for _, o in t1.train_pairs)
    assert last + 5 <= 60 - 5


def test_task_refuses_bad_settings() -> None:
    data = synthetic_series(2, 40)
    with pytest.raises(UserError, match="--horizon 12 is longer than --holdout 6"):
        ForecastTask(data, ForecastData(holdout=6), ForecastModel(horizon=12), 4, 0)
    with pytest.raises(UserError, match=r"series 's0' has 40 points"):
        ForecastTask(data, ForecastData(), ForecastModel(horizon=12, context=30), 4, 0)
    with pytest.raises(ConfigError, match="likelihood 'poisson' is unknown"):
        ForecastModel(likelihood="poisson")
    with pytest.raises(UserError, match="covariate 'price' was not read"):
        ForecastTask(data, ForecastData(covariates=["price"]), ForecastModel(horizon=4), 4, 0)


def _trained(steps: int = 60) -> tuple[ForecastTask, Forecaster]:
    data = synthetic_series(4, 80, seed=1)
    task = ForecastTask(data, ForecastData(holdout=10), ForecastModel(horizon=5, context=10), 16, 0)
    torch.manual_seed(0)
    model = build_forecaster(task, lambda i: rnnkit.GRU(i, 16, batch_first=True))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss, _ = task.loss(model, task.next_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return task, model


def test_backtest_batched_equals_one_origin_at_a_time() -> None:
    task, model = _trained(10)
    pairs = [(i, o) for i in range(4) for o in range(70, 76, 2)]
    all_at_once = forecast_quantiles(model.eval(), task.windows, pairs, 5, samples=20)
    assert all_at_once.shape == (len(pairs), 7, 5) and np.isfinite(all_at_once).all()
    # the quantile head is deterministic: batched and single forecasts agree exactly
    qt = ForecastTask(
        task.data,
        ForecastData(holdout=10),
        ForecastModel(horizon=5, context=10, likelihood="quantile"),
        8,
        0,
    )
    qm = build_forecaster(qt, lambda i: rnnkit.GRU(i, 8, batch_first=True)).eval()
    both = forecast_quantiles(qm, qt.windows, pairs, 5, samples=1)
    single = np.concatenate([forecast_quantiles(qm, qt.windows, [p], 5, samples=1) for p in pairs])
    np.testing.assert_allclose(both, single, rtol=1e-5, atol=1e-5)


def test_backtest_scores_network_and_baselines(tmp_path: Path) -> None:
    task, model = _trained()
    data = task.data
    pairs = [(i, o) for i in range(4) for o in range(resolve_start(data, "-10", i), 76, 5)]
    res = backtest(model, task.windows, data, pairs, 5, samples=50, baselines={"naive": B.naive})
    assert set(res.scores) == {"rnnkit", "naive"} and len(res.pairs) == 8
    net = res.scores["rnnkit"]
    assert {"mase", "smape", "crps", "coverage50", "coverage80", "coverage90"} <= set(net)
    assert 0 <= net["coverage50"] <= net["coverage80"] <= net["coverage90"] <= 1
    # the trained net beats the last value on seasonal synthetic data
    assert net["smape"] < res.scores["naive"]["smape"]
    s = data.series[0]
    labels = data.times(s, len(s) + 5)
    plot_forecast(tmp_path / "f.png", labels, s.values[:70], res.quantiles[0], actual=res.actual[0])
    plot_backtest(
        tmp_path / "b.png",
        labels[:80],
        s.values,
        [o for i, o in pairs if i == 0],
        res.quantiles[:2],
    )
    assert (tmp_path / "f.png").stat().st_size > 1000 and (tmp_path / "b.png").stat().st_size > 1000
    with pytest.raises(UserError, match="no forecast origin"):
        backtest(model, task.windows, data, [], 5)


def test_resolve_start_index_and_time() -> None:
    air = load_series("airline")
    assert resolve_start(air, "1958-01", 0) == 108
    assert resolve_start(air, "-36", 0) == 108
    with pytest.raises(UserError, match="neither an index nor a time stamp"):
        resolve_start(air, "soon", 0)
