"""Task heads built from layers."""

from .classifier import SequenceClassifier, SequenceRegressor
from .tagger import SequenceTagger

__all__ = [
    "SequenceClassifier",
    "SequenceRegressor",
    "SequenceTagger",
]
