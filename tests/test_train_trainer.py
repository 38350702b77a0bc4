"""The shared training loop: exact resume, Ctrl-C, limits, early stopping, schedule, metrics."""

from __future__ import annotations

import io
import math
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnnkit
from rnnkit.errors import UserError
from rnnkit.runs import read_jsonl
from rnnkit.train import Task, TrainConfig, Trainer, learning_rate, seed_everything, start_run
from rnnkit.train.progress import Progress

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class Cycle(Task):
    """Predict the next symbol of 0, 1, ..., 6, 0, 1, ... from random windows (seeded generator)."""

    unit = "char"

    def __init__(self, interrupt_at: int = 0, val_losses: list[float] | None = None) -> None:
        self.data = torch.arange(400) % 7
        self.gen = torch.Generator().manual_seed(0)
        self.calls = 0
        self.interrupt_at = interrupt_at
        self.val_losses = val_losses

    def next_batch(self) -> Tensor:
        self.calls += 1
        if self.calls == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of a step
        start = torch.randint(0, 380, (4,), generator=self.gen)
        return self.data[start[None, :] + torch.arange(11)[:, None]]  # (11, 4)

    def loss(self, model: nn.Module, batch: Tensor) -> tuple[Tensor, int]:
        out, _ = model[0](F.one_hot(batch[:-1], 7).float())
        logits = model[1](out)
        return F.cross_entropy(logits.flatten(0, 1), batch[1:].flatten()), batch[1:].numel()

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.val_losses is not None:
            return {"val_loss": self.val_losses.pop(0)}
        loss, _ = self.loss(model, self.data[:41].view(41, 1))
        return {"val_loss": float(loss)}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.gen.get_state(), "calls": self.calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["rng"])
        self.calls = state["calls"]


def make_model(**layer: Any) -> nn.Module:
    seed_everything(0)
    return nn.ModuleList([rnnkit.LSTM(7, 16, **layer), nn.Linear(16, 7)])


def train(
    run: Path, config: TrainConfig, task: Task | None = None, resume: bool = False, **layer: Any
) -> tuple[nn.Module, Any]:
    if not resume:
        start_run(run, "toy", resume=False)
    model = make_model(**layer)
    result = Trainer(model, task or Cycle(), config, run, stream=io.StringIO()).run(resume=resume)
    return model, result


def losses(run: Path) -> list[tuple[int, float]]:
    return [
        (r["step"], r.get("train_loss", r.get("val_loss")))
        for r in read_jsonl(run / "metrics.jsonl")
    ]


def test_resume_after_ctrl_c_reaches_the_same_numbers(tmp_path: Path) -> None:
    config = TrainConfig(
        lr=1e-2, max_steps=30, eval_every=5, checkpoint_every=10, log_every=3, warmup=4
    )
    straight, done = train(tmp_path / "a", config)
    assert done.state.step == 30 and not done.interrupted
    _, stopped = train(tmp_path / "b", config, Cycle(interrupt_at=13))
    assert stopped.interrupted and stopped.state.step == 13  # the step under way was finished
    resumed, again = train(tmp_path / "b", config, resume=True)
    assert again.state.step == 30
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    assert again.metrics == done.metrics
    for name in ["model.safetensors", "loss.png", "checkpoint.json", "metrics.jsonl"]:
        assert (tmp_path / "b" / name).exists()


