"""Unrolling one cell over time, forward and backward (BPTT), for one layer and one direction.

The same weights are applied at every step, so the expensive parts are hoisted
out of the time loop: the caller computes the input projection of all T steps
as one matmul, and the weight gradients are one matmul each after the backward
loop, over the per-step deltas stacked in (T, B, G*H) arrays. Inside the loops
there is only the recurrent matmul (h_{t-1} W_hh^T forward, d_hh W_hh backward)
and the cell's gate math (minirnn.gates), written into buffers made once per call.
The backward's local derivatives (sigma', tanh', and what multiplies them) depend on
the forward alone, so on NumPy the gate math takes them for a block of steps at once
(prepare_backward, see PREPARE_BYTES): NumPy pays per call as much as per element at
RNN sizes, and each step of the loop is left with only the products by the incoming
gradient.

Those buffers can also outlive the call: a caller that passes the same
``workspace`` dict to every forward (the sequence layers keep one per thread,
layer and direction) gets the same arrays back each time. Fresh arrays of several MiB
cost more than their size suggests: the kernel hands them over one zeroed page
at a time, which took up to a third of a step at T=8, B=512. The arrays of a
workspace belong to the latest forward and its backward only.

Its reference implementation, the same loops written plainly, is minirnn/reference/sequence.py.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..core import backend


class UnrollCache(NamedTuple):
    """What :func:`unroll_backward` needs from its :func:`unroll_forward`.

    gate_math: the cell kind's (minirnn.gates.GateMath).
    gates: (T, B, G*H) the gate values of every step (the forward wrote them over x_proj).
    states: tuple of (T+1, B, H), one per state, index 0 the initial state.
    saved: (T, B, n_saved*H) what the gate math kept for its backward, or None.
    mask, ended: (T, B, 1) bool, a step is real / past its sequence's end; None without lengths.
    """
    gate_math: Any
    gates: Any
    states: tuple
    saved: Any
    weight_hh: Any
    mask: Any
    ended: Any
    workspace: dict | None


class LayerCache(NamedTuple):
    """What :func:`layer_backward` needs from its :func:`layer_forward`: the unroll's cache and the input side."""
    unroll: UnrollCache
    x: Any
    weight_ih: Any
    has_bias_ih: bool
    has_bias_hh: bool
    reverse: bool
    reverse_index: Any


# The backward prepares its local derivatives for a block of steps at a time, just before the
# loop reaches them: as many steps as keep the block's gate arrays within about half an L2
# cache. Small steps then share one call per array, and a large step's arrays are still in
# the cache when the loop multiplies them.
PREPARE_BYTES = 256 * 1024


def buffer(workspace, name: str, shape, dtype, xp):
    """An uninitialised array for this call: ``workspace[name]`` when it has this shape and type, else new."""
    if workspace is None:
        return xp.empty(shape, dtype=dtype)
    array = workspace.get(name)
    if array is None or array.shape != shape or array.dtype != dtype or backend.array_module(array) is not xp:
        array = workspace[name] = xp.empty(shape, dtype=dtype)
    return array


def _gate_math_buffers(gate_math, workspace, T: int, B: int, H: int, dtype, xp):
    """The arrays the gate math asks for: saved (T, B, n_saved H) or None, and the (B, k H) scratch buffers."""
    saved = buffer(workspace, "saved", (T, B, gate_math.n_saved * H), dtype, xp) if gate_math.n_saved else None
    scratch = tuple(buffer(workspace, f"scratch_{i}", (B, k * H), dtype, xp)
                    for i, k in enumerate(gate_math.scratch_widths))
    return saved, scratch


def _rows(array, start, stop=None):
    """array[start] (stop None) or array[start:stop]; None for no array (a gate math that keeps none)."""
    if array is None:
        return None
    return array[start] if stop is None else array[start:stop]


