"""The cells' gate math as fused CuPy kernels: one kernel per step forward, one backward.

On a GPU a chain of NumPy-style operations is a chain of kernel launches, each
reading and writing the whole gate array; here each cell's step is a single
``cupy.ElementwiseKernel`` over the (B, H) units, reading each unit's G gate
values once and writing each result once. The math is line for line that of the
cells' NumPy lines in rnn.py, lstm.py and gru.py (same signatures, same buffers), which
the tests hold them against: a backward kernel first takes its step's local
derivatives, under the names and in the order of the NumPy prepare_backward, then makes
the products of the NumPy backward. The one difference is when the first half runs:
NumPy takes it for a block of steps at once (one call per array), a kernel for its own
step, since a GPU pays little per launch; so the kernels get no ``prepared`` array.
Nothing here returns a value to the host, so the time loop never waits for the GPU.

A unit (b, j) finds its gate k at ``row + k H`` with ``row = b G H + j``: the gate,
pre-activation and gradient arrays of one step are C-contiguous (B, G H) views of
the sequence layer's (T, B, G H) buffers. CuPy is imported, and each kernel
compiled, on first use only.
"""
from __future__ import annotations

from functools import lru_cache

_PREAMBLE = """
template <typename T> __device__ T sigmoid(T a) { return T(1) / (T(1) + exp(-a)); }
"""

# name: (inputs, outputs, body). "raw" arrays are indexed by hand (the G gates of a unit);
# the others are (B, H) and indexed by the unit, i.
_SOURCES = {
    "rnn_tanh_forward": ("T a_x, T a_h", "T h", "h = tanh(a_x + a_h);"),            # h = tanh(a)
    "rnn_tanh_backward": ("T h, T dh", "T da", """
        const T dh_da = T(1) - h * h;                                    // dh_t/da_t = tanh'(a_t) = 1 - h_t^2
        da = dh * dh_da;                                                 // dL/da_t = dL/dh_t dh_t/da_t
    """),
    "rnn_relu_forward": ("T a_h", "T a, T h", "a += a_h; h = a > T(0) ? a : T(0);"),  # h = max(a, 0)
    "rnn_relu_backward": ("T h, T dh", "T da", """
        const T dh_da = h > T(0) ? T(1) : T(0);                          // dh_t/da_t = relu'(a_t) = [h_t > 0]
        da = dh * dh_da;                                                 // dL/da_t = dL/dh_t dh_t/da_t
    """),
    "lstm_forward": ("raw T hh, T c_prev, int32 H", "raw T gates, T c, T h, T tanh_c", """
        const ptrdiff_t row = (ptrdiff_t)(i / H) * 4 * H + i % H;
        const T in_gate = sigmoid(gates[row] + hh[row]);                 // i = sigma(a_i)
        const T forget = sigmoid(gates[row + H] + hh[row + H]);          // f = sigma(a_f)
        const T cand = tanh(gates[row + 2 * H] + hh[row + 2 * H]);       // g = tanh(a_g)
        const T out_gate = sigmoid(gates[row + 3 * H] + hh[row + 3 * H]);  // o = sigma(a_o)
        gates[row] = in_gate; gates[row + H] = forget; gates[row + 2 * H] = cand; gates[row + 3 * H] = out_gate;
        c = forget * c_prev + in_gate * cand;                            // c_t = f c_{t-1} + i g
        tanh_c = tanh(c);
        h = out_gate * tanh_c;                                           // h_t = o tanh(c_t)
    """),
    "lstm_backward": ("raw T gates, T c_prev, T tanh_c, T dh, int32 H", "raw T d_gates, T dc", """
        const ptrdiff_t row = (ptrdiff_t)(i / H) * 4 * H + i % H;
        const T in_gate = gates[row], forget = gates[row + H], cand = gates[row + 2 * H], out_gate = gates[row + 3 * H];
        const T dc_da_i = cand * (in_gate * (T(1) - in_gate));           // dc_t/da_i = g sigma'(a_i)
        const T dc_da_f = c_prev * (forget * (T(1) - forget));           // dc_t/da_f = c_{t-1} sigma'(a_f)
        const T dc_da_g = in_gate * (T(1) - cand * cand);                // dc_t/da_g = i tanh'(a_g)
        const T dh_da_o = tanh_c * (out_gate * (T(1) - out_gate));       // dh_t/da_o = tanh(c_t) sigma'(a_o)
        const T dh_dc = out_gate * (T(1) - tanh_c * tanh_c);             // dh_t/dc_t = o (1 - tanh^2 c_t)
        const T dc_t = dc + dh * dh_dc;                                  // dL/dc_t = dc_next + dL/dh_t dh_t/dc_t
        d_gates[row] = dc_t * dc_da_i;                                   // dL/da_i = dL/dc_t dc_t/da_i
        d_gates[row + H] = dc_t * dc_da_f;                               // dL/da_f = dL/dc_t dc_t/da_f
        d_gates[row + 2 * H] = dc_t * dc_da_g;                           // dL/da_g = dL/dc_t dc_t/da_g
        d_gates[row + 3 * H] = dh * dh_da_o;                             // dL/da_o = dL/dh_t dh_t/da_o
        dc = dc_t * forget;                                              // dL/dc_{t-1} = dL/dc_t f
    """),
    "gru_forward": ("raw T hh, T h_prev, int32 H", "raw T gates, T h, T r_hn", """
        const ptrdiff_t row = (ptrdiff_t)(i / H) * 3 * H + i % H;
        const T reset = sigmoid(gates[row] + hh[row]);                   // r = sigma(a_r)
        const T update = sigmoid(gates[row + H] + hh[row + H]);          // z = sigma(a_z)
        r_hn = reset * hh[row + 2 * H];                                  // r hn, hn = W_hn h_{t-1} + b_hn, kept
        const T cand = tanh(gates[row + 2 * H] + r_hn);                  // n = tanh(W_in x + b_in + r hn)
        gates[row] = reset; gates[row + H] = update; gates[row + 2 * H] = cand;
        h = cand + update * (h_prev - cand);                             // h_t = n + z (h_{t-1} - n)
    """),
    "gru_backward": ("raw T gates, T h_prev, T r_hn, T dh, int32 H", "raw T d_gates, raw T d_hh, T dh_direct", """
        const ptrdiff_t row = (ptrdiff_t)(i / H) * 3 * H + i % H;
        const T reset = gates[row], update = gates[row + H], cand = gates[row + 2 * H];
        const T dh_dz = h_prev - cand;                                   // dh_t/dz = h_{t-1} - n
        const T dh_da_n = (T(1) - update) * (T(1) - cand * cand);        // dh_t/da_n = (1 - z)(1 - n^2)
        const T dh_da_z = (T(1) - update) * update * dh_dz;              // dh_t/da_z = (h_{t-1} - n) z (1 - z)
        const T dan_dar = (T(1) - reset) * r_hn;                         // da_n/da_r = hn r (1 - r)
        const T da_n = dh * dh_da_n;                                     // dL/da_n = dL/dh_t dh_t/da_n
        const T da_z = dh * dh_da_z;                                     // dL/da_z = dL/dh_t dh_t/da_z
        const T da_r = da_n * dan_dar;                                   // dL/da_r = dL/da_n da_n/da_r
        d_gates[row] = da_r; d_gates[row + H] = da_z; d_gates[row + 2 * H] = da_n;
        d_hh[row] = da_r; d_hh[row + H] = da_z; d_hh[row + 2 * H] = da_n * reset;  // dL/dhn = dL/da_n r
        dh_direct = dh * update;                                         // dL/dh_{t-1} through z, bypassing W_hh
    """),
}


