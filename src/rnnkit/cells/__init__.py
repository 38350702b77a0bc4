"""Cell math: one time step of each recurrent cell, written as the papers write it."""

from .base import CellMath, State, Weights, WeightSpec
from .gru import GRUMath
from .jordan import JordanMath
from .lstm import LSTMMath
from .rnn import ElmanMath

__all__ = [
    "CellMath",
    "ElmanMath",
    "GRUMath",
    "JordanMath",
    "LSTMMath",
    "State",
    "WeightSpec",
    "Weights",
]