def unroll_forward(gate_math, x_proj, weight_hh, bias_hh, state0, mask=None, workspace=None):
    """Run a cell of ``gate_math`` over T steps.

    x_proj: (T, B, G*H) input pre-activations W_ih x_t + b_ih (+ b_hh when
        gate_math.shares_gate_grads), owned by this call: each step overwrites its
        pre-activations with the gate values the backward needs (the cache's ``gates``).
    weight_hh: (G*H, H); bias_hh: (G*H,) added per step, or None.
    state0: tuple of (B, H) initial states, h first.
    mask: (T, B, 1) bool, False past each sequence's end, or None (all steps real).
        A masked step leaves the state unchanged.
    workspace: a dict whose arrays this call and its backward may reuse, or None.
    Returns (states, cache): states is a tuple of (T+1, B, H) arrays with the
    initial state at index 0, so states[0][1:] are the outputs h_1..h_T; cache an
    :class:`UnrollCache`.
    """
    xp = backend.array_module(x_proj)
    T, B, GH = x_proj.shape
    H = weight_hh.shape[1]
    dtype = x_proj.dtype
    states = tuple(buffer(workspace, f"state_{name}", (T + 1, B, H), dtype, xp)
                   for name in gate_math.state_names)
    for store, s0 in zip(states, state0):
        store[0] = s0
    saved, scratch = _gate_math_buffers(gate_math, workspace, T, B, H, dtype, xp)
    hh = buffer(workspace, "hh", (B, GH), dtype, xp)
    # W_hh^T laid out contiguously, once per call: the BLAS multiplies a (B, H) by a plain
    # (H, G*H) matrix 20-70% faster than by a transposed view at the batch sizes of RNNs.
    weight_hh_t = xp.ascontiguousarray(weight_hh.T)
    ended = None if mask is None else ~mask
    step_forward, _, _ = gate_math.step_functions(xp)
    gates = x_proj                                         # each step turns its pre-activations into gate values
    steps = list(zip(*states))                             # steps[t]: the state tuple at t, as views
    for t in range(T):
        prev, out = steps[t], steps[t + 1]
        xp.matmul(prev[0], weight_hh_t, out=hh)            # the one matmul that must stay in the loop
        if bias_hh is not None:
            hh += bias_hh
        step_forward(gates[t], hh, prev, out, _rows(saved, t), scratch)
        if mask is not None:                               # finished sequences keep their last state
            for s_prev, s_out in zip(prev, out):
                xp.copyto(s_out, s_prev, where=ended[t])
    return states, UnrollCache(gate_math, gates, states, saved, weight_hh, mask, ended, workspace)


