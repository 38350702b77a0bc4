"""The model of a sequence task: a head over a recurrent layer, from a small config stored in the run.

The layer comes from the caller (a run builds it from its
:class:`~rnnkit.tasks.layer.LayerConfig`); :class:`HeadConfig` holds what the head adds — the
embedding size for token inputs, the pooling and the dropout before the output layer — and
:func:`build_model` puts them together as a :class:`~rnnkit.models.SequenceClassifier`,
:class:`~rnnkit.models.SequenceRegressor` or :class:`~rnnkit.models.SequenceTagger`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config import check, from_json, option, to_json
from ..models import SequenceClassifier, SequenceRegressor, SequenceTagger
from .inputs import Encoders

__all__ = ["HeadConfig", "build_model"]


@dataclass
class HeadConfig:
    """The head of a sequence model (stored in ``config.json`` under ``"model"``)."""

    embedding: int = option(64, "token embedding size (text, CoNLL)", low=1, high=1 << 16)
    pooling: str = option("last", "what the head reads: the last valid step (h_n of both "
                          "directions), or the mean or max over valid steps",
                          choices=("last", "mean", "max"))  # fmt: skip
    head_dropout: float = option(0.0, "dropout before the output layer", low=0, high=1,
                                 high_open=True, metavar="P")  # fmt: skip
    class_weights: str = option("none", "balanced: weigh each class by N / (C * N_c) for "
                                "imbalanced labels", choices=("none", "balanced"))  # fmt: skip

    def __post_init__(self) -> None:
        check(self)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HeadConfig:
        return from_json(cls, d, "the head settings")


def build_model(
    task: str, make_layer: Callable[[int], nn.Module], head: HeadConfig, enc: Encoders
) -> nn.Module:
    """The head for ``task`` (classify | regress | tag) over ``make_layer(input_size)``.

    Token inputs get an embedding (``padding_idx=0``) and the layer reads ``head.embedding``
    features; numeric inputs go to the layer as they are.
    """
    embedding = None
    input_size = enc.input_size
    if enc.vocab is not None:
        embedding = nn.Embedding(len(enc.vocab), head.embedding, padding_idx=0)
        input_size = head.embedding
    layer = make_layer(input_size)
    if task == "tag":
        assert enc.labels is not None
        return SequenceTagger(
            layer, len(enc.labels), embedding=embedding, dropout=head.head_dropout
        )
    kw: dict[str, Any] = {
        "embedding": embedding,
        "pooling": head.pooling,
        "dropout": head.head_dropout,
    }
    if task == "classify":
        assert enc.labels is not None
        return SequenceClassifier(layer, len(enc.labels), **kw)
    return SequenceRegressor(layer, 1, **kw)
