"""The optimized cells held against a plain reference implementation, to float64 precision.

The reference below is the specification: each cell's step forward and backward
written straight from its equations in float64 NumPy, with new arrays on every
line, the sigmoid as 1 / (1 + e^-a) and the derivatives taken from the
pre-activations. The sequence layer (minirnn.layers.unroll), with its hoisted
matmuls, in-place gate math and reused buffers, must give the same outputs and
gradients over any shapes hypothesis draws.
"""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

from minirnn.core import backend
from minirnn.cells import GRU_CELL, LSTM_CELL, RNN_RELU_CELL, RNN_TANH_CELL
from minirnn.layers import GRU, LSTM, RNN
from minirnn.layers.unroll import layer_backward, layer_forward

CELLS = {"rnn_tanh": RNN_TANH_CELL, "rnn_relu": RNN_RELU_CELL, "lstm": LSTM_CELL, "gru": GRU_CELL}
TOLERANCE = 1e-12


# -- the reference: one step of each cell, forward and backward ------------------------------------
def sigmoid(a):
    return 1.0 / (1.0 + numpy.exp(-a))


def rnn_step(x, state, p, act):
    """h = act(W_ih x + b_ih + W_hh h_prev + b_hh). Returns the new state and the cache."""
    (h_prev,) = state
    a = x @ p["W_ih"].T + p["b_ih"] + h_prev @ p["W_hh"].T + p["b_hh"]
    h = numpy.tanh(a) if act == "tanh" else numpy.maximum(a, 0.0)
    return (h,), (x, h_prev, a)


def rnn_step_back(d_state, cache, p, act):
    """Gradients of one Elman step: (dx, d_state_prev, {param: grad})."""
    (dh,), (x, h_prev, a) = d_state, cache
    da = dh * (1.0 - numpy.tanh(a) ** 2) if act == "tanh" else dh * (a > 0)
    grads = {"W_ih": da.T @ x, "W_hh": da.T @ h_prev, "b_ih": da.sum(0), "b_hh": da.sum(0)}
    return da @ p["W_ih"], (da @ p["W_hh"],), grads


def lstm_step(x, state, p):
    """torch's LSTM step, gates in the order i, f, g, o."""
    h_prev, c_prev = state
    a = x @ p["W_ih"].T + p["b_ih"] + h_prev @ p["W_hh"].T + p["b_hh"]
    a_i, a_f, a_g, a_o = numpy.split(a, 4, axis=1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), numpy.tanh(a_g), sigmoid(a_o)
    c = f * c_prev + i * g
    h = o * numpy.tanh(c)
    return (h, c), (x, h_prev, c_prev, a, c)


def lstm_step_back(d_state, cache, p):
    (dh, dc_next), (x, h_prev, c_prev, a, c) = d_state, cache
    a_i, a_f, a_g, a_o = numpy.split(a, 4, axis=1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), numpy.tanh(a_g), sigmoid(a_o)
    dc = dc_next + dh * o * (1.0 - numpy.tanh(c) ** 2)
    d_a_i = dc * g * i * (1.0 - i)
    d_a_f = dc * c_prev * f * (1.0 - f)
    d_a_g = dc * i * (1.0 - g ** 2)
    d_a_o = dh * numpy.tanh(c) * o * (1.0 - o)
    da = numpy.concatenate([d_a_i, d_a_f, d_a_g, d_a_o], axis=1)
    grads = {"W_ih": da.T @ x, "W_hh": da.T @ h_prev, "b_ih": da.sum(0), "b_hh": da.sum(0)}
    return da @ p["W_ih"], (da @ p["W_hh"], dc * f), grads


def gru_step(x, state, p):
    """torch's GRU step, gates in the order r, z, n."""
    (h_prev,) = state
    ax = x @ p["W_ih"].T + p["b_ih"]
    ah = h_prev @ p["W_hh"].T + p["b_hh"]
    ax_r, ax_z, ax_n = numpy.split(ax, 3, axis=1)
    ah_r, ah_z, ah_n = numpy.split(ah, 3, axis=1)
    r, z = sigmoid(ax_r + ah_r), sigmoid(ax_z + ah_z)
    n = numpy.tanh(ax_n + r * ah_n)
    h = (1.0 - z) * n + z * h_prev
    return (h,), (x, h_prev, r, z, n, ah_n)


def gru_step_back(d_state, cache, p):
    (dh,), (x, h_prev, r, z, n, ah_n) = d_state, cache
    dn = dh * (1.0 - z)
    d_a_n = dn * (1.0 - n ** 2)
    d_a_r = d_a_n * ah_n * r * (1.0 - r)
    d_a_z = dh * (h_prev - n) * z * (1.0 - z)
    dax = numpy.concatenate([d_a_r, d_a_z, d_a_n], axis=1)          # w.r.t. W_ih x + b_ih
    dah = numpy.concatenate([d_a_r, d_a_z, d_a_n * r], axis=1)      # w.r.t. W_hh h_prev + b_hh
    grads = {"W_ih": dax.T @ x, "W_hh": dah.T @ h_prev, "b_ih": dax.sum(0), "b_hh": dah.sum(0)}
    return dax @ p["W_ih"], (dah @ p["W_hh"] + dh * z,), grads


REFERENCE = {
    "rnn_tanh": (lambda x, s, p: rnn_step(x, s, p, "tanh"), lambda d, c, p: rnn_step_back(d, c, p, "tanh")),
    "rnn_relu": (lambda x, s, p: rnn_step(x, s, p, "relu"), lambda d, c, p: rnn_step_back(d, c, p, "relu")),
    "lstm": (lstm_step, lstm_step_back),
    "gru": (gru_step, gru_step_back),
}


