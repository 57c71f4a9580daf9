"""Every reference implementation's backward is the gradient of its forward: central finite differences in float64.

Each loss weights every output and final state by fixed random numbers, so that every path
through the unrolled graph carries gradient (as minirnn.gradcheck's cases do for the fast path).
"""
import numpy
import pytest

from minirnn import reference
from minirnn.cell_kinds import CELL_KINDS, LAYERS, default_kind
from minirnn.core.param_names import cell_param_shapes, layer_param_shapes
from minirnn.gradcheck import check_gradients
from minirnn.reference.sequence import unroll_backward, unroll_forward


def random_params(rng, shapes: dict, prefix=""):
    """Random values for parameters of these shapes: weights in [-0.7, 0.7], biases in [-0.5, 0.5]."""
    return {prefix + name: rng.uniform(-0.7, 0.7, shape) if len(shape) == 2 else rng.uniform(-0.5, 0.5, shape)
            for name, shape in shapes.items()}


def cell_params(rng, G, I, H, bias=True):
    """Random weights of one cell under torch's names."""
    return random_params(rng, cell_param_shapes(G, I, H, bias))


def stack_params(rng, G, I, H, layers, bidirectional=False, prefix=""):
    """Random weights of a stack of layers, as minirnn.RNN, LSTM and GRU name them."""
    return random_params(rng, layer_param_shapes(G, I, H, layers, bidirectional=bidirectional), prefix)


def assert_all_pass(reports):
    failed = [str(report) for report in reports if not report.passed]
    assert not failed, "\n".join(failed)
    assert all(report.checked > 0 for report in reports)


