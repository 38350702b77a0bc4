"""Drop-in recurrent layers and cells, and :class:`Recurrent`, which runs any cell as a layer."""

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