def reference_sequence(name, x, state0, p, d_hs, d_final):
    """Forward over T steps, then backpropagation through time, one step at a time.

    Returns (hs (T, B, H), final state, dx (T, B, I), d_state0, {param: grad}).
    """
    step, step_back = REFERENCE[name]
    state, caches, hs = state0, [], []
    for x_t in x:
        state, cache = step(x_t, state, p)
        caches.append(cache)
        hs.append(state[0])
    grads = {k: numpy.zeros_like(v) for k, v in p.items()}
    d_state, dx = tuple(d.copy() for d in d_final), numpy.zeros_like(x)
    for t in reversed(range(len(x))):
        d_state = (d_state[0] + d_hs[t],) + d_state[1:]
        dx[t], d_state, step_grads = step_back(d_state, caches[t], p)
        for k in grads:
            grads[k] += step_grads[k]
    return numpy.stack(hs), state, dx, d_state, grads


# -- the optimized cells against it ------------------------------------------------------------------
def random_problem(name, T, B, I, H, seed):
    rng = numpy.random.default_rng(seed)
    G = CELLS[name].n_gates
    p = {"W_ih": rng.uniform(-0.7, 0.7, (G * H, I)), "W_hh": rng.uniform(-0.7, 0.7, (G * H, H)),
         "b_ih": rng.uniform(-0.5, 0.5, G * H), "b_hh": rng.uniform(-0.5, 0.5, G * H)}
    n_states = len(CELLS[name].state_names)
    x = rng.standard_normal((T, B, I))
    state0 = tuple(rng.standard_normal((B, H)) for _ in range(n_states))
    d_hs = rng.standard_normal((T, B, H))
    d_final = tuple(rng.standard_normal((B, H)) for _ in range(n_states))
    return x, state0, p, d_hs, d_final


def weights(p):
    """The parameters in layer_forward's order: W_ih, W_hh, b_ih, b_hh."""
    return p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"]


def assert_close(got, want, what):
    error = numpy.max(numpy.abs(got - want)) if numpy.size(want) else 0.0
    assert error <= TOLERANCE * max(1.0, numpy.max(numpy.abs(want))), f"{what}: max error {error:.3g}"


shapes = st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(1, 7),
                   st.integers(0, 2 ** 32 - 1))


@pytest.mark.parametrize("name", sorted(CELLS))
@settings(max_examples=25, deadline=None)
@given(shape=shapes, reverse=st.booleans(), reuse=st.booleans())
def test_optimized_cell_matches_reference(name, shape, reverse, reuse):
    T, B, I, H, seed = shape
    x, state0, p, d_hs, d_final = random_problem(name, T, B, I, H, seed)
    workspace = {} if reuse else None
    if reuse:    # a first forward and backward of another problem leaves its values in the buffers
        other = random_problem(name, T, B, I, H, seed + 1)
        _, _, other_cache = layer_forward(CELLS[name], other[0], *weights(other[2]), other[1], workspace=workspace)
        layer_backward(other_cache, other[3], other[4])
    # The reverse direction is the forward one over the time-reversed sequence.
    order = slice(None, None, -1) if reverse else slice(None)
    hs, final, dx, d_state0, grads = reference_sequence(name, x[order], state0, p, d_hs[order], d_final)

    h_out, got_final, cache = layer_forward(CELLS[name], x, *weights(p), tuple(s.copy() for s in state0),
                                            reverse=reverse, workspace=workspace)
    assert_close(h_out, hs[order], "outputs")
    for got, want in zip(got_final, final):
        assert_close(got, want, "final state")
    got_dx, got_d_state0, got_grads = layer_backward(cache, d_hs, d_final)
    assert_close(got_dx, dx[order], "dx")
    for got, want in zip(got_d_state0, d_state0):
        assert_close(got, want, "d_state0")
    for key, got in zip(("W_ih", "W_hh", "b_ih", "b_hh"), got_grads):
        assert_close(got, grads[key], f"d{key}")


@pytest.mark.parametrize("layer_class", [RNN, LSTM, GRU])
def test_float32_layer_computes_in_float32(layer_class):
    """No silent upcast: a float32 layer's outputs, state and gradients all stay float32."""
    layer = layer_class(3, 5, seed=0)
    x = numpy.random.default_rng(0).standard_normal((4, 2, 3)).astype(numpy.float32)
    out, state = layer.forward(x)
    dx, d_state = layer.backward(numpy.ones_like(out))
    arrays = [out, dx, *layer.grads.values()]
    arrays += list(state) + list(d_state) if layer_class is LSTM else [state, d_state]
    assert {a.dtype for a in arrays} == {numpy.dtype(numpy.float32)}


@pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("name", sorted(CELLS))
def test_gpu_kernels_match_numpy_cells(name):
    """On CuPy each cell runs as fused kernels; they must agree with the NumPy path."""
    import cupy
    T, B, I, H = 5, 3, 4, 7
    x, state0, p, d_hs, d_final = random_problem(name, T, B, I, H, seed=1)
    on_gpu = lambda a: cupy.asarray(a)  # noqa: E731
    results = []
    for move in (lambda a: a, on_gpu):
        h_out, final, cache = layer_forward(CELLS[name], move(x), *(move(w) for w in weights(p)),
                                            tuple(move(s) for s in state0))
        dx, d_state0, grads = layer_backward(cache, move(d_hs), tuple(move(d) for d in d_final))
        results.append([backend.to_host(a) for a in (h_out, *final, dx, *d_state0, *grads)])
    for got, want in zip(results[1], results[0]):
        assert_close(got, want, "GPU vs NumPy")
