"""The Elman RNN's reference implementation: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu.

The article's picture: two linear layers, one of the input and one of the previous hidden state,
added, then squashed. The fast path is minirnn.RNN (minirnn/gates/rnn.py in minirnn/layers/unroll.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import cell_weights, weight_grads
from .sequence import sequence_backward, sequence_forward


class RNNStepCache(NamedTuple):
    """What one step keeps for its backward: x (B, I), h_prev (B, H) and the new h (B, H)."""
    x: np.ndarray
    h_prev: np.ndarray
    h: np.ndarray


def rnn_tanh_step_forward(x, state, params):
    """One step: h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh).

    x: (B, I); state: (h_prev,), h_prev (B, H); params: weight_ih (H, I), weight_hh (H, H),
    bias_ih (H,), bias_hh (H,), the biases optional. Returns ((h,), cache).
    """
    (h_prev,) = state
    W_ih, W_hh, b_ih, b_hh = cell_weights(params)
    a = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh      # a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h = np.tanh(a)                                      # h_t = tanh(a_t)
    return (h,), RNNStepCache(x, h_prev, h)


def rnn_tanh_step_backward(d_next_state, cache, params):
    """The gradients of one tanh step. d_next_state: (dh,), dL/dh (B, H).

    Returns (dx (B, I), (dh_prev,), grads) with grads under the keys of params.
    """
    (dh,) = d_next_state
    W_ih, W_hh, _, _ = cell_weights(params)
    da = dh * (1 - cache.h ** 2)                        # tanh'(a) = 1 - h^2, from the output
    dx = da @ W_ih                                      # dL/dx_t = da W_ih
    dh_prev = da @ W_hh                                 # dL/dh_{t-1} = da W_hh: what the step sends back
    grads = weight_grads(params, cache.x, da, cache.h_prev, da)
    return dx, (dh_prev,), grads


def rnn_relu_step_forward(x, state, params):
    """One step: h = max(x W_ih^T + b_ih + h_prev W_hh^T + b_hh, 0); arguments as the tanh step's."""
    (h_prev,) = state
    W_ih, W_hh, b_ih, b_hh = cell_weights(params)
    a = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh      # a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h = np.maximum(a, 0)                                # h_t = relu(a_t)
    return (h,), RNNStepCache(x, h_prev, h)


def rnn_relu_step_backward(d_next_state, cache, params):
    """The gradients of one relu step; arguments and result as the tanh step's."""
    (dh,) = d_next_state
    W_ih, W_hh, _, _ = cell_weights(params)
    da = dh * (cache.h > 0)                             # relu'(a) = 1 where h > 0, else 0
    dx = da @ W_ih                                      # dL/dx_t = da W_ih
    dh_prev = da @ W_hh                                 # dL/dh_{t-1} = da W_hh: what the step sends back
    grads = weight_grads(params, cache.x, da, cache.h_prev, da)
    return dx, (dh_prev,), grads


def rnn_forward(x, state_dict, h0=None, nonlinearity="tanh"):
    """minirnn.RNN's forward (and torch.nn.RNN's), time-major, without lengths or dropout.

    x: (T, B, I); state_dict: minirnn.RNN's (weight_ih_l0, ...); h0: (L*D, B, H) or None.
    Returns (output (T, B, D*H), h_n (L*D, B, H), runs) (runs: see minirnn.reference.sequence).
    """
    step_forward = rnn_tanh_step_forward if nonlinearity == "tanh" else rnn_relu_step_forward
    output, (h_n,), runs = sequence_forward(step_forward, x, state_dict, (h0,))
    return output, h_n, runs


def rnn_backward(d_output, runs, d_h_n=None, nonlinearity="tanh"):
    """BPTT for :func:`rnn_forward`. d_output: (T, B, D*H); d_h_n: (L*D, B, H) or None.

    Returns (dx (T, B, I), dh0 (L*D, B, H), grads under the state_dict's names, d_states).
    """
    step_backward = rnn_tanh_step_backward if nonlinearity == "tanh" else rnn_relu_step_backward
    dx, (dh0,), grads, d_states = sequence_backward(step_backward, d_output, runs, (d_h_n,))
    return dx, dh0, grads, d_states
