"""The GRU cell, with torch's equations and gate order (r, z, n):

    r = sigma(W_ir x + b_ir + W_hr h_{t-1} + b_hr)
    z = sigma(W_iz x + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

The reset gate multiplies the recurrent part of n, so unlike the RNN and the
LSTM the gradient of the recurrent pre-activation differs from the gate
gradient in the n block (it carries the factor r), and h_{t-1} also reaches
h_t directly through z. The forward keeps hn = W_hn h_{t-1} + b_hn for the backward.

Its twin, the same step written plainly, is minirnn/reference/gru.py.
"""
from __future__ import annotations

from ..core import backend
from ..ops.activations import sigmoid
from . import kernels
from .base import Cell


def _blocks(gates):
    """The three (B, H) views r, z, n of a (B, 3H) gate array."""
    H = gates.shape[1] // 3
    return gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]


def gru_forward(gates, hh, prev, out, saved, scratch):
    xp = backend.array_module(gates)
    (h_prev,), (h,), hn = prev, out, saved
    H = h.shape[1]
    r, z, n = _blocks(gates)
    gates[:, :2 * H] += hh[:, :2 * H]
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # r, z = sigma(W_i x + b_i + W_h h + b_h)
    hn[...] = hh[:, 2 * H:]                            # keep W_hn h_{t-1} + b_hn for the backward
    xp.multiply(r, hn, out=h)                          # h holds r hn until h_t is written below
    n += h
    xp.tanh(n, out=n)                                  # n = tanh(W_in x + b_in + r hn)
    xp.subtract(h_prev, n, out=h)
    h *= z
    h += n                                             # h_t = n + z (h_{t-1} - n)


def gru_backward(d_state, gates, prev, out, saved, d_gates, d_hh, scratch):
    xp = backend.array_module(gates)
    (h_prev,), (dh,), hn, (work, dh_direct) = prev, d_state, saved, scratch
    H = dh.shape[1]
    r, z, n = _blocks(gates)
    dr, dz, dn = _blocks(d_gates)
    dhn = d_hh[:, 2 * H:]
    xp.multiply(dh, z, out=dh_direct)                  # dL/dh_{t-1} through z, bypassing W_hh
    xp.subtract(dh, dh_direct, out=dn)                 # dL/dn = dh (1 - z)
    xp.multiply(dn, n, out=work)
    work *= n
    dn -= work                                         # dL/da_n = dL/dn (1 - n^2)
    xp.multiply(dn, r, out=dhn)                        # dL/dhn = dL/da_n r
    xp.multiply(dn, hn, out=dr)                        # dL/dr = dL/da_n hn
    xp.subtract(h_prev, n, out=dz)
    dz *= dh                                           # dL/dz = dh (h_{t-1} - n)
    # r and z are contiguous: both sigmoid derivatives at once, over (B, 2H), built in
    # d_hh's r, z block, which gets its final value (the same gradient) right after.
    rz, d_rz, d_hh_rz = gates[:, :2 * H], d_gates[:, :2 * H], d_hh[:, :2 * H]
    xp.subtract(1, rz, out=d_hh_rz)
    d_hh_rz *= rz
    d_rz *= d_hh_rz                                    # dL/da = dL/ds * s (1 - s)
    d_hh_rz[...] = d_rz                                # r and z see x and h through one sum
    return dh_direct


GRU_CELL = Cell("gru", n_gates=3, state_names=("h",), n_saved=1, scratch_widths=(1, 1),
                shares_gate_grads=False, forward=gru_forward, backward=gru_backward,
                gpu_forward=kernels.gru_forward, gpu_backward=kernels.gru_backward)
