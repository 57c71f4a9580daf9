"""What every twin shares: the activations, and a cell's two linear layers with their gradients."""
from __future__ import annotations

import numpy as np


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
    """A cell's W_ih (G*H, I), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,); an absent bias (bias=False) is 0."""
    return params["weight_ih"], params["weight_hh"], params.get("bias_ih", 0.0), params.get("bias_hh", 0.0)


def weight_grads(params, x, da_ih, h_prev, da_hh):
    """The gradients of a cell's params, from those of its two linear layers' outputs.

    A cell computes x W_ih^T + b_ih (x: (B, I)) and h_prev W_hh^T + b_hh (h_prev: (B, H));
    da_ih and da_hh (B, G*H) are dL/d of each (the same array, except in the GRU).
    Returns {name: gradient} with the keys of params.
    """
    grads = {"weight_ih": da_ih.T @ x, "weight_hh": da_hh.T @ h_prev}   # dL/dW = da^T x, summed over the batch
    if "bias_ih" in params:
        grads["bias_ih"] = da_ih.sum(axis=0)
    if "bias_hh" in params:
        grads["bias_hh"] = da_hh.sum(axis=0)
    return grads
