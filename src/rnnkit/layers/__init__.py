"""Drop-in recurrent layers and cells, and :class:`Recurrent`, which runs any cell as a layer.

Importing registers the classes a pickled rnnkit module names (the modules and their cells'
math) with ``torch.serialization.add_safe_globals``, so ``torch.save(model)`` of a model holding
rnnkit layers loads back with ``torch.load(f, weights_only=True)`` — as pytorch/examples'
word_language_model loads its whole model.
"""

import torch

from ..cells import ElmanMath, GRUMath, JordanMath, LSTMMath
from ..regularizers import L1L2
from .base import RecurrentLayer, SlowPathWarning
from .cell_modules import CellModule, GRUCell, JordanCell, LSTMCell, RNNCell
from .driver import SequenceModule
from .modules import GRU, LSTM, RNN, JordanRNN
from .recurrent import Recurrent

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CellModule",
    "GRUCell",
    "JordanCell",
    "JordanRNN",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
    "RecurrentLayer",
    "SequenceModule",
    "SlowPathWarning",
]

_MATH = [ElmanMath, LSTMMath, GRUMath, JordanMath]
torch.serialization.add_safe_globals(
    [RNN, LSTM, GRU, JordanRNN, RNNCell, LSTMCell, GRUCell, JordanCell, Recurrent, L1L2, *_MATH]
)