def test_resume_with_dropout_is_exact_too(tmp_path: Path) -> None:
    config = TrainConfig(max_steps=12, eval_every=4, checkpoint_every=6, log_every=2)
    layer = {"num_layers": 2, "dropout": 0.3}  # dropout draws from torch's global RNG
    straight, _ = train(tmp_path / "a", config, **layer)
    _, part = train(tmp_path / "b", config, Cycle(interrupt_at=5), **layer)
    assert part.interrupted and part.state.step == 5
    resumed, _ = train(tmp_path / "b", config, resume=True, **layer)
    for x, y in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_early_stopping_keeps_the_best_weights(tmp_path: Path) -> None:
    vals = [3.0, 2.0, 2.5, 2.4, 2.6, 9.0]
    config = TrainConfig(max_steps=100, eval_every=2, patience=3, log_every=1)
    model, result = train(tmp_path, config, Cycle(val_losses=vals))
    assert result.state.step == 10 and result.state.stop_reason.startswith("early stopping")
    assert result.state.best_step == 4 and result.metrics == {"val_loss": 2.0}
    best = rnnkit.train.checkpoint.load_checked(tmp_path / "model.safetensors")
    for k, v in model.state_dict().items():
        assert torch.equal(best[k], v)  # the model and model.safetensors hold step 4's weights


def test_time_budget_stops_training(tmp_path: Path) -> None:
    _, result = train(tmp_path, TrainConfig(time_budget=1e-9, eval_every=0))
    assert result.state.step == 1 and result.state.stop_reason == "time budget"


def test_non_finite_loss_is_a_user_error(tmp_path: Path) -> None:
    class Nan(Cycle):
        def loss(self, model: nn.Module, batch: Tensor) -> tuple[Tensor, int]:
            loss, n = super().loss(model, batch)
            return loss * float("nan"), n

    with pytest.raises(UserError, match="diverged at step 1"):
        train(tmp_path, TrainConfig(max_steps=3), Nan())


def test_regularization_loss_of_rnnkit_layers_is_added(tmp_path: Path) -> None:
    class Recorder(Cycle):
        def loss(self, model: nn.Module, batch: Tensor) -> tuple[Tensor, int]:
            return torch.zeros((), requires_grad=True), 1  # no data loss at all

    model, _ = train(
        tmp_path,
        TrainConfig(max_steps=5, lr=0.05, schedule="constant"),
        Recorder(),
        kernel_regularizer="l2",
    )
    before = make_model(kernel_regularizer="l2")
    assert model[0].weight_ih_l0.norm() < before[0].weight_ih_l0.norm()  # the L2 penalty shrank it
    assert torch.equal(model[0].weight_hh_l0, before[0].weight_hh_l0)  # no penalty, no gradient


def test_learning_rate_schedules() -> None:
    c = TrainConfig(lr=1.0, max_steps=10, schedule="linear", min_lr=0.0)
    assert [learning_rate(c, s, 0.0) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    t = TrainConfig(lr=2.0, time_budget=100.0, min_lr=0.5)  # cosine by the fraction of time spent
    assert learning_rate(t, 999, 0.0) == 2.0
    assert learning_rate(t, 0, 50.0) == pytest.approx(1.5)
    assert learning_rate(t, 0, 100.0) == pytest.approx(1.0)
    assert learning_rate(TrainConfig(lr=0.1), 10**6, 10**6) == 0.1  # no limit: no decay
    assert math.isclose(learning_rate(TrainConfig(lr=1.0, warmup=4), 1, 0.0), 0.5)


@pytest.mark.parametrize(
    ("field", "value"), [("lr", 0.0), ("max_steps", -1), ("schedule", "step"), ("min_lr", 2.0)]
)
def test_train_config_refuses_bad_values(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_metrics_rows_and_curve(tmp_path: Path) -> None:
    train(tmp_path, TrainConfig(max_steps=8, eval_every=4, log_every=2))
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows if "train_loss" in r] == [2, 4, 6, 8]
    assert [r["step"] for r in rows if "val_loss" in r] == [4, 8]
    assert all(r["rate"] > 0 for r in rows if "rate" in r)
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_progress_prints_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(max_steps=100, time_budget=60.0, unit="char", stream=out, interval=0)
    p.update(10, 6.0, 2.5, 12345.0)
    p.update(20, 12.0, 2.0, 23456.0)
    p.note("hello")
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("step 10/100 | loss 2.500 | 12.3k chars/s | 0:00:06 elapsed")
    assert lines[1].endswith("0:00:48 left")  # the time budget is nearer than the step limit
    assert lines[2] == "hello"