def unroll_backward(cache: UnrollCache, d_outputs, d_final):
    """Backpropagation through time for one :func:`unroll_forward`.

    d_outputs: (T, B, H) dL/dh_t from above (zero past each sequence's end), or None.
    d_final: tuple of (B, H) or None, dL/d(final state) for each state.
    Returns (d_x_proj, d_state0, d_weight_hh, d_bias_hh): d_x_proj (T, B, G*H) is
    dL/d(input pre-activations); d_state0 a tuple of (B, H) (arrays of the forward's
    workspace, when it had one: copy them to keep them); d_bias_hh is the sum
    of the recurrent pre-activation gradients (equal to that of the gates when
    gate_math.shares_gate_grads).
    """
    gate_math, gates, states, saved = cache.gate_math, cache.gates, cache.states, cache.saved
    weight_hh = cache.weight_hh
    mask, ended, workspace = cache.mask, cache.ended, cache.workspace
    xp = backend.array_module(gates)
    T, B, GH = gates.shape
    H, dtype = weight_hh.shape[1], gates.dtype
    d_gates = buffer(workspace, "d_gates", gates.shape, dtype, xp)
    d_hh = d_gates if gate_math.shares_gate_grads else buffer(workspace, "d_hh", gates.shape, dtype, xp)
    d_state = []                                       # running dL/d(state_t), carried backwards
    for name, d in zip(gate_math.state_names, d_final):
        d_state.append(buffer(workspace, f"d_state_{name}", (B, H), dtype, xp))
        if d is None:
            d_state[-1].fill(0)
        else:
            d_state[-1][...] = d
    _, scratch = _gate_math_buffers(gate_math, workspace, T, B, H, dtype, xp)
    skipped = (tuple(buffer(workspace, f"skipped_{name}", (B, H), dtype, xp) for name in gate_math.state_names)
               if mask is not None else None)
    _, prepare_backward, step_backward = gate_math.step_functions(xp)
    prepared = (buffer(workspace, "prepared", (T, B, gate_math.n_prepared * H), dtype, xp)
                if prepare_backward is not None and gate_math.n_prepared else None)
    block = max(1, PREPARE_BYTES // (B * GH * gates.itemsize))
    ready = T                                              # steps ready..T-1 have their local derivatives
    steps = list(zip(*states))
    for t in reversed(range(T)):
        if prepare_backward is not None and t < ready:     # steps first..t, one call per array
            first = max(0, t + 1 - block)
            prepare_backward(gates[first:t + 1], tuple(store[first:t + 2] for store in states),
                             _rows(saved, first, t + 1), _rows(prepared, first, t + 1), d_gates[first:t + 1],
                             d_hh[first:t + 1])
            ready = first
        if d_outputs is not None:
            d_state[0] += d_outputs[t]
        if mask is not None:                               # a masked step passed its state on unchanged
            for ds, ds_skip in zip(d_state, skipped):
                xp.multiply(ds, ended[t], out=ds_skip)
                ds *= mask[t]
        d_direct = step_backward(d_state, gates[t], steps[t], steps[t + 1], _rows(saved, t), _rows(prepared, t),
                                 d_gates[t], d_hh[t], scratch)
        xp.matmul(d_hh[t], weight_hh, out=d_state[0])     # dL/dh_{t-1} = d_hh W_hh (+ the direct path)
        if d_direct is not None:
            d_state[0] += d_direct
        if mask is not None:
            for ds, ds_skip in zip(d_state, skipped):
                ds += ds_skip
    # The weights are shared by every step: their gradient is one matmul over all (t, b) rows.
    d_hh_rows = d_hh.reshape(T * B, GH)
    d_weight_hh = d_hh_rows.T @ states[0][:-1].reshape(T * B, H)   # sum_t d_hh_t^T h_{t-1}
    d_bias_hh = d_hh_rows.sum(axis=0)
    return d_gates, tuple(d_state), d_weight_hh, d_bias_hh


def reverse_time(a, reverse_index=None):
    """a (T, B, ...) with each sequence's steps in reverse order.

    Without lengths this is a[::-1] (a view). With lengths, reverse_index (T, B)
    maps step t of sequence b to lengths[b] - 1 - t inside the sequence and
    leaves the padding in place, so the reverse direction starts at each
    sequence's own last step; applying it twice gives ``a`` back.
    """
    if reverse_index is None:
        return a[::-1]
    xp = backend.array_module(a)
    return a[reverse_index, xp.arange(a.shape[1])]


def layer_forward(gate_math, x, weight_ih, weight_hh, bias_ih, bias_hh, state0,
                  mask=None, reverse=False, reverse_index=None, workspace=None):
    """One layer, one direction: the input projection of all steps, then the cell unrolled over them.

    x: (T, B, I) in the sequence's own time order; weight_ih (G*H, I), weight_hh
    (G*H, H), biases (G*H,) or None; state0 a tuple of (B, H); mask (T, B, 1) bool
    or None; reverse: run from the last step to the first (reverse_index as in
    :func:`reverse_time` when the sequences have lengths); workspace as in
    :func:`unroll_forward`.
    Returns (h_out, final_state, cache): h_out (T, B, H) in x's time order (a view
    of the cache: copy it before handing it out), final_state a tuple of (B, H)
    views, cache a :class:`LayerCache`.
    """
    T, B, I = x.shape
    # All T input projections in one matmul, over (T*B, I) rows: a 3-D operand would make
    # NumPy call the BLAS once per step, several times slower.
    xp = backend.array_module(x)
    GH = weight_ih.shape[0]
    x_proj = xp.matmul(x.reshape(T * B, I), weight_ih.T,
                       out=buffer(workspace, "x_proj", (T * B, GH), x.dtype, xp)).reshape(T, B, GH)
    if bias_ih is not None:
        x_proj += bias_ih
    if bias_hh is not None and gate_math.shares_gate_grads:  # b_hh only adds to the gates: add it once here
        x_proj += bias_hh
    if reverse:
        x_proj = xp.ascontiguousarray(reverse_time(x_proj, reverse_index))
    step_bias = None if gate_math.shares_gate_grads else bias_hh
    states, cache = unroll_forward(gate_math, x_proj, weight_hh, step_bias, state0, mask, workspace)
    h_out = states[0][1:]
    if reverse:
        h_out = reverse_time(h_out, reverse_index)
    final = tuple(store[-1] for store in states)
    return h_out, final, LayerCache(cache, x, weight_ih, bias_ih is not None, bias_hh is not None,
                                    reverse, reverse_index)


def layer_backward(cache: LayerCache, d_h_out, d_final):
    """Backward of :func:`layer_forward`.

    d_h_out: (T, B, H) dL/dh in x's time order, or None; d_final a tuple of (B, H) or None.
    Returns (dx, d_state0, grads) with grads = (dW_ih, dW_hh, db_ih, db_hh); the
    biases' entries are None when the layer has none.
    """
    if cache.reverse and d_h_out is not None:
        d_h_out = reverse_time(d_h_out, cache.reverse_index)
    d_x_proj, d_state0, d_weight_hh, d_bias_hh = unroll_backward(cache.unroll, d_h_out, d_final)
    if cache.reverse:                                      # back to x's time order; the sums below
        d_x_proj = reverse_time(d_x_proj, cache.reverse_index)  # are over all (t, b) rows either way
    x = cache.x
    GH = d_x_proj.shape[-1]
    d_rows = d_x_proj.reshape(-1, GH)
    d_weight_ih = d_rows.T @ x.reshape(-1, x.shape[-1])  # sum_t d_x_proj_t^T x_t, one matmul
    d_bias_ih = None
    if cache.has_bias_ih:                                # where b_hh only adds to the gates, both biases
        shared = cache.unroll.gate_math.shares_gate_grads  # have one gradient: it is summed once
        d_bias_ih = d_bias_hh if shared else d_rows.sum(axis=0)
    dx = (d_rows @ cache.weight_ih).reshape(x.shape)     # dL/dx_t = d_x_proj_t W_ih, one 2-D matmul
    return dx, d_state0, (d_weight_ih, d_weight_hh, d_bias_ih, d_bias_hh if cache.has_bias_hh else None)
