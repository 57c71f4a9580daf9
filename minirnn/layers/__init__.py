"""Layers: a cell unrolled over time (unroll), stacked and bidirectional (recurrent), single steps
(step), and the modules around them in a model: Linear and Embedding."""
from .embedding import Embedding
from .linear import Linear
from .recurrent import GRU, LSTM, RNN, Recurrent
from .step import GRUCell, LSTMCell, RNNCell, StepCell

__all__ = ["RNN", "LSTM", "GRU", "Recurrent", "RNNCell", "LSTMCell", "GRUCell", "StepCell", "Linear", "Embedding"]
