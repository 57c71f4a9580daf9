"""One time step as a module, mirroring torch.nn.RNNCell, LSTMCell and GRUCell.

A cell is the sequence layer with T = 1: the same gate math, run through the
same unroll, so a step by step loop gives exactly what the sequence classes give.
"""
from __future__ import annotations

import math

from ..core import validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module
from ..core.param_names import CELL_PARAM_NAMES, cell_param_shapes
from ..gates import GRU_GATE_MATH, LSTM_GATE_MATH, RNN_GATE_MATH
from .unroll import layer_backward, layer_forward


class RecurrentCell(Module):
    """Shared by RNNCell, LSTMCell and GRUCell: one time step of a cell kind, forward and backward.

    Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh
    (G*H,) (minirnn.core.param_names), drawn from U(-1/sqrt(H), 1/sqrt(H)) as torch does.
    """

    def __init__(self, gate_math, input_size: int, hidden_size: int, bias: bool = True,
                 dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.gate_math = gate_math
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.bias = bool(bias)
        bound = 1.0 / math.sqrt(self.hidden_size)
        kept = cell_param_shapes(gate_math.n_gates, self.input_size, self.hidden_size, self.bias)
        for name, shape in cell_param_shapes(gate_math.n_gates, self.input_size, self.hidden_size).items():
            if name in kept:
                self.add_param(name, self.init_uniform(bound, shape))
            else:
                self.leave_out_param(name, "bias=False")

    def config(self) -> dict:
        return dict(input_size=self.input_size, hidden_size=self.hidden_size, bias=self.bias,
                    dtype=self.dtype.name)

    def _states(self, names, value, B, unbatched=False):
        """A user's state as one checked (B, H) array or None per state; unbatched, (H,) becomes (1, H)."""
        if unbatched:
            states = validate.state_arrays(names, value, (self.hidden_size,), self.xp, self.dtype)
            return tuple(None if s is None else s[None] for s in states)
        return validate.state_arrays(names, value, (B, self.hidden_size), self.xp, self.dtype)

    def _out(self, values, unbatched=False):
        """Copies of (B, H) states for the caller, as (H,) when unbatched; one array, or a tuple for the LSTM."""
        values = tuple(v[0].copy() if unbatched else v.copy() for v in values)
        return values[0] if len(values) == 1 else values

    def forward(self, x, hx=None):
        """x: (B, I), or (I,) unbatched; hx: (B, H) (unbatched (H,)) or None (LSTMCell: a pair
        (h, c), either may be None); both of the model's dtype (another is refused). Returns the
        next state, h' (B, H) (unbatched (H,)), or (h', c') for the LSTMCell."""
        unbatched = getattr(x, "ndim", None) == 1     # one input vector: a batch of one inside
        given = x
        x = validate.float_array("x", x, [("B", self.input_size), (self.input_size,)], self.xp, self.dtype)
        if x is given and is_grad_enabled():
            x = x.copy()     # the cache keeps x for dW_ih: the caller may change theirs before backward
        if unbatched:
            x = x[None]
        B = x.shape[0]
        state = self._states(tuple(f"{s}_prev" for s in self.gate_math.state_names), hx, B, unbatched)
        state = tuple(self.xp.zeros((B, self.hidden_size), self.dtype) if s is None else s for s in state)
        weights = [self._params.get(name) for name in CELL_PARAM_NAMES]
        _, final, cache = layer_forward(self.gate_math, x[None], *weights, state)
        self.save_cache((cache, unbatched))
        return self._out(final, unbatched)

    def backward(self, d_state):
        """d_state: dL/dh', h''s shape (LSTMCell: a pair (dh', dc'), either may be None).
        Adds into ``grads`` and returns (dx, dh) with x's and h's shapes (LSTMCell: (dx, (dh, dc)))."""
        cache, unbatched = self.last_cache()
        B = cache.x.shape[1]                 # the cache's x is the step's (1, B, I)
        d_final = self._states(tuple(f"d_{s}" for s in self.gate_math.state_names), d_state, B, unbatched)
        self.release_cache()
        dx, d_prev, grads = layer_backward(cache, None, d_final)
        self.add_grads(zip(CELL_PARAM_NAMES, grads))
        return (dx[0, 0] if unbatched else dx[0]), self._out(d_prev, unbatched)


class RNNCell(RecurrentCell):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), act = "tanh" or "relu" (torch.nn.RNNCell)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype="float32", seed: int | None = None):
        self.nonlinearity = validate.choice("nonlinearity", nonlinearity, tuple(RNN_GATE_MATH))
        super().__init__(RNN_GATE_MATH[nonlinearity], input_size, hidden_size, bias, dtype, seed)

    def config(self) -> dict:
        return dict(super().config(), nonlinearity=self.nonlinearity)


class LSTMCell(RecurrentCell):
    """One LSTM step, gates (i, f, g, o) (torch.nn.LSTMCell): forward(x, (h, c)) -> (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype="float32", seed: int | None = None):
        super().__init__(LSTM_GATE_MATH, input_size, hidden_size, bias, dtype, seed)


class GRUCell(RecurrentCell):
    """One GRU step, gates (r, z, n) (torch.nn.GRUCell): forward(x, h) -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype="float32", seed: int | None = None):
        super().__init__(GRU_GATE_MATH, input_size, hidden_size, bias, dtype, seed)
