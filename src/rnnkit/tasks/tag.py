"""Many-to-many in step: a tag per time step, scored token by token over valid steps only."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..data.batching import IGNORE_INDEX, Batch, PaddedSet
from ..metrics import classification_report, entity_f1, is_bio
from ..models.tagger import tagging_loss
from .base import SequenceTask

__all__ = ["TagTask"]


class TagTask(SequenceTask):
    """Mean cross-entropy over valid steps; token accuracy, macro-F1 over tags, confusion matrix.

    ``sequence_accuracy`` is the share of sequences with every tag right. With BIO tags (``O``,
    ``B-X``, ``I-X``) also entity precision, recall and F1 over exact matches, as CoNLL scores NER.
    """

    kind = "tag"
    unit = "token"
    curve_label = "cross-entropy per token (nats)"

    def __init__(self, *args: Any, class_weights: np.ndarray | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weight = (
            None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        )

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        assert batch.y is not None
        n = int((batch.y != IGNORE_INDEX).sum())
        return tagging_loss(model(batch.x, batch.lengths), batch.y, self.weight), n

    def outputs(self, model: nn.Module, data: PaddedSet) -> np.ndarray:
        """Tag probabilities ``(N, T, C)`` (zeros past each row's length)."""
        T = data.x.shape[1]
        probs = []
        for o in self._forward_all(model, data):  # (B, T_batch, C)
            pad = torch.zeros(o.shape[0], T - o.shape[1], o.shape[2])
            probs.append(torch.cat([o.softmax(-1), pad], dim=1))
        return torch.cat(probs).numpy()

    def report(self, data: PaddedSet, outputs: np.ndarray) -> dict[str, Any]:
        assert data.y is not None and self.enc.labels is not None
        valid = data.y != IGNORE_INDEX  # (N, T)
        y = data.y[valid]
        probs = outputs[valid]  # (tokens, C)
        p = probs[np.arange(len(y)), y]
        scores = classification_report(y, probs.argmax(-1), self.enc.labels.names)
        pred = outputs.argmax(-1)
        seq_ok = [bool((data.y[n][valid[n]] == pred[n][valid[n]]).all()) for n in range(len(data))]
        out = {"loss": float(-np.log(np.maximum(p, 1e-12)).mean()), **scores,
               "sequence_accuracy": float(np.mean(seq_ok))}  # fmt: skip
        names = self.enc.labels.names
        if is_bio(names):  # named entities: also score whole entities, as conlleval does
            true = [[names[k] for k in data.y[n][valid[n]]] for n in range(len(data))]
            guess = [[names[k] for k in pred[n][valid[n]]] for n in range(len(data))]
            out.update(entity_f1(true, guess))
        return out

    def describe(self, metrics: dict[str, float]) -> str:
        return (f"val token accuracy {metrics['val_accuracy']:.2%}, macro-F1 "
                f"{metrics['val_macro_f1']:.3f}, whole sequences {metrics['val_sequence_accuracy']:.1%}")  # fmt: skip
