"""RNN, LSTM and GRU over whole sequences, mirroring torch.nn.RNN, LSTM and GRU.

The three differ only in their gate math (minirnn.gates); everything about sequences
is written once here: stacked layers, the two directions, dropout between
layers, variable lengths, batch_first, and carrying the state between chunks.

Their reference implementations, written plainly, are in minirnn/reference/ (sequence.py, rnn.py, lstm.py, gru.py).
"""
from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy

from ..core import backend, validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module
from ..core.param_names import DIRECTION_SUFFIXES, layer_param_names, layer_param_shapes
from ..core.workspace import Workspaces
from ..gates import GRU_GATE_MATH, LSTM_GATE_MATH, RNN_GATE_MATH
from .unroll import layer_backward, layer_forward


def lengths_mask(lengths, T: int, B: int, xp):
    """Validate ``lengths`` and return (mask (T, B, 1) bool, reverse_index (T, B) int).

    lengths: B integers in [1, T], in any order (a list or a host or device array).
    """
    if B == 0:                                      # as torch, which cannot pack an empty batch
        raise ValueError("lengths needs a batch of at least one sequence, got x with B=0 "
                         "(an empty batch runs without lengths)")
    validate.refuse_torch("lengths", lengths)
    host = backend.host_array(lengths)
    if host.shape != (B,) or host.dtype.kind not in "iu":
        raise ValueError(f"lengths must be B={B} integers in [1, T={T}], got {validate.describe(host)}")
    if host.min() < 1 or host.max() > T:
        bad = host.min() if host.min() < 1 else host.max()
        raise ValueError(f"lengths must be B={B} integers in [1, T={T}], got a length of {bad}")
    steps = numpy.arange(T)[:, None]
    mask = steps < host[None, :]
    reverse_index = numpy.where(mask, host[None, :] - 1 - steps, steps)
    return xp.asarray(mask[:, :, None]), xp.asarray(reverse_index)


class StackCache(NamedTuple):
    """What Recurrent.backward needs from its forward."""
    layers: list          # per layer, one LayerCache per direction
    drop_masks: list      # per layer, the dropout mask applied to its input, or None
    mask: Any             # (T, B, 1) bool, False past each sequence's end, or None
    T: int
    B: int
    unbatched: bool       # x was one sequence (T, I): the caller's arrays have no batch axis


