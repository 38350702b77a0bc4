"""The training loop every task shares: Adam with a schedule, clipping, limits, evaluation, early
stopping, checkpoints, resume and Ctrl-C.

A task plugs in by subclassing :class:`Task`::

    class MyTask(Task):
        unit = "sequence"                        # what n_units counts (throughput: "sequences/s")

        def next_batch(self):                    # the next training batch (any object)
            ...
        def loss(self, model, batch):            # (mean loss per unit, number of units)
            ...
        def evaluate(self, model):               # {"val_loss": ..., other metrics}; the model is
            ...                                  # in eval mode, under torch.no_grad()
        def state_dict(self):                    # where the data stream stands, so that a resumed
            ...                                  # run draws the same batches: Tensors or JSON values
        def load_state_dict(self, state):
            ...

    model = ...                                  # build after seed_everything(config.seed)
    result = Trainer(model, MyTask(...), TrainConfig(lr=1e-3, max_steps=2000), "runs/x").run()

What the loop does, step by step:

1. Stop if a limit is reached: ``max_steps``, ``time_budget`` (seconds of wall time, evaluation
   and saving included, summed across resumes; the loop stops early enough to leave time for
   the final evaluation, as long as the last one took), early stopping (``patience`` evaluations without
   a lower ``val_loss``), or Ctrl-C.
2. Set the learning rate from the schedule: linear warm-up over ``warmup`` steps, then
   ``constant``, ``cosine`` or ``linear`` decay to ``min_lr * lr`` at the end. The end is the
   nearer of ``max_steps`` and ``time_budget``, so a run with a time budget decays by the fraction
   of the budget spent (and is then not bit-for-bit reproducible: its schedule depends on speed).
3. ``loss, n = task.loss(model, batch)`` (under autocast when a ``precision`` is given); add
   ``regularization_loss()`` of every rnnkit layer in the model (weight and activity penalties);
   backward; with several processes, each computes this on its part of the batch and the
   gradients are averaged over them (:mod:`.distributed`); clip the global gradient norm to
   ``clip``; Adam step. A non-finite loss stops training with a :class:`~rnnkit.errors.UserError`.
4. Every ``log_every`` steps append ``{"step", "elapsed", "lr", "train_loss", "rate"}`` to
   ``metrics.jsonl``; every ``eval_every`` steps evaluate and append the metrics, keeping a copy of
   the best weights; every ``checkpoint_every`` steps save a checkpoint (:mod:`.checkpoint`).
5. At the end: evaluate if the last step was not, save a final checkpoint, put the best weights
   in the model and in ``RUN/model.safetensors``, draw ``loss.png``, print a summary line.

On Ctrl-C the loop finishes the step in progress, saves a checkpoint, writes the best weights so
far to ``RUN/model.safetensors`` (so the run can be sampled) and returns with ``interrupted=True`` (a second Ctrl-C aborts at once; the last checkpoint is intact either way).
``run(resume=True)`` restores the weights, the optimizer, the counters, the task's data position
and every RNG, and drops ``metrics.jsonl`` rows past the checkpoint, so with a step limit and the
same seed it reaches the same numbers as a run that was never stopped.

Evaluation runs with the RNG state saved and restored around it, so evaluating never changes
the training that follows.

The model is trained where it is (:func:`rnnkit.devices.place` puts it on a device); batches
stay where the task makes them. With several processes (``dist``), every rank runs this same
loop on its part of each batch; only rank 0 writes to the run directory and shows progress.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import torch
from torch import Tensor, nn

from ..devices import autocast
from ..errors import UserError
from ..layers import RecurrentLayer
from ..runs import append_jsonl, atomic_write, read_jsonl
from .checkpoint import WEIGHTS, TrainState, load_checkpoint, save_checkpoint, save_weights
from .distributed import SINGLE, Dist, rows_of, shard
from .precision import recurrence_in_float32
from .progress import Progress, format_count, format_duration, format_rate
from .settings import SCHEDULES, TrainConfig, learning_rate, seed_everything
from .task import Task

__all__ = [
    "SCHEDULES",
    "Task",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "learning_rate",
    "seed_everything",
]

METRICS = "metrics.jsonl"
CURVE = "loss.png"


@dataclass
class TrainResult:
    """How a run ended. ``metrics`` are the best evaluation's (empty if none ran)."""

    state: TrainState
    metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def rate(self) -> float:
        """Units trained per second of wall time (evaluation and saving included)."""
        return self.state.units / self.state.elapsed if self.state.elapsed > 0 else 0.0


