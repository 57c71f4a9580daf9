"""The fast path held against the reference implementations (minirnn.reference), to float64 precision.

The reference implementations are the specification: each model written plainly, with fresh arrays on every line,
the sigmoid as 1 / (1 + e^-a) and a Python loop over t. The fast path, with its hoisted
matmuls, folded biases, in-place gate math, reused buffers and fused kernels, must give the
same outputs, final states and gradients over any shapes and options hypothesis draws.
"""
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirnn import reference
from minirnn.cell_kinds import CELL_KINDS, LAYERS, kind_of
from minirnn.core import backend
from minirnn.models import CharLoopModel, CharRNN

TOLERANCE = 1e-12


def assert_close(got, want, what):
    got, want = backend.to_host(got), numpy.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference implementation {want.shape}"
    error = numpy.max(numpy.abs(got - want)) if want.size else 0.0
    assert error <= TOLERANCE * max(1.0, numpy.max(numpy.abs(want))), f"{what}: max error {error:.3g}"


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def sequence_problem(name, T, B, I, H, layers, bidirectional, bias, seed):
    """A float64 fast model, an input, an initial state and the gradients of output and final state."""
    kind = CELL_KINDS[name]
    model = kind.build_layer(I, H, num_layers=layers, bidirectional=bidirectional, bias=bias, dtype="float64",
                             seed=seed)
    rng = numpy.random.default_rng(seed)
    LD, n_states = layers * (2 if bidirectional else 1), len(kind.state_names)
    x = rng.standard_normal((T, B, I))
    state0 = tuple(rng.standard_normal((LD, B, H)) for _ in range(n_states))
    d_output = rng.standard_normal((T, B, H * (2 if bidirectional else 1)))
    d_final = tuple(rng.standard_normal((LD, B, H)) for _ in range(n_states))
    return model, x, state0, d_output, d_final


def run_reference(name, state_dict, x, state0, d_output, d_final):
    """The reference implementation's (output, final state, dx, d_state0, grads) as tuples of states."""
    kind = CELL_KINDS[name]
    forward, backward = kind.reference_layer
    extra = tuple(kind.options.values())        # after the states: the RNN's nonlinearity
    output, final, runs = forward(x, state_dict, *state0, *extra)
    dx, d_state0, grads, _ = backward(d_output, runs, *d_final, *extra)
    return output, as_tuple(final), dx, as_tuple(d_state0), grads


def run_fast(model, x, state0, d_output, d_final):
    model.zero_grad()
    unpack = (lambda s: s) if len(state0) == 2 else (lambda s: s[0])
    output, final = model(x, unpack(state0))
    dx, d_state0 = model.backward(d_output, unpack(d_final))
    return output, as_tuple(final), dx, as_tuple(d_state0), model.grads


def assert_same_run(fast, reference):
    for what, got, want in zip(("output", "final state", "dx", "d_state0"), fast[:4], reference[:4]):
        if what in ("final state", "d_state0"):
            for g, w in zip(got, want):
                assert_close(g, w, what)
        else:
            assert_close(got, want, what)
    assert sorted(fast[4]) == sorted(reference[4])
    for key, grad in reference[4].items():
        assert_close(fast[4][key], grad, f"d {key}")


shapes = st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(1, 6))


@pytest.mark.parametrize("name", CELL_KINDS)
@settings(max_examples=20)
@given(shape=shapes, layers=st.integers(1, 2), bidirectional=st.booleans(), bias=st.booleans(),
       reuse=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_sequence_model_matches_its_reference(name, shape, layers, bidirectional, bias, reuse, seed):
    model, *problem = sequence_problem(name, *shape, layers, bidirectional, bias, seed)
    if reuse:    # a first forward and backward of another problem leaves its values in the reused buffers
        other = sequence_problem(name, *shape, layers, bidirectional, bias, seed + 1)
        run_fast(model, *other[1:])
    assert_same_run(run_fast(model, *problem), run_reference(name, model.state_dict(), *problem))


@pytest.mark.parametrize("name", CELL_KINDS)
def test_a_missing_initial_state_is_zeros_in_the_reference_as_in_the_fast_path(name):
    model, x, state0, d_output, _ = sequence_problem(name, 3, 2, 2, 3, 2, True, True, seed=4)
    zeros = tuple(numpy.zeros_like(s) for s in state0)
    fast = run_fast(model, x, zeros, d_output, zeros)
    reference = run_reference(name, model.state_dict(), x, (None,) * len(state0), d_output, (None,) * len(state0))
    assert_same_run(fast, reference)


@pytest.mark.parametrize("name", CELL_KINDS)
@settings(max_examples=8)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), bidirectional=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_a_padded_batch_gives_each_sequence_what_the_reference_gives_it_alone(name, lengths, bidirectional, seed):
    """The masks for lengths: each sequence of a padded batch, cut to its length and run alone
    through the reference, gets the same outputs, final state and dx, and the weights' gradients are
    the sum of the reference implementation's over the sequences."""
    T, B = max(lengths), len(lengths)
    model, x, state0, d_output, d_final = sequence_problem(name, T, B, 2, 3, 2, bidirectional, True, seed)
    unpack = (lambda s: s) if len(state0) == 2 else (lambda s: s[0])
    output, final = model(x, unpack(state0), lengths=numpy.array(lengths))
    dx, d_state0 = model.backward(d_output, unpack(d_final))
    grads = {key: numpy.zeros_like(value) for key, value in model.grads.items()}
    for b, length in enumerate(lengths):
        alone = (x[:length, b:b + 1], tuple(s[:, b:b + 1] for s in state0), d_output[:length, b:b + 1],
                 tuple(d[:, b:b + 1] for d in d_final))
        reference = run_reference(name, model.state_dict(), *alone)
        assert_close(output[:length, b:b + 1], reference[0], "output")
        assert not output[length:, b].any() and not dx[length:, b].any()     # padding: zero out, zero gradient
        for got, want in zip(as_tuple(final) + as_tuple(d_state0), reference[1] + reference[3]):
            assert_close(got[:, b:b + 1], want, "state")
        assert_close(dx[:length, b:b + 1], reference[2], "dx")
        for key in grads:
            grads[key] += reference[4][key]
    for key, grad in grads.items():
        assert_close(model.grads[key], grad, f"d {key}")


