"""The reference CharLoopConcatModel, written as the course notebook writes it.

For each character c of a window, from h = 0:

    inp = relu(l_in(cat(h, e[c])))
    h = tanh(l_hidden(inp))

then log p = log_softmax(l_out(h)) for the character that comes next. The fast path is
minirnn.models.CharLoopConcatModel, which computes the e[c] half of l_in once per character of
the vocabulary and keeps two products per step.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import tanh

from .charloop import linear
from .common import log_softmax, relu


class CharLoopConcatCache(NamedTuple):
    """What the forward keeps: cs (T, B) ids, cats[t] = cat(h_t, e[c_{t+1}]) (B, H+F), inps[t] (B, H),
    hs[t] = h_t (B, H) (hs[0] = 0), logp (B, V)."""
    cs: np.ndarray
    cats: list
    inps: list
    hs: list
    logp: np.ndarray


def charloopconcat_forward(cs, state_dict):
    """cs: (T, B) character ids; state_dict: CharLoopConcatModel's (e.weight, l_in.weight, l_in.bias, ...).

    Returns (log p (B, V) of the character after each window, cache).
    """
    e = state_dict["e.weight"]
    l_in, l_hidden, l_out = linear(state_dict, "l_in"), linear(state_dict, "l_hidden"), linear(state_dict, "l_out")
    h = np.zeros((cs.shape[1], state_dict["l_hidden.bias"].shape[0]))   # h_0 = 0, (B, H)
    cats, inps, hs = [], [], [h]                         # every step's values, kept for the backward
    for c in cs:
        cat = np.concatenate([h, e[c]], axis=1)          # cat(h_{t-1}, e[c_t])
        inp = relu(l_in(cat))                            # inp_t = relu(l_in(cat(h_{t-1}, e[c_t])))
        h = tanh(l_hidden(inp))                          # h_t = tanh(l_hidden(inp_t))
        cats.append(cat)
        inps.append(inp)
        hs.append(h)
    logp = log_softmax(l_out(h))                         # log p = log_softmax(l_out(h_T))
    return logp, CharLoopConcatCache(cs, cats, inps, hs, logp)


def charloopconcat_backward(d_logp, cache, state_dict):
    """BPTT for :func:`charloopconcat_forward`. d_logp: (B, V), dL/d(log p).

    Returns (grads under the state_dict's names, dhs): dhs[t] = dL/dh_t (B, H) for t = 0..T.
    """
    cs, cats, inps, hs, logp = cache
    W_in, W_hidden, W_out = (state_dict[f"{name}.weight"] for name in ("l_in", "l_hidden", "l_out"))
    H = W_hidden.shape[0]
    grads = {name: np.zeros_like(value) for name, value in state_dict.items()}
    T = len(cs)
    d_logits = d_logp - np.exp(logp) * d_logp.sum(axis=1, keepdims=True)   # back through log_softmax
    grads["l_out.weight"] = d_logits.T @ hs[T]                              # l_out read h_T
    grads["l_out.bias"] = d_logits.sum(axis=0)
    dhs = [None] * (T + 1)
    dhs[T] = d_logits @ W_out                            # dL/dh_T
    for t in reversed(range(T)):
        d_hidden = dhs[t + 1] * (1 - hs[t + 1] ** 2)     # back through tanh: dL/d l_hidden(inp_t)
        grads["l_hidden.weight"] += d_hidden.T @ inps[t]  # l_hidden read inp_t
        grads["l_hidden.bias"] += d_hidden.sum(axis=0)
        d_inp = d_hidden @ W_hidden                      # dL/dinp_t
        d_pre = d_inp * (inps[t] > 0)                    # back through relu: dL/d l_in(cat)
        grads["l_in.weight"] += d_pre.T @ cats[t]        # l_in read cat(h_{t-1}, e[c_t])
        grads["l_in.bias"] += d_pre.sum(axis=0)
        d_cat = d_pre @ W_in                             # dL/d cat(h_{t-1}, e[c_t])
        dhs[t] = d_cat[:, :H]                            # the first H columns were h_{t-1} ...
        np.add.at(grads["e.weight"], cs[t], d_cat[:, H:])   # ... the rest e[c_t]: each row picked gets its part
    return grads, dhs
