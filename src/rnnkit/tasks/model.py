"""The model of a sequence task: a head over a recurrent layer, from a small config stored in the run.

The layer comes from the caller (the CLI builds it from its cell flags with
:func:`rnnkit.cli.common.build_layer`); :class:`HeadConfig` holds what the head adds — the
embedding size for token inputs, the pooling and the dropout before the output layer — and
:func:`build_model` puts them together as a :class:`~rnnkit.models.SequenceClassifier`,
:class:`~rnnkit.models.SequenceRegressor` or :class:`~rnnkit.models.SequenceTagger`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from ..errors import UserError
from ..models import SequenceClassifier, SequenceRegressor, SequenceTagger
from .inputs import Encoders

__all__ = ["HeadConfig", "build_model"]


@dataclass
class HeadConfig:
    """The head's flags, one to one (stored in ``config.json`` under ``"head"``)."""

    embedding: int = 64  # embedding size for token inputs (text, CoNLL)
    pooling: str = "last"  # classify/regress: last | mean | max over valid steps
    head_dropout: float = 0.0  # dropout on what the output layer reads, in training

    def __post_init__(self) -> None:
        if self.pooling not in ("last", "mean", "max"):
            raise UserError(f"--pooling must be last, mean or max, got {self.pooling!r}")
        if self.embedding < 1:
            raise UserError(f"--embedding must be a positive integer, got {self.embedding}")
        if not 0 <= self.head_dropout < 1:
            raise UserError(f"--head-dropout must lie in [0, 1), got {self.head_dropout}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HeadConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


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
