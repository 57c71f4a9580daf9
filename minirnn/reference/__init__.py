"""The reference implementations: each model of minirnn written a second time, plainly, for the reader.

A reference implementation is a model as a textbook writes it: a Python loop over t, fresh arrays
on every line, one equation per line with the equation in its comment, shapes in the docstrings,
float64 NumPy. It knows nothing of buffers, workspaces, masks or in-place tricks; those belong to
the fast path (minirnn.gates, minirnn.layers, minirnn.models), which the tests hold equal to its
reference in float64, outputs, final states and every gradient to 1e-12. Read the reference to
learn what a model computes; read the fast path to learn how to compute it quickly.

Each cell is a pair of step functions, after CS231n's rnn_layers.py:

    next_state, cache = *_step_forward(x, state, params)
    dx, d_state, grads = *_step_backward(d_next_state, cache, params)

x is (B, I); a state is a tuple of (B, H) arrays, (h,) or (h, c); params holds torch's cell
names weight_ih, weight_hh, bias_ih, bias_hh (minirnn.core.param_names; the biases may be absent)
and grads the same keys. sequence.py runs a pair over a whole sequence, with stacked layers and
both directions, on the fast model's own state_dict. The reference implementations trust their
inputs: the fast path checks them.
"""
from .charloop import charloop_backward, charloop_forward
from .charrnn import charrnn_backward, charrnn_forward
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .rnn import (
                  rnn_backward,
                  rnn_forward,
                  rnn_relu_step_backward,
                  rnn_relu_step_forward,
                  rnn_tanh_step_backward,
                  rnn_tanh_step_forward,
)

__all__ = [
    "rnn_tanh_step_forward", "rnn_tanh_step_backward", "rnn_relu_step_forward", "rnn_relu_step_backward",
    "lstm_step_forward", "lstm_step_backward", "gru_step_forward", "gru_step_backward",
    "rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
    "charloop_forward", "charloop_backward", "charrnn_forward", "charrnn_backward",
]
