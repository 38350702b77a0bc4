"""rnnkit: recurrent neural networks as the classic texts describe them, drop-in for ``torch.nn``.

>>> import torch, rnnkit
>>> lstm = rnnkit.LSTM(8, 16, num_layers=2, peephole=True)
>>> out, (h_n, c_n) = lstm(torch.randn(10, 4, 8))
>>> tuple(out.shape), tuple(c_n.shape)
((10, 4, 16), (2, 4, 16))
"""

from . import interop as interop  # ONNX and Keras in/out; the optional packages load on first use
from .activations import Activation, get_activation
from .layers import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    JordanCell,
    JordanRNN,
    LSTMCell,
    Recurrent,
    RecurrentLayer,
    RNNCell,
    SlowPathWarning,
)
from .regularizers import L1, L1L2, L2

__version__ = "0.3.0"

__all__ = [
    "GRU",
    "L1",
    "L1L2",
    "L2",
    "LSTM",
    "RNN",
    "Activation",
    "GRUCell",
    "JordanCell",
    "JordanRNN",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
    "RecurrentLayer",
    "SlowPathWarning",
    "__version__",
    "get_activation",
]
