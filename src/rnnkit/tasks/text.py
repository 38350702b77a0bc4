"""Language modelling as a :class:`~rnnkit.train.trainer.Task`: truncated BPTT over a long text.

The training text is read as ``B`` parallel streams (:class:`~rnnkit.data.text.StreamBatches`);
the model's final state after each window is detached and carried into the next, and dropped
when a new epoch starts. The carried state is part of :meth:`TextTask.state_dict`, so a resumed
run continues exactly. Validation scores the contiguous validation text
(:meth:`~rnnkit.models.language_model.LanguageModel.score`).
"""

from __future__ import annotations

import math
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.text import StreamBatches, Window
from ..models.language_model import LanguageModel
from .trainer import Task

__all__ = ["TextTask", "text_metrics"]


def text_metrics(nats: float, unit: str) -> dict[str, float]:
    """``val_loss`` (nats per symbol) with bits per symbol and perplexity beside it."""
    return {
        "val_loss": nats,
        f"val_bits_per_{unit}": nats / math.log(2),
        "val_perplexity": math.exp(min(nats, 700)),
    }


class TextTask(Task):
    """Next-symbol prediction on ``train_ids``, validated on ``val_ids``.

    Args:
        train_ids, val_ids: ``(N,)`` int64 symbol streams.
        batch: ``B`` parallel streams; seq_len: ``T`` symbols per window.
        level: ``"char"`` or ``"word"`` (names the unit in the logs).
        eval_streams: rows the validation text is read in (see ``LanguageModel.score``).
    """

    curve_scale = 1 / math.log(2)

    def __init__(
        self,
        train_ids: Tensor,
        val_ids: Tensor,
        batch: int,
        seq_len: int,
        level: str = "char",
        eval_streams: int = 16,
    ) -> None:
        self.stream = StreamBatches(train_ids, batch, seq_len)
        self.val_ids = val_ids
        self.eval_streams = eval_streams
        self.unit = level
        self.curve_label = f"bits per {level}"
        self.state: tuple[Tensor, ...] | None = None  # carried between windows

    def next_batch(self) -> Window:
        return self.stream.next()

    def loss(self, model: nn.Module, batch: Window) -> tuple[Tensor, int]:
        if batch.reset:
            self.state = None
        hx = None if self.state is None else (self.state if len(self.state) > 1 else self.state[0])
        logits, state = model(batch.x, hx)  # (T, B, V)
        parts = state if isinstance(state, tuple) else (state,)
        self.state = tuple(s.detach() for s in parts)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.y.flatten())
        return loss, batch.y.numel()

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        assert isinstance(model, LanguageModel)
        total, n = model.score(self.val_ids, streams=self.eval_streams)
        return text_metrics(total / n, self.unit)

    def describe(self, metrics: dict[str, float]) -> str:
        nats = metrics["val_loss"]
        if self.unit == "char":
            return f"val {nats / math.log(2):.3f} bits/char ({nats:.3f} nats)"
        return f"val perplexity {math.exp(nats):.1f} ({nats:.3f} nats/{self.unit})"

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.stream.state_dict())
        if self.state is not None:
            out.update({f"carry.{i}": s for i, s in enumerate(self.state)})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state)
        carried = sorted(
            (k for k in state if k.startswith("carry.")), key=lambda k: int(k.split(".")[1])
        )
        self.state = tuple(state[k] for k in carried) or None