class _CtrlC:
    """While active (main thread only), the first SIGINT sets ``requested``; a second one raises."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _regularization(model: nn.Module) -> Tensor | None:
    total: Tensor | None = None
    for m in model.modules():
        if isinstance(m, RecurrentLayer):
            r = m.regularization_loss()
            total = r if total is None else total + r
    return total


class Trainer:
    """Train ``model`` on ``task`` into the run directory ``run_dir``.

    Args:
        model: the model (already built and seeded; its weights are replaced on resume).
        task: the :class:`Task`.
        config: the :class:`TrainConfig`.
        run_dir: an existing run directory (see :func:`~rnnkit.train.checkpoint.start_run`).
        stream: where progress and the summary go (stdout by default).
        progress: show the live progress bar / periodic lines.
        progress_interval: seconds between progress lines when ``stream`` is not a terminal.
        precision: the autocast dtype of the forward pass and the loss (``None``: float32; see
            :func:`rnnkit.devices.precision_dtype`).
        dist: this process's place among several (:func:`~.distributed.init_distributed`).
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        config: TrainConfig,
        run_dir: str | Path,
        *,
        stream: TextIO | None = None,
        progress: bool = True,
        progress_interval: float = 10.0,
        precision: torch.dtype | None = None,
        dist: Dist = SINGLE,
    ) -> None:
        self.model = model
        self.task = task
        self.config = config
        self.run_dir = Path(run_dir)
        self.stream = stream if stream is not None else sys.stdout
        self.dist = dist
        self.show_progress = progress and dist.main
        self.device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.precision = precision
        if precision is not None:
            recurrence_in_float32(model)
        self.params = [p for p in model.parameters() if p.requires_grad]
        # fp16 needs loss scaling so that small gradients do not underflow (bf16 does not)
        self.scaler = torch.amp.GradScaler(self.device.type) if precision is torch.float16 else None
        self.progress_interval = progress_interval
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        self.state = TrainState()
        # how long the last evaluation took: a time budget keeps room for one more
        self._eval_seconds = 0.0
        self.best_weights: dict[str, Tensor] | None = None

    # ----- pieces -------------------------------------------------------------------------------

    def _evaluate(self) -> dict[str, float]:
        start = time.perf_counter()
        rng = torch.get_rng_state()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), autocast(self.device, self.precision):
                metrics = {k: float(v) for k, v in self.task.evaluate(self.model).items()}
        finally:
            self.model.train(was_training)
            torch.set_rng_state(rng)
        self._eval_seconds = time.perf_counter() - start
        if "val_loss" not in metrics:
            raise TypeError(f"{type(self.task).__name__}.evaluate() must return a 'val_loss'")
        return metrics

    def _record_eval(self, metrics: dict[str, float], lr: float) -> None:
        s = self.state
        if self.dist.main:
            append_jsonl(
                self.run_dir / METRICS,
                {"step": s.step, "elapsed": round(s.elapsed, 3), "lr": lr, **metrics},
            )
        val = metrics["val_loss"]
        if s.best_val is None or val < s.best_val:
            s.best_val, s.best_step, s.bad_evals = val, s.step, 0
            s.best_metrics = dict(metrics)
            self.best_weights = {
                k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
            }
        else:
            s.bad_evals += 1
        s.last_eval = s.step

    def _save(self) -> None:
        task_state = self.dist.gather_rows(self.task.state_dict(), self.task.batch_dim)
        if not self.dist.main:
            return
        save_checkpoint(
            self.run_dir,
            model=self.model,
            optimizer=self.optimizer,
            state=self.state,
            task_state=task_state,
            best_weights=self.best_weights,
        )

    def _step(self, batch: Any) -> tuple[float, int]:
        """Forward, backward and, with several processes, the gradients averaged over them;
        returns ``(loss, units)`` of the whole batch."""
        d, dim = self.dist, self.task.batch_dim
        part = shard(batch, dim, d.rank, d.world)
        self.optimizer.zero_grad(set_to_none=True)
        if d.active and rows_of(part, dim) == 0:  # a short last batch left this rank nothing
            return d.reduce_gradients(self.params, 0.0, 0)
        with autocast(self.device, self.precision):
            loss, n = self.task.loss(self.model, part)
            reg = _regularization(self.model)
            total = loss if reg is None else loss + reg
        (total if self.scaler is None else self.scaler.scale(total)).backward()
        return d.reduce_gradients(self.params, float(loss.detach()), n)

    def _resume(self) -> None:
        ckpt = load_checkpoint(self.run_dir, self.model, self.optimizer)
        self.state = ckpt.state
        self.best_weights = ckpt.best_weights
        d = self.dist
        try:
            self.task.load_state_dict(shard(ckpt.task_state, self.task.batch_dim, d.rank, d.world))
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise UserError(
                f"{ckpt.path}: the task's saved state does not fit this run ({e})"
            ) from e
        if not d.main:
            return
        rows = [
            r for r in read_jsonl(self.run_dir / METRICS) if r.get("step", 0) <= self.state.step
        ]
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        atomic_write(self.run_dir / METRICS, lambda tmp: _write_text(tmp, text))

    def _limit_reached(self) -> str:
        c, s = self.config, self.state
        if c.max_steps and s.step >= c.max_steps:
            return "step limit"
        if c.time_budget and s.elapsed + self._eval_seconds >= c.time_budget:
            return "time budget"
        if c.patience and s.bad_evals >= c.patience:
            return f"early stopping (no better val_loss in {c.patience} evaluations)"
        return ""

    def _plot(self) -> None:
        from ..viz.curves import plot_loss_curve

        plot_loss_curve(
            self.run_dir / METRICS,
            self.run_dir / CURVE,
            scale=self.task.curve_scale,
            ylabel=self.task.curve_label,
        )

    # ----- the loop -----------------------------------------------------------------------------

    def run(self, resume: bool = False) -> TrainResult:
        """Train until a limit is reached (or Ctrl-C); see the module docstring."""
        if resume:
            self._resume()
        elif self.dist.main:  # a fresh start (e.g. resuming a run that never saved a checkpoint)
            (self.run_dir / METRICS).unlink(missing_ok=True)
        c, s = self.config, self.state
        s.stop_reason = ""
        progress = Progress(
            c.max_steps,
            c.time_budget,
            self.task.unit,
            self.stream,
            self.progress_interval,
            enabled=self.show_progress,
        )
        if resume and self.dist.main:
            progress.note(f"resuming at step {s.step:,} ({format_duration(s.elapsed)} trained)")
        self.model.train()
        session_start, elapsed0, units0 = time.perf_counter(), s.elapsed, s.units
        window_start = session_start
        lr = learning_rate(c, s.step, s.elapsed)
        interrupted = False
        with _CtrlC() as ctrl_c:
            while not (reason := self._limit_reached()):
                lr = learning_rate(c, s.step, s.elapsed)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                value, n = self._step(self.task.next_batch())
                if not math.isfinite(value):
                    raise UserError(
                        f"training diverged at step {s.step + 1}: the loss is {value}; lower --lr "
                        "or --clip (the last checkpoint is intact)"
                    )
                if self.scaler is not None:
                    self.scaler.unscale_(self.optimizer)
                if c.clip:
                    nn.utils.clip_grad_norm_(self.model.parameters(), c.clip)
                if self.scaler is not None:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    self.optimizer.step()
                s.step += 1
                s.units += n
                s.window_loss += value * n
                s.window_units += n
                now = time.perf_counter()
                s.elapsed = elapsed0 + (now - session_start)
                rate = (s.units - units0) / max(now - session_start, 1e-9)
                if s.step % c.log_every == 0 and self.dist.main:
                    append_jsonl(
                        self.run_dir / METRICS,
                        {
                            "step": s.step,
                            "elapsed": round(s.elapsed, 3),
                            "lr": lr,
                            "train_loss": s.window_loss / s.window_units,
                            "rate": s.window_units / max(now - window_start, 1e-9),
                        },
                    )
                    s.window_loss, s.window_units, window_start = 0.0, 0, now
                if c.eval_every and s.step % c.eval_every == 0:
                    self._record_eval(self._evaluate(), lr)
                if c.checkpoint_every and s.step % c.checkpoint_every == 0:
                    self._save()
                s.elapsed = elapsed0 + (time.perf_counter() - session_start)
                # every rank goes by rank 0's clock and stops at the same step
                s.elapsed, self._eval_seconds, stop = self.dist.agree(
                    s.elapsed, self._eval_seconds, ctrl_c.requested
                )
                shown = s.window_loss / s.window_units if s.window_units else value
                progress.update(s.step, s.elapsed, shown, rate)
                if stop:
                    interrupted = True
                    reason = "interrupted"
                    break
        progress.close()
        s.stop_reason = reason
        if interrupted:
            self._save()
            if not self.dist.main:
                return TrainResult(s, s.best_metrics, interrupted=True)
            save_weights(self.run_dir / WEIGHTS, self.best_weights or self.model)
            self._plot()
            print(
                f"interrupted at step {s.step:,}: checkpoint saved in {self.run_dir}; "
                "continue with --resume",
                file=self.stream,
                flush=True,
            )
            return TrainResult(s, s.best_metrics, interrupted=True)
        if s.last_eval != s.step:
            self._record_eval(self._evaluate(), lr)
        s.elapsed = elapsed0 + (time.perf_counter() - session_start)
        self._save()
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        result = TrainResult(s, s.best_metrics)
        if not self.dist.main:
            return result
        save_weights(self.run_dir / WEIGHTS, self.model)
        self._plot()
        best = self.task.describe(s.best_metrics) if s.best_metrics else "no evaluation"
        print(
            f"trained {s.step:,} steps ({format_count(s.units)} {self.task.unit}s) in "
            f"{format_duration(s.elapsed)} at {format_rate(result.rate)} {self.task.unit}s/s; "
            f"stopped by {reason}; best {best} at step {s.best_step:,}",
            file=self.stream,
            flush=True,
        )
        return result
