"""Elementwise activations and the log-softmax, each with its backward.

The backwards are written from the forward's *output* where the math allows
(relu' = [y > 0], softmax from log p), so a cache holds one array, not two.
"""
from __future__ import annotations

from ..core import backend


def relu_forward(x):
    """y = max(x, 0). Returns y and the cache (the output)."""
    y = backend.array_module(x).maximum(x, 0)
    return y, y


def relu_backward(dy, y):
    """dL/dx = dy where x > 0, else 0 (read from the output: y > 0 exactly where x > 0)."""
    return dy * (y > 0)


def sigmoid(x, out=None):
    """The logistic function 1 / (1 + e^-x), computed as 0.5 tanh(x / 2) + 0.5.

    The tanh form never overflows (exp(-x) does for x < -88 in float32) and takes
    three passes over memory; ``out`` may be ``x`` to compute in place.
    """
    xp = backend.array_module(x)
    out = xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def log_softmax_forward(logits):
    """log p = z - max(z) - log(sum(exp(z - max(z)))) over the last axis.

    Subtracting the row maximum first keeps exp() from overflowing at any logit
    size. logits: (..., V). Returns log p (..., V) and the cache (log p).
    """
    xp = backend.array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    logp = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
    return logp, logp


def log_softmax_backward(d_logp, logp):
    """dL/dz = d - softmax(z) * sum(d) over the last axis, with softmax = exp(log p)."""
    xp = backend.array_module(logp)
    return d_logp - xp.exp(logp) * d_logp.sum(axis=-1, keepdims=True)
