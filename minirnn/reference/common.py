"""What every reference implementation shares: the activations, and a cell's two linear layers with their gradients."""
from __future__ import annotations

import numpy as np

from ..core.param_names import CELL_PARAM_NAMES


def sigmoid(a):
    """sigma(a) = 1 / (1 + e^-a)."""
    return 1 / (1 + np.exp(-a))


def relu(a):
    """relu(a) = max(a, 0)."""
    return np.maximum(a, 0)


def log_softmax(z):
    """log p = z - log(sum(exp(z))) over the last axis, with the row maximum taken out first so exp cannot overflow."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cell_weights(params):
    """A cell's W_ih (G*H, I), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,), stored under torch's names
    weight_ih, weight_hh, bias_ih, bias_hh (CELL_PARAM_NAMES); an absent bias (bias=False) is 0."""
    W_ih, W_hh, b_ih, b_hh = (params.get(name, 0.0) for name in CELL_PARAM_NAMES)
    return W_ih, W_hh, b_ih, b_hh


def weight_grads(params, x, da_ih, h_prev, da_hh):
    """The gradients of a cell's params, from those of its two linear layers' outputs.

    A cell computes x W_ih^T + b_ih (x: (B, I)) and h_prev W_hh^T + b_hh (h_prev: (B, H));
    da_ih and da_hh (B, G*H) are dL/d of each (the same array, except in the GRU).
    Returns {name: gradient} with the keys of params.
    """
    dW_ih = da_ih.T @ x                                  # dL/dW = da^T x, summed over the batch
    dW_hh = da_hh.T @ h_prev
    db_ih = da_ih.sum(axis=0)                            # dL/db = da, summed over the batch
    db_hh = da_hh.sum(axis=0)
    grads = dict(zip(CELL_PARAM_NAMES, (dW_ih, dW_hh, db_ih, db_hh)))
    return {name: grads[name] for name in params}
