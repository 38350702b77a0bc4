"""Drop-in recurrent layers and cells."""

from .base import RecurrentLayer, SlowPathWarning
from .cell_modules import GRUCell, JordanCell, LSTMCell, RNNCell
from .modules import GRU, LSTM, RNN, JordanRNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "JordanCell",
    "JordanRNN",
    "LSTMCell",
    "RNNCell",
    "RecurrentLayer",
    "SlowPathWarning",
]
