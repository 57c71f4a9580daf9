"""The Elman cell: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu.

This is the article's picture: two linear layers, the input one and the hidden
one, whose outputs are added before the nonlinearity. The derivative of the
nonlinearity is written from the output h_t, so the backward needs no stored
pre-activation; it is taken for a block of steps at once (prepare_backward),
which leaves the backward loop one product per step.

Its reference implementation, the same step written plainly, is minirnn/reference/rnn.py.
"""
from __future__ import annotations

from ..core import backend
from . import kernels
from .base import GateMath


def rnn_tanh_forward(gates, hh, prev, out, saved, scratch):
    xp = backend.array_module(gates)
    gates += hh                                   # a_t = W_ih x_t + b + W_hh h_{t-1}
    xp.tanh(gates, out=out[0])                    # h_t = tanh(a_t)


def rnn_tanh_prepare_backward(gates, states, saved, prepared, d_gates, d_hh):
    xp = backend.array_module(gates)
    h = states[0][1:]                             # h_t of each step of the block
    xp.multiply(h, h, out=d_gates)
    xp.subtract(1, d_gates, out=d_gates)          # dh_t/da_t = tanh'(a_t) = 1 - h_t^2, from the output


def rnn_relu_forward(gates, hh, prev, out, saved, scratch):
    xp = backend.array_module(gates)
    gates += hh                                   # a_t = W_ih x_t + b + W_hh h_{t-1}
    xp.maximum(gates, 0, out=out[0])              # h_t = max(a_t, 0)


def rnn_relu_prepare_backward(gates, states, saved, prepared, d_gates, d_hh):
    xp = backend.array_module(gates)
    xp.greater(states[0][1:], 0, out=d_gates)     # dh_t/da_t = relu'(a_t) = 1 where h_t > 0, else 0


def rnn_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    d_gates *= d_state[0]                         # dL/da_t = dL/dh_t dh_t/da_t
    return None


RNN_TANH_GATE_MATH = GateMath("rnn_tanh", gates=("h",), state_names=("h",), n_saved=0, scratch_widths=(),
                              shares_gate_grads=True, forward=rnn_tanh_forward,
                              prepare_backward=rnn_tanh_prepare_backward, backward=rnn_backward,
                              gpu_forward=kernels.rnn_tanh_forward, gpu_backward=kernels.rnn_tanh_backward)
RNN_RELU_GATE_MATH = GateMath("rnn_relu", gates=("h",), state_names=("h",), n_saved=0, scratch_widths=(),
                              shares_gate_grads=True, forward=rnn_relu_forward,
                              prepare_backward=rnn_relu_prepare_backward, backward=rnn_backward,
                              gpu_forward=kernels.rnn_relu_forward, gpu_backward=kernels.rnn_relu_backward)
# The RNN's two kinds by its nonlinearity, as RNN and RNNCell take it.
RNN_GATE_MATH = {"tanh": RNN_TANH_GATE_MATH, "relu": RNN_RELU_GATE_MATH}
