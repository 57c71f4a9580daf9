"""The reference implementation of the article's CharLoopModel, written as the article writes it.

For each character c of a window, from h = 0:

    inp = relu(l_in(e[c]))
    h = tanh(l_hidden(h + inp))

then log p = log_softmax(l_out(h)) for the character that comes next. The fast path is
minirnn.models.CharLoopModel, which computes l_hidden(h + inp) as inp W^T + b + h W^T so that
the input half of every step is one matmul before the loop.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import tanh

from .common import log_softmax, relu


class CharLoopCache(NamedTuple):
    """What the forward keeps: cs (T, B) ids, inps[t] = inp_t (B, H), hs[t] = h_t (B, H) (hs[0] = 0), logp (B, V)."""
    cs: np.ndarray
    inps: list
    hs: list
    logp: np.ndarray


def linear(state_dict, name):
    """The nn.Linear called ``name`` in the state_dict, as a function: x -> x W^T + b."""
    weight, bias = state_dict[f"{name}.weight"], state_dict[f"{name}.bias"]
    return lambda x: x @ weight.T + bias


def charloop_forward(cs, state_dict):
    """cs: (T, B) character ids; state_dict: CharLoopModel's (e.weight, l_in.weight, l_in.bias, ...).

    Returns (log p (B, V) of the character after each window, cache).
    """
    e = state_dict["e.weight"]
    l_in, l_hidden, l_out = linear(state_dict, "l_in"), linear(state_dict, "l_hidden"), linear(state_dict, "l_out")
    h = np.zeros((cs.shape[1], state_dict["l_hidden.bias"].shape[0]))   # h_0 = 0, (B, H)
    inps, hs = [], [h]                                   # every step's values, kept for the backward
    for c in cs:
        inp = relu(l_in(e[c]))                           # inp_t = relu(l_in(e[c_t]))
        h = tanh(l_hidden(h + inp))                      # h_t = tanh(l_hidden(h_{t-1} + inp_t))
        inps.append(inp)
        hs.append(h)
    logp = log_softmax(l_out(h))                         # log p = log_softmax(l_out(h_T))
    return logp, CharLoopCache(cs, inps, hs, logp)


def charloop_backward(d_logp, cache, state_dict):
    """BPTT for :func:`charloop_forward`. d_logp: (B, V), dL/d(log p).

    Returns (grads under the state_dict's names, dhs): dhs[t] = dL/dh_t (B, H) for t = 0..T.
    """
    cs, inps, hs, logp = cache
    e, W_in, W_hidden, W_out = (state_dict[f"{name}.weight"] for name in ("e", "l_in", "l_hidden", "l_out"))
    grads = {name: np.zeros_like(value) for name, value in state_dict.items()}
    T = len(cs)
    d_logits = d_logp - np.exp(logp) * d_logp.sum(axis=1, keepdims=True)   # back through log_softmax
    grads["l_out.weight"] = d_logits.T @ hs[T]                              # l_out read h_T
    grads["l_out.bias"] = d_logits.sum(axis=0)
    dhs = [None] * (T + 1)
    dhs[T] = d_logits @ W_out                            # dL/dh_T
    for t in reversed(range(T)):
        d_hidden = dhs[t + 1] * (1 - hs[t + 1] ** 2)     # back through tanh: dL/d l_hidden(h_{t-1} + inp_t)
        grads["l_hidden.weight"] += d_hidden.T @ (hs[t] + inps[t])   # l_hidden read h_{t-1} + inp_t
        grads["l_hidden.bias"] += d_hidden.sum(axis=0)
        d_sum = d_hidden @ W_hidden                      # dL/d(h_{t-1} + inp_t)
        dhs[t] = d_sum                                   # the addition hands it on unchanged: to h_{t-1} ...
        d_pre = d_sum * (inps[t] > 0)                    # ... and to inp_t, then back through relu
        grads["l_in.weight"] += d_pre.T @ e[cs[t]]       # l_in read e[c_t]
        grads["l_in.bias"] += d_pre.sum(axis=0)
        np.add.at(grads["e.weight"], cs[t], d_pre @ W_in)   # each row e[c_t] picked gets its gradient back
    return grads, dhs
