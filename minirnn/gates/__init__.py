"""The gate math of each recurrent cell: the elementwise part of one time step, forward and backward.

Gate math is only the part of a cell between the matmuls. The sequence layer computes
``x_proj = x W_ih^T + b_ih`` for all steps at once and ``hh = h_prev W_hh^T (+ b_hh)``
once per step; the gate math's ``forward`` turns those pre-activations into the new
state, and its ``backward`` turns the gradient of the new state into the
gradients of the pre-activations. Each pair is one function forward and one
backward, so that on a GPU each can become one fused kernel.
"""
from .base import Cell
from .gru import GRU_CELL
from .lstm import LSTM_CELL
from .rnn import RNN_RELU_CELL, RNN_TANH_CELL

__all__ = ["Cell", "RNN_TANH_CELL", "RNN_RELU_CELL", "LSTM_CELL", "GRU_CELL"]
