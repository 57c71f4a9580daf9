"""minirnn.gates: each kind's gate math as the sequence layer calls it, on NumPy and, through the same
signatures, as fused CuPy kernels; the local derivatives taken for a block of steps change no result."""
import inspect
import types

import numpy as np
import pytest

from minirnn.cell_kinds import CELL_KINDS
from minirnn.layers import unroll


@pytest.mark.parametrize("name", CELL_KINDS)
def test_each_kernel_takes_the_arguments_of_its_numpy_lines(name):
    """The kernels run only on a GPU: here at least their calls are those the time loop makes."""
    gate_math = CELL_KINDS[name].gate_math
    for lines, kernel in ((gate_math.forward, gate_math.gpu_forward), (gate_math.backward, gate_math.gpu_backward)):
        assert list(inspect.signature(kernel).parameters) == list(inspect.signature(lines).parameters)


@pytest.mark.parametrize("name", CELL_KINDS)
def test_cupy_arrays_get_the_kernels_and_no_prepared_derivatives(name):
    gate_math = CELL_KINDS[name].gate_math
    assert gate_math.step_functions(types.SimpleNamespace(__name__="cupy")) == \
        (gate_math.gpu_forward, None, gate_math.gpu_backward)
    assert gate_math.step_functions(np) == (gate_math.forward, gate_math.prepare_backward, gate_math.backward)


def run(gate_math, T=7, B=3, I=2, H=4, seed=0):
    """A layer's forward and backward through the unroll: (its gradients, its cache)."""
    rng = np.random.default_rng(seed)
    GH = gate_math.n_gates * H
    x = rng.standard_normal((T, B, I))
    weights = (rng.standard_normal((GH, I)), rng.standard_normal((GH, H)), rng.standard_normal(GH),
               rng.standard_normal(GH))
    state0 = tuple(rng.standard_normal((B, H)) for _ in gate_math.state_names)
    _, _, cache = unroll.layer_forward(gate_math, x, *weights, state0)
    d_final = tuple(rng.standard_normal((B, H)) for _ in gate_math.state_names)
    dx, d_state0, grads = unroll.layer_backward(cache, rng.standard_normal((T, B, H)), d_final)
    return (dx, *d_state0, *grads), cache


@pytest.mark.parametrize("name", CELL_KINDS)
def test_the_blocks_of_prepared_steps_change_no_gradient(name, monkeypatch):
    gate_math = CELL_KINDS[name].gate_math
    whole, _ = run(gate_math)                                  # every step in one block
    monkeypatch.setattr(unroll, "PREPARE_BYTES", 1)            # a block of one step at a time
    for got, want in zip(run(gate_math)[0], whole):
        np.testing.assert_array_equal(got, want)


def test_the_lstms_saved_tanh_c_keeps_its_meaning_through_the_backward():
    gate_math = CELL_KINDS["lstm"].gate_math
    _, cache = run(gate_math)
    c = cache.unroll.states[1][1:]
    np.testing.assert_allclose(cache.unroll.saved, np.tanh(c), rtol=0, atol=1e-15)
