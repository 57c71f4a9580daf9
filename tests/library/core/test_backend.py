"""The backend module: the choice of array library and the GPU path."""
import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKENDS

import minirnn
from minirnn.core import backend


def test_numpy_is_the_default():
    assert minirnn.RNN(2, 3).backend == "numpy"


def test_the_environment_variable_is_checked():
    result = subprocess.run([sys.executable, "-c", "import minirnn; minirnn.RNN(2, 3)"],
                            env={"MINIRNN_BACKEND": "tensorflow", "PYTHONPATH": ":".join(sys.path)},
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "MINIRNN_BACKEND must be one of ('numpy', 'cupy'), got 'tensorflow'" in result.stderr


def test_array_module_follows_the_data():
    assert backend.array_module(np.zeros(2)) is np


def test_to_host_copies():
    a = np.arange(3.0)
    b = backend.to_host(a)
    b[0] = 9
    assert a[0] == 0


def test_a_seed_gives_the_same_model():
    a, b = minirnn.LSTM(3, 4, seed=11), minirnn.LSTM(3, 4, seed=11)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_model_runs_and_matches_numpy_on_each_backend(backend_name):
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    reference = minirnn.GRU(3, 4, num_layers=2, dtype="float64", seed=3)
    moved = minirnn.GRU(3, 4, num_layers=2, dtype="float64", seed=3).to(backend_name)
    xp = backend.namespace(backend_name)
    out, _ = moved(xp.asarray(x))
    dx, _ = moved.backward(xp.ones_like(out))
    expected, _ = reference(x)
    expected_dx, _ = reference.backward(np.ones_like(expected))
    np.testing.assert_allclose(backend.to_host(out), expected, atol=1e-12)
    np.testing.assert_allclose(backend.to_host(dx), expected_dx, atol=1e-12)
    for name in reference.grads:
        np.testing.assert_allclose(backend.to_host(moved.grads[name]), reference.grads[name], atol=1e-12)


@pytest.mark.skipif(not minirnn.gpu_available(), reason="CuPy with a GPU is not available")
def test_an_array_from_the_other_backend_is_refused():
    import cupy
    with pytest.raises(TypeError, match="x is a cupy array but the model's parameters are on numpy"):
        minirnn.RNN(2, 3)(cupy.zeros((1, 1, 2), cupy.float32))


def test_scatter_add_sums_the_rows_of_repeated_indices():
    rng = np.random.default_rng(0)
    for n_rows in (0, 1, 40):
        indices = rng.integers(0, 6, n_rows)
        values = rng.standard_normal((n_rows, 3))
        target = rng.standard_normal((6, 3))
        want = target.copy()
        for index, row in zip(indices, values):   # the definition, one row at a time
            want[index] += row
        backend.scatter_add(target, indices, values)
        assert np.allclose(target, want, rtol=0, atol=1e-13)