@pytest.mark.parametrize("name", CELL_KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_step_reference_passes_the_gradient_check(name, bias):
    kind = CELL_KINDS[name]
    (step_forward, step_backward), G, n_states = kind.reference_step, kind.n_gates, len(kind.state_names)
    rng = numpy.random.default_rng(0)
    B, I, H = 3, 4, 5
    params = cell_params(rng, G, I, H, bias)
    x = rng.standard_normal((B, I))
    state = tuple(rng.standard_normal((B, H)) for _ in range(n_states))
    weights_out = tuple(rng.standard_normal((B, H)) for _ in range(n_states))

    def loss():
        next_state, _ = step_forward(x, state, params)
        return sum(float((s * w).sum()) for s, w in zip(next_state, weights_out))

    _, cache = step_forward(x, state, params)
    dx, d_state, grads = step_backward(weights_out, cache, params)
    assert sorted(grads) == sorted(params)
    tensors = {"x": x, **{f"state[{i}]": s for i, s in enumerate(state)}, **params}
    analytic = {"x": dx, **{f"state[{i}]": d for i, d in enumerate(d_state)}, **grads}
    assert_all_pass(check_gradients(loss, analytic, tensors))


@pytest.mark.parametrize("name", CELL_KINDS)
def test_sequence_reference_passes_the_gradient_check(name):
    kind = CELL_KINDS[name]
    (forward, backward), G, extra = kind.reference_layer, kind.n_gates, tuple(kind.options.values())
    rng = numpy.random.default_rng(1)
    T, B, I, H, L = 3, 2, 3, 2, 2
    state_dict = stack_params(rng, G, I, H, L, bidirectional=True)
    n_states = len(kind.state_names)
    x = rng.standard_normal((T, B, I))
    state0 = tuple(rng.standard_normal((L * 2, B, H)) for _ in range(n_states))
    g_output = rng.standard_normal((T, B, 2 * H))
    g_final = tuple(rng.standard_normal((L * 2, B, H)) for _ in range(n_states))

    def run():
        output, final, runs = forward(x, state_dict, *state0, *extra)
        return output, final if n_states == 2 else (final,), runs

    def loss():
        output, final, _ = run()
        return float((output * g_output).sum()) + sum(float((f * g).sum()) for f, g in zip(final, g_final))

    dx, d_state0, grads, _ = backward(g_output, run()[2], *g_final, *extra)
    d_state0 = d_state0 if n_states == 2 else (d_state0,)
    tensors = {"x": x, **{f"state0[{i}]": s for i, s in enumerate(state0)}, **state_dict}
    analytic = {"x": dx, **{f"state0[{i}]": d for i, d in enumerate(d_state0)}, **grads}
    assert_all_pass(check_gradients(loss, analytic, tensors))


def test_char_loop_reference_passes_the_gradient_check():
    rng = numpy.random.default_rng(2)
    V, F, H, T, B = 7, 3, 4, 4, 3
    state_dict = {"e.weight": rng.standard_normal((V, F))}
    for name, (fan_out, fan_in) in {"l_in": (H, F), "l_hidden": (H, H), "l_out": (V, H)}.items():
        state_dict[f"{name}.weight"] = rng.uniform(-0.7, 0.7, (fan_out, fan_in))
        state_dict[f"{name}.bias"] = rng.uniform(-0.5, 0.5, fan_out)
    cs = rng.integers(0, V, (T, B))
    g_logp = rng.standard_normal((B, V))

    def loss():
        return float((reference.charloop_forward(cs, state_dict)[0] * g_logp).sum())

    grads, _ = reference.charloop_backward(g_logp, reference.charloop_forward(cs, state_dict)[1], state_dict)
    assert_all_pass(check_gradients(loss, grads, state_dict))


@pytest.mark.parametrize("cell", LAYERS)
def test_char_rnn_reference_passes_the_gradient_check(cell):
    kind = default_kind(cell)
    (step_forward, step_backward), G, no_state = kind.reference_step, kind.n_gates, (None,) * len(kind.state_names)
    rng = numpy.random.default_rng(3)
    V, E, H, L, T, B = 6, 3, 2, 2, 3, 2
    state_dict = {"embedding.weight": rng.standard_normal((V, E)),
                  **stack_params(rng, G, E, H, L, prefix="rnn."),
                  "head.weight": rng.uniform(-0.7, 0.7, (V, H)), "head.bias": rng.uniform(-0.5, 0.5, V)}
    ids = rng.integers(0, V, (T, B))
    g_logits = rng.standard_normal((T, B, V))

    def loss():
        return float((reference.charrnn_forward(ids, state_dict, step_forward, no_state)[0] * g_logits).sum())

    _, _, cache = reference.charrnn_forward(ids, state_dict, step_forward, no_state)
    grads, _, _ = reference.charrnn_backward(g_logits, cache, state_dict, step_backward, no_state)
    assert_all_pass(check_gradients(loss, grads, state_dict))


@pytest.mark.parametrize("name", CELL_KINDS)
def test_d_states_holds_the_gradient_of_every_state(name):
    """d_states[t] is dL/d(states[t]): what a run started at step t from states[t] sends back to it,
    plus, for h_t, the gradient from above (h_t is step t-1's output)."""
    kind = CELL_KINDS[name]
    (step_forward, step_backward), G, n_states = kind.reference_step, kind.n_gates, len(kind.state_names)
    rng = numpy.random.default_rng(4)
    T, B, I, H = 4, 2, 3, 3
    params = cell_params(rng, G, I, H)
    xs, d_hs = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, H))
    state0 = tuple(rng.standard_normal((B, H)) for _ in range(n_states))
    d_final = tuple(rng.standard_normal((B, H)) for _ in range(n_states))
    states, caches = unroll_forward(step_forward, xs, state0, params)
    _, d_states, _ = unroll_backward(step_backward, d_hs, d_final, caches, params)
    for t in range(T):
        _, tail_caches = unroll_forward(step_forward, xs[t:], states[t], params)
        _, tail_d_states, _ = unroll_backward(step_backward, d_hs[t:], d_final, tail_caches, params)
        dh_above = d_hs[t - 1] if t > 0 else 0
        want = (tail_d_states[0][0] + dh_above, *tail_d_states[0][1:])
        for got, expected in zip(d_states[t], want):
            numpy.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)
