"""The GRU's reference implementation, with torch's equations and gate order (r, z, n).

    r = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) n + z h_{t-1}

The reset gate r multiplies only the recurrent part of n, so the two linear layers are kept
apart here (ax and ah) instead of being added at once as in the RNN and the LSTM.
The fast path is minirnn.GRU (minirnn/gates/gru.py in minirnn/layers/unroll.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import cell_weights, sigmoid, weight_grads
from .sequence import sequence_backward, sequence_forward


class GRUStepCache(NamedTuple):
    """What one step keeps for its backward: x (B, I), h_prev, its gates r, z, n and ah_n; all (B, H) but x."""
    x: np.ndarray
    h_prev: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    ah_n: np.ndarray


def gru_step_forward(x, state, params):
    """One step. x: (B, I); state: (h_prev,), h_prev (B, H); params: weight_ih (3H, I),
    weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,), the biases optional. Returns ((h,), cache)."""
    (h_prev,) = state
    W_ih, W_hh, b_ih, b_hh = cell_weights(params)
    ax = x @ W_ih.T + b_ih                              # the input's part of every gate        (B, 3H)
    ah = h_prev @ W_hh.T + b_hh                         # the previous state's part             (B, 3H)
    ax_r, ax_z, ax_n = np.split(ax, 3, axis=1)          # torch's order: r, z, n
    ah_r, ah_z, ah_n = np.split(ah, 3, axis=1)
    r = sigmoid(ax_r + ah_r)                            # reset gate
    z = sigmoid(ax_z + ah_z)                            # update gate: how much of h_{t-1} to keep
    n = np.tanh(ax_n + r * ah_n)                        # candidate: r scales the recurrent part only
    h = (1 - z) * n + z * h_prev                        # h_t = (1 - z) n + z h_{t-1}
    return (h,), GRUStepCache(x, h_prev, r, z, n, ah_n)


def gru_step_backward(d_next_state, cache, params):
    """The gradients of one step. d_next_state: (dh,), dL/dh_t (B, H).

    Returns (dx (B, I), (dh_prev,), grads) with grads under the keys of params.
    """
    (dh,) = d_next_state
    x, h_prev, r, z, n, ah_n = cache
    W_ih, W_hh, _, _ = cell_weights(params)
    dn = dh * (1 - z)                                   # from h_t = (1 - z) n + z h_{t-1}
    dz = dh * (h_prev - n)
    da_n = dn * (1 - n ** 2)                            # tanh'(a) = 1 - n^2
    dr = da_n * ah_n                                    # from n = tanh(ax_n + r ah_n)
    da_r = dr * r * (1 - r)                             # sigma'(a) = s (1 - s)
    da_z = dz * z * (1 - z)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)        # dL/dax, (B, 3H)
    dah = np.concatenate([da_r, da_z, da_n * r], axis=1)    # dL/dah: r scales the n block
    dx = dax @ W_ih                                     # dL/dx_t = dax W_ih
    dh_prev = dah @ W_hh + dh * z                       # dL/dh_{t-1}: through W_hh, and directly through z
    grads = weight_grads(params, x, dax, h_prev, dah)
    return dx, (dh_prev,), grads


def gru_forward(x, state_dict, h0=None):
    """minirnn.GRU's forward (and torch.nn.GRU's), time-major, without lengths or dropout.

    x: (T, B, I); state_dict: minirnn.GRU's (weight_ih_l0, ...); h0: (L*D, B, H) or None.
    Returns (output (T, B, D*H), h_n (L*D, B, H), runs) (runs: see minirnn.reference.sequence).
    """
    output, (h_n,), runs = sequence_forward(gru_step_forward, x, state_dict, (h0,))
    return output, h_n, runs


def gru_backward(d_output, runs, d_h_n=None):
    """BPTT for :func:`gru_forward`. d_output: (T, B, D*H); d_h_n: (L*D, B, H) or None.

    Returns (dx (T, B, I), dh0 (L*D, B, H), grads under the state_dict's names, d_states).
    """
    dx, (dh0,), grads, d_states = sequence_backward(gru_step_backward, d_output, runs, (d_h_n,))
    return dx, dh0, grads, d_states
