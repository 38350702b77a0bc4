"""Task heads built from layers."""

from .classifier import SequenceClassifier, SequenceRegressor
from .language_model import LanguageModel
from .tagger import SequenceTagger

__all__ = [
    "LanguageModel",
    "SequenceClassifier",
    "SequenceRegressor",
    "SequenceTagger",
]