@pytest.mark.parametrize("name", CELL_KINDS)
@settings(max_examples=10)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6)), bias=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_single_step_cell_matches_its_step_reference(name, shape, bias, seed):
    B, I, H = shape
    kind = CELL_KINDS[name]
    step_forward, step_backward = kind.reference_step
    cell = kind.build_cell(I, H, bias=bias, dtype="float64", seed=seed)
    rng = numpy.random.default_rng(seed)
    n_states = len(kind.state_names)
    x, state, d_next = (rng.standard_normal((B, I)), tuple(rng.standard_normal((B, H)) for _ in range(n_states)),
                        tuple(rng.standard_normal((B, H)) for _ in range(n_states)))
    unpack = (lambda s: s) if n_states == 2 else (lambda s: s[0])
    next_state = as_tuple(cell(x, unpack(state)))
    dx, d_state = cell.backward(unpack(d_next))
    params = cell.state_dict()
    reference_next, cache = step_forward(x, state, params)
    reference_dx, reference_d_state, grads = step_backward(d_next, cache, params)
    for got, want in zip(next_state + (dx,) + as_tuple(d_state), reference_next + (reference_dx,) + reference_d_state):
        assert_close(got, want, "step")
    assert sorted(grads) == sorted(params) == sorted(cell.grads)
    for key, grad in grads.items():
        assert_close(cell.grads[key], grad, f"d {key}")


@settings(max_examples=15)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 9), st.integers(1, 5),
                       st.integers(1, 6)), seed=st.integers(0, 2 ** 16))
def test_char_loop_model_matches_its_reference(shape, seed):
    T, B, V, F, H = shape
    model = CharLoopModel(V, F, H, dtype="float64", seed=seed)
    rng = numpy.random.default_rng(seed)
    cs = rng.integers(0, V, (T, B))
    d_logp = rng.standard_normal((B, V))
    logp = model(cs)
    model.backward(d_logp)
    reference_logp, cache = reference.charloop_forward(cs, model.state_dict())
    grads, _ = reference.charloop_backward(d_logp, cache, model.state_dict())
    assert_close(logp, reference_logp, "log p")
    assert sorted(grads) == sorted(model.grads)
    for key, grad in grads.items():
        assert_close(model.grads[key], grad, f"d {key}")


@pytest.mark.parametrize("cell", LAYERS)
@pytest.mark.parametrize("layers", [1, 2])
def test_char_rnn_matches_its_reference(cell, layers):
    model = CharRNN(9, 4, 5, layers, cell, dtype="float64", seed=layers)
    step_forward, step_backward = kind_of(model.rnn).reference_step
    n_states = len(model.rnn.gate_math.state_names)
    rng = numpy.random.default_rng(layers)
    ids = rng.integers(0, 9, (5, 3))
    state0 = tuple(rng.standard_normal((layers, 3, 5)) for _ in range(n_states))
    d_logits = rng.standard_normal((5, 3, 9))
    logits, final = model(ids, state0 if n_states > 1 else state0[0])
    d_state0 = model.backward(d_logits)
    reference_logits, reference_final, cache = reference.charrnn_forward(ids, model.state_dict(), step_forward, state0)
    grads, reference_d_state0, _ = reference.charrnn_backward(d_logits, cache, model.state_dict(), step_backward,
                                                         (None,) * n_states)
    for got, want in zip((logits, *as_tuple(final), *as_tuple(d_state0)),
                         (reference_logits, *reference_final, *reference_d_state0)):
        assert_close(got, want, "char rnn")
    assert sorted(grads) == sorted(model.grads)
    for key, grad in grads.items():
        assert_close(model.grads[key], grad, f"d {key}")


@pytest.mark.parametrize("layer_class", LAYERS.values())
def test_float32_layer_computes_in_float32(layer_class):
    """No silent upcast: a float32 layer's outputs, state and gradients all stay float32."""
    layer = layer_class(3, 5, seed=0)
    x = numpy.random.default_rng(0).standard_normal((4, 2, 3)).astype(numpy.float32)
    out, state = layer.forward(x)
    dx, d_state = layer.backward(numpy.ones_like(out))
    arrays = [out, dx, *layer.grads.values(), *as_tuple(state), *as_tuple(d_state)]
    assert {a.dtype for a in arrays} == {numpy.dtype(numpy.float32)}


@pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")
@pytest.mark.parametrize("name", CELL_KINDS)
def test_gpu_kernels_match_the_reference(name):
    """On CuPy each cell runs as fused kernels; they must compute what the reference implementation computes."""
    import cupy
    model, x, state0, d_output, d_final = sequence_problem(name, 5, 3, 4, 7, 2, True, True, seed=1)
    reference = run_reference(name, model.state_dict(), x, state0, d_output, d_final)
    on_gpu = lambda arrays: tuple(cupy.asarray(a) for a in arrays)  # noqa: E731
    fast = run_fast(model.to("cupy"), cupy.asarray(x), on_gpu(state0), cupy.asarray(d_output), on_gpu(d_final))
    assert_same_run(fast, reference)
