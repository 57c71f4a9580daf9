"""The GRU cell, with torch's equations and gate order (r, z, n):

    r = sigma(W_ir x + b_ir + W_hr h_{t-1} + b_hr)
    z = sigma(W_iz x + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

The reset gate multiplies the recurrent part of n, so unlike the RNN and the
LSTM the gradient of the recurrent pre-activation differs from the gate
gradient in the n block (it carries the factor r), and h_{t-1} also reaches
h_t directly through z. The forward keeps r hn, with hn = W_hn h_{t-1} + b_hn, for the backward.

Its reference implementation, the same step written plainly, is minirnn/reference/gru.py.
"""
from __future__ import annotations

from ..core import backend
from ..ops.activations import sigmoid
from . import kernels
from .base import GateMath


def _blocks(gates):
    """The three (..., H) views r, z, n of a (..., 3H) gate array."""
    H = gates.shape[-1] // 3
    return gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:]


def gru_forward(gates, hh, prev, out, saved, scratch):
    xp = backend.array_module(gates)
    (h_prev,), (h,), r_hn = prev, out, saved
    H = h.shape[1]
    r, z, n = _blocks(gates)
    gates[:, :2 * H] += hh[:, :2 * H]
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # r, z = sigma(W_i x + b_i + W_h h + b_h)
    xp.multiply(r, hh[:, 2 * H:], out=r_hn)            # r hn, hn = W_hn h_{t-1} + b_hn (kept for the backward)
    n += r_hn
    xp.tanh(n, out=n)                                  # n = tanh(W_in x + b_in + r hn)
    xp.subtract(h_prev, n, out=h)
    h *= z
    h += n                                             # h_t = n + z (h_{t-1} - n)


def gru_prepare_backward(gates, states, saved, prepared, d_gates, d_hh):
    xp = backend.array_module(gates)
    r, z, n = _blocks(gates)
    dr, dz, dn = _blocks(d_gates)
    r_hn, h_prev, dh_dz = saved, states[0][:-1], prepared
    xp.subtract(h_prev, n, out=dh_dz)                  # dh_t/dz = h_{t-1} - n
    xp.subtract(1, z, out=dz)
    xp.multiply(n, n, out=dn)
    xp.subtract(1, dn, out=dn)
    dn *= dz                                           # dh_t/da_n = (1 - z) tanh'(a_n) = (1 - z)(1 - n^2)
    dz *= z
    dz *= dh_dz                                        # dh_t/da_z = (h_{t-1} - n) z (1 - z)
    xp.subtract(1, r, out=dr)
    dr *= r_hn                                         # da_n/da_r = hn r (1 - r)   (r_hn = r hn)


def gru_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    xp = backend.array_module(gates)
    (dh,), (dh_direct,) = d_state, scratch
    H = dh.shape[1]
    r, z = gates[:, :H], gates[:, H:2 * H]
    dr, dz, dn = _blocks(d_gates)
    dn *= dh                                           # dL/da_n = dL/dh_t dh_t/da_n
    dz *= dh                                           # dL/da_z = dL/dh_t dh_t/da_z
    dr *= dn                                           # dL/da_r = dL/da_n da_n/da_r
    d_hh[:, :2 * H] = d_gates[:, :2 * H]               # r and z see x and h through one sum
    xp.multiply(dn, r, out=d_hh[:, 2 * H:])            # dL/dhn = dL/da_n r
    xp.multiply(dh, z, out=dh_direct)                  # dL/dh_{t-1} through z, bypassing W_hh
    return dh_direct


# saved: r hn; prepared: dh_t/dz = h_{t-1} - n; scratch: one (B, H) buffer, for dL/dh_{t-1} through z.
GRU_GATE_MATH = GateMath("gru", gates=("r", "z", "n"), state_names=("h",), n_saved=1, scratch_widths=(1,),
                         shares_gate_grads=False, forward=gru_forward, prepare_backward=gru_prepare_backward,
                         n_prepared=1, backward=gru_backward, gpu_forward=kernels.gru_forward,
                         gpu_backward=kernels.gru_backward)
