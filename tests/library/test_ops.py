"""The building blocks: each backward against finite differences, the losses' promises, and the losses
against torch.nn in float64 (skipped without torch)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn import cross_entropy, nll_loss
from minirnn.gradcheck import check_gradients
from minirnn.ops import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
    log_softmax_backward,
    log_softmax_forward,
    relu_backward,
    relu_forward,
    sigmoid,
)

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


def weighted(y, g):
    return float((y * g).sum())


@given(lead=shapes, n_in=st.integers(1, 5), n_out=st.integers(1, 5), seed=st.integers(0, 999))
def test_linear_backward(lead, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((*lead, n_in)), rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    g = rng.standard_normal((*lead, n_out))
    y, cache = linear_forward(x, w, b)
    dx, dw, db = linear_backward(g, cache)
    reports = check_gradients(lambda: weighted(linear_forward(x, w, b)[0], g), {"x": dx, "w": dw, "b": db},
                              {"x": x, "w": w, "b": b})
    assert all(r.passed for r in reports)


@given(seed=st.integers(0, 999), vocab=st.integers(1, 6), dim=st.integers(1, 4), lead=shapes)
def test_embedding_backward_sums_repeated_ids(seed, vocab, dim, lead):
    rng = np.random.default_rng(seed)
    w, ids = rng.standard_normal((vocab, dim)), rng.integers(0, vocab, lead)
    g = rng.standard_normal((*lead, dim))
    _, cache = embedding_forward(ids, w)
    dw = embedding_backward(g, cache)
    (report,) = check_gradients(lambda: weighted(embedding_forward(ids, w)[0], g), {"w": dw}, {"w": w})
    assert report.passed


@pytest.mark.parametrize("forward, backward", [(relu_forward, relu_backward),
                                               (log_softmax_forward, log_softmax_backward)])
@given(seed=st.integers(0, 999), shape=shapes)
def test_activation_backward(forward, backward, seed, shape):
    rng = np.random.default_rng(seed)
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    _, cache = forward(x)
    (report,) = check_gradients(lambda: weighted(forward(x)[0], g), {"x": backward(g, cache)}, {"x": x})
    assert report.passed


def test_sigmoid_is_the_logistic_function_without_overflow():
    x = np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise"):
        s = sigmoid(x)
    with np.errstate(over="ignore"):          # the naive reference overflows to 1 / inf = 0, correctly
        expected = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(s, expected, atol=1e-7)
    sigmoid(x, out=x)
    np.testing.assert_array_equal(x, s)


def test_losses_average_over_all_targets():
    logp = np.log(np.full((2, 3, 4), 0.25))
    loss, d = nll_loss(logp, np.zeros((2, 3), np.int64))
    assert loss == pytest.approx(np.log(4))
    assert d.sum() == pytest.approx(-1.0) and d[0, 0, 0] == pytest.approx(-1 / 6)


def test_cross_entropy_is_stable_at_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = cross_entropy(logits, np.array([0, 2]))
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert loss == pytest.approx(np.log(2) / 2, rel=1e-5)


def test_ignored_and_masked_targets_do_not_count():
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((3, 2, 5)), rng.integers(0, 5, (3, 2))
    mask = np.array([[1, 1], [1, 0], [0, 0]])
    masked, d_masked = cross_entropy(logits, target, mask=mask)
    kept, _ = cross_entropy(logits[mask.astype(bool)], target[mask.astype(bool)])
    assert masked == pytest.approx(kept)
    assert not d_masked[mask == 0].any()
    padded = np.where(mask == 1, target, -100)
    ignored, d_ignored = cross_entropy(logits, padded, ignore_index=-100)
    assert ignored == pytest.approx(kept)
    np.testing.assert_array_equal(d_ignored, d_masked)


def test_a_loss_with_nothing_to_count_is_refused():
    with pytest.raises(ValueError, match="every target is ignored or masked"):
        nll_loss(np.zeros((2, 3)), np.array([1, 1]), ignore_index=1)


@pytest.mark.parametrize("shape", [(4, 7), (3, 4, 7)])
def test_losses_match_torch(torch, shape):
    rng = np.random.default_rng(6)
    logits = rng.standard_normal(shape)
    target = rng.integers(0, 7, shape[:-1])
    target.flat[0] = 2
    loss, d_logits = cross_entropy(logits, target, ignore_index=2)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t.reshape(-1, 7), torch.tensor(target).reshape(-1),
                                               ignore_index=2)
    loss_t.backward()
    assert abs(loss - loss_t.item()) <= 1e-10
    np.testing.assert_allclose(d_logits, logits_t.grad.numpy(), rtol=0, atol=1e-10)
