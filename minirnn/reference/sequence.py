"""A cell over a whole sequence: the time loop, stacked layers and both directions, forward and BPTT.

The reference implementation of minirnn.layers (unroll.py and recurrent.py), for any cell given as a pair of step
functions (rnn.py, lstm.py, gru.py). The forward keeps every step's state and cache, the way
min-char-rnn keeps ``hs``; the backward walks the same steps in reverse, carrying the gradient of
the state from each step to the one before, and keeps the gradient of every state beside it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.param_names import CELL_PARAM_NAMES, layer_layout, layer_suffix
from .common import cell_weights


class Run(NamedTuple):
    """One layer in one direction, as the forward left it.

    layer, direction: which one; direction 0 reads the sequence from its start, direction 1 from its end.
    suffix: what the state_dict appends to its parameters' names, "_l0" or "_l0_reverse".
    params: its parameters under the step functions' names (the state_dict's own arrays).
    xs: (T, B, I) what it read, in the order it read it (the reverse direction reads from the end).
    states: states[0] the initial state, states[t + 1] the state after step t; each a tuple of (B, H).
    caches: caches[t], what step t kept for its backward.
    """
    layer: int
    direction: int
    suffix: str
    params: dict
    xs: np.ndarray
    states: list
    caches: list


def unroll_forward(step_forward, xs, state0, params):
    """Apply step_forward at every step, each step reading the state the step before it wrote.

    xs: (T, B, I); state0: tuple of (B, H). Returns (states, caches) as in :class:`Run`.
    """
    T = len(xs)
    states, caches = [state0] + [None] * T, [None] * T
    for t in range(T):
        states[t + 1], caches[t] = step_forward(xs[t], states[t], params)   # the same params at every step
    return states, caches


def unroll_backward(step_backward, d_hs, d_final, caches, params):
    """Backpropagation through time over one :func:`unroll_forward`, its loop run backwards.

    d_hs: (T, B, H) dL/dh from above at every step; d_final: tuple of (B, H), dL/d(the last state).
    Returns (dxs (T, B, I), d_states, grads): d_states[t] is dL/d(states[t]), so d_states[0] is the
    gradient of the initial state; grads has the keys of params.
    """
    T = len(caches)
    dxs, d_states = [None] * T, [None] * (T + 1)
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    d_next = d_final                                        # what the steps after t send back to its state
    for t in reversed(range(T)):
        dh_next, *d_rest = d_next
        d_states[t + 1] = (dh_next + d_hs[t], *d_rest)      # h_t also went up: add the gradient from above
        dxs[t], d_next, step_grads = step_backward(d_states[t + 1], caches[t], params)
        for name in grads:
            grads[name] += step_grads[name]                 # the same weights at every step: gradients add up
    d_states[0] = d_next
    return np.stack(dxs), d_states, grads


def sequence_forward(step_forward, x, state_dict, state0):
    """Stacked layers, each one or two directions of a cell, as torch.nn.RNN, LSTM and GRU run them.

    x: (T, B, I). state_dict: torch's names (weight_ih_l0, weight_hh_l0_reverse, ...), whose keys
    say how many layers and directions there are. state0: a tuple with one (L*D, B, H) array, or
    None for zeros, per state ((h0,) or (h0, c0)).
    Returns (output (T, B, D*H), final state: a tuple of (L*D, B, H), runs: one :class:`Run` per
    layer and direction, in the order of h_n).
    """
    layers, directions = layer_layout(state_dict)
    B = x.shape[1]
    runs, layer_input = [], x
    for layer in range(layers):
        outputs = []
        for direction in range(directions):
            k, suffix = len(runs), layer_suffix(layer, direction)      # k: this run's row of h0 and h_n
            params = {name: state_dict[name + suffix] for name in CELL_PARAM_NAMES if name + suffix in state_dict}
            H = cell_weights(params)[1].shape[1]                         # W_hh is (G*H, H)
            s0 = tuple(np.zeros((B, H)) if s is None else s[k] for s in state0)
            xs = layer_input[::-1] if direction else layer_input        # the reverse direction reads from the end
            states, caches = unroll_forward(step_forward, xs, s0, params)
            hs = np.stack([state[0] for state in states[1:]])
            outputs.append(hs[::-1] if direction else hs)               # back in the sequence's order
            runs.append(Run(layer, direction, suffix, params, xs, states, caches))
        layer_input = np.concatenate(outputs, axis=2)                   # the next layer reads both directions
    final = tuple(np.stack([run.states[-1][i] for run in runs]) for i in range(len(state0)))
    return layer_input, final, runs


def sequence_backward(step_backward, d_output, runs, d_final):
    """BPTT through :func:`sequence_forward`: the top layer first, each direction by :func:`unroll_backward`.

    d_output: (T, B, D*H) dL/d(output); d_final: a tuple with one (L*D, B, H) array, or None, per state.
    Returns (dx (T, B, I), d_state0: a tuple of (L*D, B, H), grads under the state_dict's names,
    d_states: each run's d_states as :func:`unroll_backward` gives them, in the order of runs).
    """
    D = runs[-1].direction + 1                                          # the number of directions
    B, H = runs[0].states[0][0].shape
    grads, d_states = {}, [None] * len(runs)
    d_layer_output = d_output
    for layer in reversed(range(len(runs) // D)):
        d_layer_input = 0
        for d in range(D):
            k = layer * D + d
            run, reverse = runs[k], d == 1
            d_hs = d_layer_output[:, :, d * H:(d + 1) * H]                # this direction's part of the output
            d_last = tuple(np.zeros((B, H)) if s is None else s[k] for s in d_final)
            dxs, d_states[k], run_grads = unroll_backward(step_backward, d_hs[::-1] if reverse else d_hs,
                                                          d_last, run.caches, run.params)
            d_layer_input = d_layer_input + (dxs[::-1] if reverse else dxs)   # both directions read the input
            grads.update({name + run.suffix: grad for name, grad in run_grads.items()})
        d_layer_output = d_layer_input
    d_state0 = tuple(np.stack([d[0][i] for d in d_states]) for i in range(len(d_final)))
    return d_layer_output, d_state0, grads, d_states
