"""The reference implementation of CharRNN: an embedding, a recurrent layer, and a linear head at every step.

    x_t      = E[c_t]                      the embedding
    h_t      = cell(x_t, h_{t-1})          the RNN, LSTM or GRU step (rnn.py, lstm.py, gru.py), one or more layers
    logits_t = W_head h_t + b_head         scores of the character after c_t

The fast path is minirnn.models.CharRNN (without its dropout, which this version leaves out).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .sequence import sequence_backward, sequence_forward


class CharRNNCache(NamedTuple):
    """What the forward keeps: ids (T, B), the recurrent layer's output (T, B, H) and its runs."""
    ids: np.ndarray
    output: np.ndarray
    runs: list


def charrnn_forward(ids, state_dict, step_forward, state0):
    """ids: (T, B) character ids; state_dict: CharRNN's (embedding.weight, rnn.weight_ih_l0, ...,
    head.weight, head.bias); step_forward: the recurrent layer's step, rnn_tanh_step_forward,
    lstm_step_forward or gru_step_forward; state0: (h0,), or (h0, c0) for the LSTM, each
    (L, B, H) or None for zeros.

    Returns (logits (T, B, V), the final state as a tuple of (L, B, H), cache).
    """
    rnn = {name.removeprefix("rnn."): value for name, value in state_dict.items() if name.startswith("rnn.")}
    E, W_head, b_head = state_dict["embedding.weight"], state_dict["head.weight"], state_dict["head.bias"]
    x = E[ids]                                           # x_t = E[c_t]                 (T, B, emb)
    output, final, runs = sequence_forward(step_forward, x, rnn, state0)    # h_t        (T, B, H)
    logits = output @ W_head.T + b_head                  # logits_t = W_head h_t + b_head   (T, B, V)
    return logits, final, CharRNNCache(ids, output, runs)


def charrnn_backward(d_logits, cache, state_dict, step_backward, d_final):
    """BPTT for :func:`charrnn_forward`. d_logits: (T, B, V); step_backward: the step's backward
    (rnn_tanh_step_backward, ...); d_final: like state0, dL/d(final state), each (L, B, H) or None.

    Returns (grads under the state_dict's names, d_state0, d_states of the recurrent layer).
    """
    ids, output, runs = cache
    E, W_head = state_dict["embedding.weight"], state_dict["head.weight"]
    d_output = d_logits @ W_head                         # dL/dh_t from the head
    dx, d_state0, rnn_grads, d_states = sequence_backward(step_backward, d_output, runs, d_final)
    grads = {"rnn." + name: grad for name, grad in rnn_grads.items()}
    grads["head.weight"] = np.einsum("tbv,tbh->vh", d_logits, output)   # summed over every step and sequence
    grads["head.bias"] = d_logits.sum(axis=(0, 1))
    grads["embedding.weight"] = np.zeros_like(E)
    np.add.at(grads["embedding.weight"], ids, dx)        # each row E[c_t] picked gets its gradient back
    return grads, d_state0, d_states
