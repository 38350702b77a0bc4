"""Task heads built from layers."""

from .classifier import SequenceClassifier, SequenceRegressor
from .language_model import LanguageModel
from .seq2seq import Seq2Seq
from .tagger import SequenceTagger

__all__ = [
    "LanguageModel",
    "Seq2Seq",
    "SequenceClassifier",
    "SequenceRegressor",
    "SequenceTagger",
]
