"""The LSTM cell, with torch's equations and gate order (i, f, g, o):

    i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

where a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh is split into four blocks of H.
The forward overwrites each pre-activation block with its activation, and keeps
tanh(c_t), so that the backward uses only outputs: sigma' = s (1 - s), tanh' = 1 - y^2.
"""
from __future__ import annotations

from .. import backend
from ..ops.activations import sigmoid
from .base import Cell


def _blocks(gates):
    """The four (B, H) views i, f, g, o of a (B, 4H) gate array."""
    H = gates.shape[1] // 4
    return gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]


def lstm_forward(gates, hh, prev, out, saved, scratch):
    xp = backend.array_module(gates)
    (h_prev, c_prev), (h, c), tanh_c, (ig,) = prev, out, saved, scratch
    H = h.shape[1]
    gates += hh                                        # a = W_ih x + b + W_hh h_{t-1}
    i, f, g, o = _blocks(gates)
    sigmoid(gates[:, :2 * H], out=gates[:, :2 * H])   # i, f = sigma(a_i), sigma(a_f)
    xp.tanh(g, out=g)                                  # g = tanh(a_g)
    sigmoid(o, out=o)                                  # o = sigma(a_o)
    xp.multiply(f, c_prev, out=c)
    xp.multiply(i, g, out=ig)
    c += ig                                            # c_t = f c_{t-1} + i g
    xp.tanh(c, out=tanh_c)
    xp.multiply(o, tanh_c, out=h)                      # h_t = o tanh(c_t)


def lstm_backward(d_state, gates, prev, out, saved, d_gates, d_hh, scratch):
    xp = backend.array_module(gates)
    (h_prev, c_prev), (dh, dc), tanh_c, (work,) = prev, d_state, saved, scratch
    i, f, g, o = _blocks(gates)
    di, df, dg, do = _blocks(d_gates)
    xp.multiply(dh, tanh_c, out=do)                    # dL/do = dh tanh(c_t)
    xp.multiply(tanh_c, tanh_c, out=work)
    xp.subtract(1, work, out=work)
    work *= o
    work *= dh
    dc += work                                         # dL/dc_t = dc_next + dh o (1 - tanh^2 c_t)
    xp.multiply(dc, g, out=di)                         # dL/di = dc_t g
    xp.multiply(dc, c_prev, out=df)                    # dL/df = dc_t c_{t-1}
    xp.multiply(dc, i, out=dg)                         # dL/dg = dc_t i
    dc *= f                                            # dL/dc_{t-1} = dc_t f   (left in d_state)
    for s, ds in ((i, di), (f, df), (o, do)):          # dL/da = dL/ds * s (1 - s) for the sigmoids
        xp.subtract(1, s, out=work)
        work *= s
        ds *= work
    xp.multiply(g, g, out=work)                        # dL/da_g = dL/dg (1 - g^2)
    xp.subtract(1, work, out=work)
    dg *= work
    return None


LSTM_CELL = Cell("lstm", n_gates=4, state_names=("h", "c"), n_saved=1, n_scratch=1,
                 shares_gate_grads=True, forward=lstm_forward, backward=lstm_backward)
