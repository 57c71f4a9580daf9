"""The LSTM cell, with torch's equations and gate order (i, f, g, o):

    i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

where a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh is split into four blocks of H.
The forward overwrites each pre-activation block with its activation, and keeps
tanh(c_t), so that the backward uses only outputs: sigma' = s (1 - s), tanh' = 1 - y^2.

Speed: at small and mid sizes the gate math costs a NumPy LSTM as much as its
matmuls, and that cost is mostly one pass over memory and one call per ufunc.
Since sigma(a) = 0.5 tanh(0.5 a) + 0.5,
all four activations are one tanh over the whole (B, 4H) gate array between a
per-column scale and offset, and all four derivatives are (y + lo) (1 - y) with
lo = 0 for a sigmoid and 1 for the tanh, taken for a block of steps at once as the
backward loop reaches them (prepare_backward); each step of that loop is then five
products by its gradient.

Its reference implementation, the same step written plainly, is minirnn/reference/lstm.py.
"""
from __future__ import annotations

from functools import lru_cache

from ..core import backend
from . import kernels
from .base import GateMath


def _blocks(gates):
    """The four (..., H) views i, f, g, o of a (..., 4H) gate array."""
    H = gates.shape[-1] // 4
    return gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]


@lru_cache(maxsize=16)
def gate_constants(H: int, dtype, xp):
    """Per-column (4H,) scale, offset, lo and 1 - lo: y = scale tanh(scale a) + offset; y' = (y + lo)(1 - y)."""
    scale, offset, lo, one_minus_lo = (xp.empty(4 * H, dtype=dtype) for _ in range(4))
    for block, (s, off) in enumerate(((0.5, 0.5), (0.5, 0.5), (1.0, 0.0), (0.5, 0.5))):   # i, f, g, o
        columns = slice(block * H, (block + 1) * H)
        scale[columns], offset[columns], lo[columns] = s, off, 1.0 - 2.0 * off
    one_minus_lo[...] = 1 - lo
    return scale, offset, lo, one_minus_lo


def lstm_forward(gates, hh, prev, out, saved, scratch):
    xp = backend.array_module(gates)
    (_, c_prev), (h, c), tanh_c, (ig,) = prev, out, saved, scratch
    scale, offset, _, _ = gate_constants(h.shape[1], gates.dtype, xp)
    gates += hh                                        # a = W_ih x + b + W_hh h_{t-1}
    gates *= scale                                     # i, f, g, o = sigma(a_i), sigma(a_f), tanh(a_g), sigma(a_o)
    xp.tanh(gates, out=gates)                          #   as 0.5 tanh(0.5 a) + 0.5 for the sigmoids,
    gates *= scale                                     #   all four gates in each pass
    gates += offset
    i, f, g, o = _blocks(gates)
    xp.multiply(f, c_prev, out=c)
    xp.multiply(i, g, out=ig)
    c += ig                                            # c_t = f c_{t-1} + i g
    xp.tanh(c, out=tanh_c)
    xp.multiply(o, tanh_c, out=h)                      # h_t = o tanh(c_t)


def lstm_prepare_backward(gates, states, saved, prepared, d_gates, d_hh):
    xp = backend.array_module(gates)
    _, _, lo, one_minus_lo = gate_constants(gates.shape[-1] // 4, gates.dtype, xp)
    i, f, g, o = _blocks(gates)
    di, df, dg, do = _blocks(d_gates)
    tanh_c, c_prev, dh_dc = saved, states[1][:-1], prepared
    xp.subtract(one_minus_lo, gates, out=d_gates)      # y' = (y + lo)(1 - y) = y (1 - lo - y) + lo, for all
    d_gates *= gates                                   #   four gates: s (1 - s) for i, f, o and 1 - g^2 for g
    d_gates += lo
    di *= g                                            # dc_t/da_i = g sigma'(a_i)
    df *= c_prev                                       # dc_t/da_f = c_{t-1} sigma'(a_f)
    dg *= i                                            # dc_t/da_g = i tanh'(a_g)
    do *= tanh_c                                       # dh_t/da_o = tanh(c_t) sigma'(a_o)
    xp.multiply(tanh_c, tanh_c, out=dh_dc)
    xp.subtract(1, dh_dc, out=dh_dc)
    dh_dc *= o                                         # dh_t/dc_t = o (1 - tanh^2 c_t)


def lstm_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    xp = backend.array_module(gates)
    (dh, dc), dh_dc, (work,) = d_state, prepared, scratch
    B, H = dh.shape
    f = gates[:, H:2 * H]
    xp.multiply(dh, dh_dc, out=work)
    dc += work                                         # dL/dc_t = dc_next + dL/dh_t dh_t/dc_t
    ifg = d_gates.reshape(B, 4, H)[:, :3]
    xp.multiply(ifg, dc[:, None, :], out=ifg)          # dL/da_i, dL/da_f, dL/da_g = dL/dc_t dc_t/da
    do = d_gates[:, 3 * H:]
    do *= dh                                           # dL/da_o = dL/dh_t dh_t/da_o
    dc *= f                                            # dL/dc_{t-1} = dL/dc_t f   (left in d_state)
    return None


# saved: tanh(c_t); prepared: dh_t/dc_t; scratch: one (B, H) buffer, for i g forward and the dL/dc term backward.
LSTM_GATE_MATH = GateMath("lstm", gates=("i", "f", "g", "o"), state_names=("h", "c"), n_saved=1,
                          scratch_widths=(1,), shares_gate_grads=True, forward=lstm_forward,
                          prepare_backward=lstm_prepare_backward, n_prepared=1, backward=lstm_backward,
                          gpu_forward=kernels.lstm_forward, gpu_backward=kernels.lstm_backward)
