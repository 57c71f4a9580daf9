"""The gate math of each recurrent cell: the elementwise part of one time step, forward and backward.

Gate math is only the part of a cell between the matmuls. The sequence layer computes
``x_proj = x W_ih^T + b_ih`` for all steps at once and ``hh = h_prev W_hh^T (+ b_hh)``
once per step; the gate math's ``forward`` turns those pre-activations into the new
state, and its ``backward`` turns the gradient of the new state into the
gradients of the pre-activations. Each pair is one function forward and one
backward, so that on a GPU each can become one fused kernel (kernels.py); a
:class:`GateMath` holds the pair, its kernels, and what the layer must know of it.
"""
from .base import GateMath
from .gru import GRU_GATE_MATH
from .lstm import LSTM_GATE_MATH
from .rnn import RNN_GATE_MATH, RNN_RELU_GATE_MATH, RNN_TANH_GATE_MATH

__all__ = ["GateMath", "RNN_TANH_GATE_MATH", "RNN_RELU_GATE_MATH", "RNN_GATE_MATH", "LSTM_GATE_MATH", "GRU_GATE_MATH"]
