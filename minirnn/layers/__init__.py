"""Sequence layers: a cell unrolled over time (unroll), stacked and bidirectional (recurrent),
and single steps (step)."""
from .recurrent import GRU, LSTM, RNN, Recurrent
from .step import GRUCell, LSTMCell, RNNCell, StepCell

__all__ = ["RNN", "LSTM", "GRU", "Recurrent", "RNNCell", "LSTMCell", "GRUCell", "StepCell"]
