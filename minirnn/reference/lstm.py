"""The LSTM's reference implementation, with torch's equations and gate order (i, f, g, o).

    a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, split into four blocks of H
    i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
    c_t = f c_{t-1} + i g
    h_t = o tanh(c_t)

The fast path is minirnn.LSTM (minirnn/gates/lstm.py in minirnn/layers/unroll.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import cell_weights, sigmoid, weight_grads
from .sequence import sequence_backward, sequence_forward


class LSTMStepCache(NamedTuple):
    """What one step keeps for its backward: x (B, I), the state it read, its gates, and c_t; all (B, H) but x."""
    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray


def lstm_step_forward(x, state, params):
    """One step. x: (B, I); state: (h_prev, c_prev), each (B, H); params: weight_ih (4H, I),
    weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,), the biases optional. Returns ((h, c), cache)."""
    h_prev, c_prev = state
    W_ih, W_hh, b_ih, b_hh = cell_weights(params)
    a = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh      # a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh   (B, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)         # torch's order: i, f, g, o
    i = sigmoid(a_i)                                    # input gate: how much of g to write
    f = sigmoid(a_f)                                    # forget gate: how much of c_{t-1} to keep
    g = np.tanh(a_g)                                    # candidate values
    o = sigmoid(a_o)                                    # output gate: how much of the cell to show
    c = f * c_prev + i * g                              # c_t = f c_{t-1} + i g
    h = o * np.tanh(c)                                  # h_t = o tanh(c_t)
    return (h, c), LSTMStepCache(x, h_prev, c_prev, i, f, g, o, c)


def lstm_step_backward(d_next_state, cache, params):
    """The gradients of one step. d_next_state: (dh, dc_next), dL/dh_t and dL/dc_t (B, H) from after it.

    Returns (dx (B, I), (dh_prev, dc_prev), grads) with grads under the keys of params.
    """
    dh, dc_next = d_next_state
    x, h_prev, c_prev, i, f, g, o, c = cache
    W_ih, W_hh, _, _ = cell_weights(params)
    tanh_c = np.tanh(c)
    do = dh * tanh_c                                    # from h_t = o tanh(c_t)
    dc = dc_next + dh * o * (1 - tanh_c ** 2)           # c_t reaches the loss through h_t and through c_{t+1}
    di = dc * g                                         # from c_t = f c_{t-1} + i g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f                                    # dL/dc_{t-1}: no matrix, no squashing, only f
    da_i = di * i * (1 - i)                             # sigma'(a) = s (1 - s)
    da_f = df * f * (1 - f)
    da_g = dg * (1 - g ** 2)                            # tanh'(a) = 1 - g^2
    da_o = do * o * (1 - o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)   # dL/da, (B, 4H)
    dx = da @ W_ih                                      # dL/dx_t = da W_ih
    dh_prev = da @ W_hh                                 # dL/dh_{t-1} = da W_hh
    grads = weight_grads(params, x, da, h_prev, da)
    return dx, (dh_prev, dc_prev), grads


def lstm_forward(x, state_dict, h0=None, c0=None):
    """minirnn.LSTM's forward (and torch.nn.LSTM's), time-major, without lengths or dropout.

    x: (T, B, I); state_dict: minirnn.LSTM's (weight_ih_l0, ...); h0, c0: (L*D, B, H) or None.
    Returns (output (T, B, D*H), (h_n, c_n), runs) (runs: see minirnn.reference.sequence).
    """
    output, (h_n, c_n), runs = sequence_forward(lstm_step_forward, x, state_dict, (h0, c0))
    return output, (h_n, c_n), runs


def lstm_backward(d_output, runs, d_h_n=None, d_c_n=None):
    """BPTT for :func:`lstm_forward`. d_output: (T, B, D*H); d_h_n, d_c_n: (L*D, B, H) or None.

    Returns (dx (T, B, I), (dh0, dc0), grads under the state_dict's names, d_states).
    """
    dx, (dh0, dc0), grads, d_states = sequence_backward(lstm_step_backward, d_output, runs, (d_h_n, d_c_n))
    return dx, (dh0, dc0), grads, d_states