@lru_cache(maxsize=None)
def _kernel(name: str):
    import cupy
    inputs, outputs, body = _SOURCES[name]
    return cupy.ElementwiseKernel(inputs, outputs, body, f"minirnn_{name}", preamble=_PREAMBLE)


# -- the cells' forward and backward, with the signatures of their NumPy lines (prepared: None on CuPy) ---
def rnn_tanh_forward(gates, hh, prev, out, saved, scratch):
    _kernel("rnn_tanh_forward")(gates, hh, out[0])


def rnn_tanh_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    _kernel("rnn_tanh_backward")(out[0], d_state[0], d_gates)
    return None


def rnn_relu_forward(gates, hh, prev, out, saved, scratch):
    _kernel("rnn_relu_forward")(hh, gates, out[0])


def rnn_relu_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    _kernel("rnn_relu_backward")(out[0], d_state[0], d_gates)
    return None


def lstm_forward(gates, hh, prev, out, saved, scratch):
    (h, c), c_prev = out, prev[1]
    _kernel("lstm_forward")(hh, c_prev, h.shape[1], gates, c, h, saved)


def lstm_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    (dh, dc), c_prev = d_state, prev[1]
    _kernel("lstm_backward")(gates, c_prev, saved, dh, dh.shape[1], d_gates, dc)
    return None


def gru_forward(gates, hh, prev, out, saved, scratch):
    h = out[0]
    _kernel("gru_forward")(hh, prev[0], h.shape[1], gates, h, saved)


def gru_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
    dh, dh_direct = d_state[0], scratch[0]
    _kernel("gru_backward")(gates, prev[0], saved, dh, dh.shape[1], d_gates, d_hh, dh_direct)
    return dh_direct
