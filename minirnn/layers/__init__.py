"""Layers: a cell unrolled over time (unroll), stacked and bidirectional (recurrent), one time step
as a module (cell: RNNCell, LSTMCell, GRUCell), and the modules around them in a model: Linear and
Embedding."""
from .cell import GRUCell, LSTMCell, RecurrentCell, RNNCell
from .embedding import Embedding
from .linear import Linear
from .recurrent import GRU, LSTM, RNN, Recurrent

__all__ = ["RNN", "LSTM", "GRU", "Recurrent", "RNNCell", "LSTMCell", "GRUCell", "RecurrentCell", "Linear", "Embedding"]
