"""check_gradients (minirnn/gradcheck/check.py): it finds a wrong backward, counts ReLU kinks
without excusing a wrong gradient, names the worst entry, samples large tensors, refuses float32.
"""
import dataclasses

import numpy as np
import pytest

from minirnn.gates import RNN_TANH_GATE_MATH
from minirnn.gradcheck import check_gradients
from minirnn.layers import RNN


def test_a_wrong_backward_is_reported_as_failing():
    """The check can fail: a tanh derivative 1% too large is caught."""
    gate_math = RNN_TANH_GATE_MATH

    def wrong_backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
        gate_math.backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch)
        d_gates *= 1.01

    model = RNN(2, 3, dtype="float64", seed=0)
    model.gate_math = dataclasses.replace(gate_math, backward=wrong_backward)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))

    def loss():
        return float(model(x)[0].sum())

    model.zero_grad()
    out, _ = model(x)
    dx, _ = model.backward(np.ones_like(out))
    reports = check_gradients(loss, dict(model.grads, x=dx), dict(model.params, x=x))
    assert not all(r.passed for r in reports)
    assert max(r.max_abs_error for r in reports) > 1e-4


def test_kinks_of_relu_are_detected_and_counted():
    """A step that moves a ReLU input across zero is skipped, not reported as an error."""
    from minirnn.ops import relu_forward
    x = np.array([-1e-7, 0.5, -0.3, 2e-7])

    def loss():
        return float(relu_forward(x)[0].sum())

    analytic = {"x": (x > 0).astype(float)}
    (report,) = check_gradients(loss, analytic, {"x": x})
    assert report.kinks == 2 and report.checked == 2 and report.passed


def test_a_wrong_gradient_away_from_a_kink_is_not_excused_as_one():
    """Only the loss's own bend over the step can excuse a miss; a wrong slope of a ReLU is still a failure."""
    from minirnn.ops import relu_forward
    x = np.array([0.5, -0.3, 1e-7])

    def loss():
        return float(relu_forward(x)[0].sum())

    (report,) = check_gradients(loss, {"x": np.array([1.01, 0.0, 1.0])}, {"x": x})
    assert report.kinks == 1 and not report.passed


def test_the_report_names_the_entry_with_the_largest_error():
    x = np.array([[0.5, -0.3], [0.2, 0.9]])

    def loss():
        return float((x ** 2).sum())

    analytic = 2 * x
    analytic[1, 0] += 1e-3
    (report,) = check_gradients(loss, {"x": analytic}, {"x": x})
    assert not report.passed and report.worst_index == (1, 0)


def test_large_tensors_are_checked_on_a_subset_and_a_direction():
    weights = np.random.default_rng(0).standard_normal(1000)
    x = np.random.default_rng(1).standard_normal(1000)

    def loss():
        return float(np.tanh(weights * x).sum())

    analytic = {"x": weights * (1 - np.tanh(weights * x) ** 2)}
    (report,) = check_gradients(loss, analytic, {"x": x}, max_entries=50)
    assert report.checked == 51 and report.passed


def test_float32_tensors_are_refused():
    with pytest.raises(TypeError, match="float64"):
        check_gradients(lambda: 0.0, {"x": np.zeros(2)}, {"x": np.zeros(2, np.float32)})


def test_a_tensor_without_a_gradient_is_named():
    with pytest.raises(ValueError, match=r"grads has no gradient for the tensor 'b'; it has \['a'\]"):
        check_gradients(lambda: 0.0, {"a": np.zeros(2)}, {"a": np.zeros(2), "b": np.zeros(3)})


@pytest.mark.parametrize("settings, message", [
    (dict(eps=0), "eps must be a finite number > 0, got 0"),
    (dict(eps=float("nan")), "eps must be a finite number > 0, got nan"),
    (dict(atol=-1.0), "atol must be a finite number >= 0, got -1.0"),
    (dict(max_entries=0), "max_entries must be a positive integer, got 0"),
])
def test_settings_out_of_range_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        check_gradients(lambda: 0.0, {"x": np.zeros(2)}, {"x": np.zeros(2)}, **settings)


@pytest.mark.parametrize("size, max_entries", [(4, 400), (40, 5)])     # entry by entry; a subset and a direction
def test_every_tensor_is_restored_when_the_loss_raises(size, max_entries):
    x = np.linspace(-1.0, 1.0, size)
    before, calls = x.copy(), []

    def loss():
        calls.append(1)
        if len(calls) == 3 + 2 * (max_entries if size > max_entries else 0):    # inside a perturbation
            raise RuntimeError("the loss failed")
        return float((x ** 2).sum())

    with pytest.raises(RuntimeError, match="the loss failed"):
        check_gradients(loss, {"x": 2 * x}, {"x": x}, max_entries=max_entries)
    assert np.array_equal(x, before)
