"""The reference implementation of CharSeqRNN: an embedding, a recurrent layer and l_out, as the course
notebook writes them.

    x_t     = e[c_t]                       the embedding
    h_t     = cell(x_t, h_{t-1})           the RNN, LSTM or GRU step (rnn.py, lstm.py, gru.py), one or more layers
    log p_t = log_softmax(l_out(h_t))      at every step, or at the last step only

The fast path is minirnn.models.CharSeqRNN (without its dropout between layers, which this version
leaves out).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import log_softmax
from .sequence import sequence_backward, sequence_forward


class CharSeqCache(NamedTuple):
    """What the forward keeps: cs (T, B), the recurrent layer's output (T, B, H) and runs, log p."""
    cs: np.ndarray
    output: np.ndarray
    runs: list
    logp: np.ndarray


def charseq_forward(cs, state_dict, step_forward, state0, every_step=True):
    """cs: (T, B) character ids; state_dict: CharSeqRNN's (e.weight, rnn.weight_ih_l0, ..., l_out.weight,
    l_out.bias); step_forward: the recurrent layer's step, rnn_tanh_step_forward, lstm_step_forward or
    gru_step_forward; state0: (h0,), or (h0, c0) for the LSTM, each (L, B, H) or None for zeros;
    every_step: log p after every character, or after the last only.

    Returns (log p: (T, B, V), or (B, V) after the last character; the final state as a tuple of
    (L, B, H); cache).
    """
    rnn = {name.removeprefix("rnn."): value for name, value in state_dict.items() if name.startswith("rnn.")}
    e, W_out, b_out = state_dict["e.weight"], state_dict["l_out.weight"], state_dict["l_out.bias"]
    x = e[cs]                                            # x_t = e[c_t]                    (T, B, F)
    output, final, runs = sequence_forward(step_forward, x, rnn, state0)    # h_t           (T, B, H)
    read = output if every_step else output[-1]          # every h_t, or h_T
    logp = log_softmax(read @ W_out.T + b_out)           # log p = log_softmax(l_out(h))
    return logp, final, CharSeqCache(cs, output, runs, logp)


def charseq_backward(d_logp, cache, state_dict, step_backward, d_final, every_step=True):
    """BPTT for :func:`charseq_forward`. d_logp: log p's shape; step_backward: the step's backward
    (rnn_tanh_step_backward, ...); d_final: like state0, dL/d(final state), each (L, B, H) or None.

    Returns (grads under the state_dict's names, d_state0).
    """
    cs, output, runs, logp = cache
    e, W_out = state_dict["e.weight"], state_dict["l_out.weight"]
    d_logits = d_logp - np.exp(logp) * d_logp.sum(axis=-1, keepdims=True)   # back through log_softmax
    d_output = np.zeros_like(output)                     # dL/dh_t from l_out ...
    if every_step:
        d_output[...] = d_logits @ W_out
    else:
        d_output[-1] = d_logits @ W_out                  # ... which read h_T only
    dx, d_state0, rnn_grads, _ = sequence_backward(step_backward, d_output, runs, d_final)
    grads = {"rnn." + name: grad for name, grad in rnn_grads.items()}
    read = output if every_step else output[-1]
    d_logit_rows, read_rows = d_logits.reshape(-1, W_out.shape[0]), read.reshape(-1, W_out.shape[1])
    grads["l_out.weight"] = d_logit_rows.T @ read_rows   # summed over every step and row l_out read
    grads["l_out.bias"] = d_logit_rows.sum(axis=0)
    grads["e.weight"] = np.zeros_like(e)
    np.add.at(grads["e.weight"], cs, dx)                 # each row e[c_t] picked gets its gradient back
    return grads, d_state0