class Recurrent(Module):
    """Shared by RNN, LSTM and GRU: a stack of layers, each one or two directions of a cell.

    Parameters per layer k and direction (suffix "" or "_reverse"), with torch's
    names and shapes (minirnn.core.param_names): weight_ih_l{k} (G*H, I_k), weight_hh_l{k}
    (G*H, H), bias_ih_l{k} (G*H,), bias_hh_l{k} (G*H,), where G is the number of gates
    of the gate math and I_k is input_size for k = 0, else H times the number of directions.
    All are drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch does.

    Threads: the work buffers a layer keeps between calls belong to the thread that
    made them, as the forward cache does (see Module), so several threads may run
    forwards and backwards of one model at once: each gets what it would get alone,
    and the parameter gradients add up.
    """

    def __init__(self, gate_math, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype="float32", seed: int | None = None, proj_size: int = 0):
        super().__init__(dtype, seed)
        if proj_size:
            raise ValueError("proj_size is not supported by minirnn (torch's LSTM projections); use proj_size=0")
        self.gate_math = gate_math
        self.input_size = validate.positive_int("input_size", input_size)
        self.hidden_size = validate.positive_int("hidden_size", hidden_size)
        self.num_layers = validate.positive_int("num_layers", num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = validate.probability("dropout", dropout)
        if self.dropout > 0 and self.num_layers == 1:   # torch warns too: nothing lies between layers
            warnings.warn(f"dropout acts between stacked layers (after all but the last), so dropout={dropout} "
                          f"expects num_layers greater than 1, but got num_layers={num_layers}: it does nothing",
                          UserWarning, stacklevel=3)
        self._workspaces = Workspaces()   # buffers reused by the forwards (see _workspace)
        self.directions = DIRECTION_SUFFIXES if self.bidirectional else DIRECTION_SUFFIXES[:1]
        bound = 1.0 / math.sqrt(self.hidden_size)
        sizes = (gate_math.n_gates, self.input_size, self.hidden_size, self.num_layers)
        kept = layer_param_shapes(*sizes, bias=self.bias, bidirectional=self.bidirectional)
        for name, shape in layer_param_shapes(*sizes, bidirectional=self.bidirectional).items():
            if name in kept:
                self.add_param(name, self.init_uniform(bound, shape))
            else:
                self.leave_out_param(name, "bias=False")

    def _workspace(self, layer: int, direction: int) -> dict:
        """The buffers of one layer and direction, reused from one forward to the next
        (per thread and grad mode: see minirnn/core/workspace.py)."""
        return self._workspaces.get((layer, direction))

    def release_buffers(self) -> None:
        """Free the work arrays kept between calls; the next forward makes them again."""
        self._workspaces.clear()

    def config(self) -> dict:
        return dict(input_size=self.input_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
                    bias=self.bias, batch_first=self.batch_first, dropout=self.dropout,
                    bidirectional=self.bidirectional, dtype=self.dtype.name)

    # -- the state at the boundary: one array for RNN and GRU, an (h, c) pair for LSTM --------
    def _state_tuple(self, names: tuple, value, B: int, unbatched: bool = False) -> tuple:
        """A user's state (h0, or d_h_n) as one checked (L*D, B, H) array or None per state.

        For an unbatched input the user's state is (L*D, H), and comes back as (L*D, 1, H).
        """
        if unbatched:
            shape = (self.num_layers * len(self.directions), self.hidden_size)
            states = validate.state_arrays(names, value, shape, self.xp, self.dtype)
            return tuple(None if s is None else s[:, None] for s in states)
        shape = (self.num_layers * len(self.directions), B, self.hidden_size)
        return validate.state_arrays(names, value, shape, self.xp, self.dtype)

    def _state_out(self, values: tuple, unbatched: bool = False):
        if unbatched:
            values = tuple(v[:, 0] for v in values)
        return values[0] if len(values) == 1 else tuple(values)

    # -- the layout at the boundary: x, output and their gradients as the user holds them ------
    def _layout(self, T, B, width, unbatched: bool) -> tuple:
        """(T, width) for one unbatched sequence, (B, T, width) with batch_first, else (T, B, width)."""
        return (T, width) if unbatched else (B, T, width) if self.batch_first else (T, B, width)

    def _time_major(self, a, unbatched: bool):
        """An array in the user's layout as a (T, B, width) view."""
        return a[:, None] if unbatched else a.transpose(1, 0, 2) if self.batch_first else a

    def _user_layout(self, a, unbatched: bool):
        """A (T, B, width) array as a view in the user's layout (the inverse of _time_major)."""
        return a[:, 0] if unbatched else a.transpose(1, 0, 2) if self.batch_first else a

    def _layer_rows(self, layer: int) -> slice:
        """Where one layer's directions sit in h_0 and h_n (L*D, B, H), torch's layer-major order."""
        D = len(self.directions)
        return slice(layer * D, (layer + 1) * D)

    # -- one layer, all its directions ---------------------------------------------------------------
    def _layer_forward(self, layer: int, x, state0: tuple, final: tuple, mask, reverse_index):
        """Run every direction of ``layer`` over x (T, B, I_k).

        state0: per state, the layer's (D, B, H) initial states or None (zeros); final:
        per state, a (D, B, H) array that receives each direction's final state.
        Returns (output, caches): output (T, B, D*H), a fresh array with the directions
        side by side as torch has them (zero past each sequence's end), and one cache
        per direction.
        """
        xp, H, D = self.xp, self.hidden_size, len(self.directions)
        T, B = x.shape[:2]
        output = xp.empty((T, B, D, H), self.dtype)    # fresh: the next layer and the caller keep it
        caches = []
        for d in range(D):
            s0 = tuple(xp.zeros((B, H), self.dtype) if s is None else s[d] for s in state0)
            weights = [self._params.get(name) for name in layer_param_names(layer, d)]
            h_out, final_d, cache = layer_forward(self.gate_math, x, *weights, s0, mask, reverse=d == 1,
                                                  reverse_index=reverse_index, workspace=self._workspace(layer, d))
            output[:, :, d] = h_out
            for store, s in zip(final, final_d):
                store[d] = s
            caches.append(cache)
        output = output.reshape(T, B, D * H)
        if mask is not None:
            xp.copyto(output, 0, where=~mask)
        return output, caches

    def _layer_backward(self, layer: int, caches: list, d_output, d_final: tuple, d_state0: tuple):
        """Backward of :meth:`_layer_forward`: adds the layer's parameter gradients into ``grads``.

        d_output: (T, B, D*H) or None; d_final: per state, the layer's (D, B, H) dL/d(final
        state) or None; d_state0: per state, a (D, B, H) array that receives dL/d(state0).
        Returns dL/dx (T, B, I_k), summed over the directions.
        """
        D, H = len(self.directions), self.hidden_size
        d_by_direction = None if d_output is None else d_output.reshape(*d_output.shape[:2], D, H)
        d_input = None
        for d, cache in enumerate(caches):
            d_h = None if d_by_direction is None else d_by_direction[:, :, d]
            dx, d_s0, grads = layer_backward(cache, d_h, tuple(None if s is None else s[d] for s in d_final))
            self.add_grads(zip(layer_param_names(layer, d), grads))
            for store, ds in zip(d_state0, d_s0):
                store[d] = ds
            d_input = dx if d_input is None else d_input + dx
        return d_input

    def forward(self, x, hx=None, lengths=None):
        """Run the stack over a batch of sequences.

        x: (T, B, I), or (B, T, I) with batch_first; of the model's dtype (float32 by default):
            another precision is refused, as torch refuses it, rather than copied on every call.
            Unbatched, one sequence is (T, I), with or without batch_first, as in torch.
        hx: initial state (L*D, B, H), L layers and D directions, or None for zeros;
            (L*D, H) for an unbatched x. For the LSTM, a pair (h0, c0) where either may be None.
        lengths: B integers in [1, T], or None when every sequence has T steps.
            Steps past a sequence's end leave its state unchanged and output zero.
        Returns (output, h_n): output (T, B, D*H) (batch_first: (B, T, D*H)), the top
        layer's h at every step, both directions concatenated; h_n (L*D, B, H), the
        final state of every layer and direction in torch's order (layer-major); for
        the LSTM, (h_n, c_n). For an unbatched x, output (T, D*H) and h_n (L*D, H).
        """
        xp, H = self.xp, self.hidden_size
        given = x
        unbatched = getattr(x, "ndim", None) == 2      # one sequence, (T, I): a batch of one inside
        a_batch = self._layout("T", "B", self.input_size, unbatched=False)
        one_sequence = self._layout("T", "B", self.input_size, unbatched=True)
        x = validate.float_array("x", x, [a_batch, one_sequence], xp, self.dtype)
        if x is given and is_grad_enabled():
            x = x.copy()     # the cache keeps x for dW_ih: the caller may change theirs before backward
        if unbatched and lengths is not None:
            raise ValueError("lengths is for a batch of sequences; an unbatched x (T, I) is one sequence "
                             "of T steps: give x[:length] instead")
        x = self._time_major(x, unbatched)
        T, B = x.shape[:2]
        state0 = self._state_tuple(tuple(f"{s}0" for s in self.gate_math.state_names), hx, B, unbatched)
        mask, reverse_index = lengths_mask(lengths, T, B, xp) if lengths is not None else (None, None)
        if mask is not None:                        # padding never reaches the model, not even a NaN
            x = xp.where(mask, x, 0)
        h_n = tuple(xp.empty((self.num_layers * len(self.directions), B, H), self.dtype)
                    for _ in self.gate_math.state_names)
        layer_caches, drop_masks = [], []
        layer_input = x
        for layer in range(self.num_layers):
            drop = self.dropout_mask(layer_input.shape, self.dropout) if layer > 0 else None
            if drop is not None:
                layer_input = layer_input * drop
            drop_masks.append(drop)
            rows = self._layer_rows(layer)
            layer_input, caches = self._layer_forward(
                layer, layer_input, tuple(None if s is None else s[rows] for s in state0),
                tuple(s[rows] for s in h_n), mask, reverse_index)
            layer_caches.append(caches)
        output = self._user_layout(layer_input, unbatched)
        self.save_cache(StackCache(layer_caches, drop_masks, mask, T, B, unbatched))
        return output, self._state_out(h_n, unbatched)

    def backward(self, d_output, d_hx=None):
        """Backpropagation through time for the last forward.

        d_output: dL/d(output), the output's shape (or None); d_hx: dL/d(h_n), h_n's
        shape, or None (for the LSTM a pair (d_h_n, d_c_n), either may be None).
        Adds the parameter gradients into ``grads`` and returns (dx, dh0) with x's
        and h0's shapes (for the LSTM, (dx, (dh0, dc0))); unbatched, as the forward's were.
        """
        cache = self.last_cache()
        mask, T, B, unbatched = cache.mask, cache.T, cache.B, cache.unbatched
        xp, H, D = self.xp, self.hidden_size, len(self.directions)
        if d_output is not None:
            d_output = validate.float_array("d_output", d_output, self._layout(T, B, D * H, unbatched), xp,
                                          self.dtype)
            d_output = self._time_major(d_output, unbatched)
            if mask is not None:                    # outputs past the end were set to zero
                d_output = xp.where(mask, d_output, 0)
        d_final = self._state_tuple(tuple(f"d_{s}_n" for s in self.gate_math.state_names), d_hx, B, unbatched)
        self.release_cache()
        d_state0 = tuple(xp.empty((self.num_layers * D, B, H), self.dtype) for _ in self.gate_math.state_names)
        d_layer_out = d_output
        for layer in reversed(range(self.num_layers)):
            rows = self._layer_rows(layer)
            d_input = self._layer_backward(layer, cache.layers[layer], d_layer_out,
                                           tuple(None if s is None else s[rows] for s in d_final),
                                           tuple(s[rows] for s in d_state0))
            if cache.drop_masks[layer] is not None:
                d_input *= cache.drop_masks[layer]
            d_layer_out = d_input
        dx = self._user_layout(d_layer_out, unbatched)
        return dx, self._state_out(d_state0, unbatched)


class RNN(Recurrent):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu.

    Same constructor, shapes and parameter names as torch.nn.RNN (``proj_size`` aside).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype="float32", seed: int | None = None):
        self.nonlinearity = validate.choice("nonlinearity", nonlinearity, tuple(RNN_GATE_MATH))
        super().__init__(RNN_GATE_MATH[nonlinearity], input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype, seed)

    def config(self) -> dict:
        return dict(super().config(), nonlinearity=self.nonlinearity)


class LSTM(Recurrent):
    """LSTM with torch's equations and gate order (i, f, g, o); the state is a pair (h, c).

    Same constructor, shapes and parameter names as torch.nn.LSTM (``proj_size``
    is not supported). forward(x, (h0, c0)) -> (output, (h_n, c_n));
    backward(d_output, (d_h_n, d_c_n)) -> (dx, (dh0, dc0)).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype="float32", seed: int | None = None, proj_size: int = 0):
        super().__init__(LSTM_GATE_MATH, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, proj_size)

    def config(self) -> dict:
        return dict(super().config(), proj_size=0)     # every argument of the constructor, as a checkpoint keeps it


class GRU(Recurrent):
    """GRU with torch's equations and gate order (r, z, n).

    Same constructor, shapes and parameter names as torch.nn.GRU.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype="float32", seed: int | None = None):
        super().__init__(GRU_GATE_MATH, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed)
