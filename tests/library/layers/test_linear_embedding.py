"""Linear and Embedding: torch's names, shapes and init, gradients against finite differences and torch.nn,
and the forward / backward / grads contract of every minirnn module."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minirnn
from minirnn import Embedding, Linear
from minirnn.gradcheck import check_gradients


def assert_all_pass(reports):
    failed = [str(r) for r in reports if not r.passed]
    assert not failed, "\n".join(failed)
    assert all(r.checked > 0 for r in reports)


def test_linear_has_torchs_names_shapes_and_init_range():
    layer = Linear(400, 300, seed=0)
    bound = 1 / math.sqrt(400)
    assert list(layer.params) == ["weight", "bias"] and set(layer.grads) == set(layer.params)
    assert layer.params["weight"].shape == (300, 400) and layer.params["bias"].shape == (300,)
    for value in layer.params.values():
        assert value.dtype == np.float32
        assert abs(value).max() <= bound and abs(value).max() > 0.99 * bound    # fills U(-bound, bound)
    assert list(Linear(4, 3, bias=False).params) == ["weight"] and Linear(4, 3, bias=False).bias is None


def test_weight_and_bias_are_the_live_parameters_after_a_move():
    layer, table = Linear(3, 2, seed=0).astype("float64"), Embedding(4, 2, seed=0).astype("float64")
    assert layer.weight is layer.params["weight"] and layer.bias is layer.params["bias"]
    assert table.weight is table.params["weight"] and table.weight.dtype == np.float64
    assert layer.config() == dict(in_features=3, out_features=2, bias=True, dtype="float64")


def test_embedding_has_torchs_name_shape_and_standard_normal_init():
    table = Embedding(1000, 50, seed=0).params["weight"]
    assert table.shape == (1000, 50) and table.dtype == np.float32
    assert abs(table.mean()) < 0.01 and abs(table.std() - 1) < 0.01


@given(lead=st.lists(st.integers(1, 3), max_size=3), n_in=st.integers(1, 5), n_out=st.integers(1, 5),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_gradients_match_finite_differences(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(n_in, n_out, bias=bias, dtype="float64", seed=seed)
    x = rng.standard_normal((*lead, n_in))
    g = rng.standard_normal((*lead, n_out))            # L = sum(y * g), so dL/dy = g
    layer(x)
    dx = layer.backward(g)
    assert dx.shape == x.shape
    reports = check_gradients(lambda: float((layer(x) * g).sum()), dict(layer.grads, x=dx),
                              dict(layer.params, x=x))
    assert_all_pass(reports)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), vocab=st.integers(1, 5),
       dim=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_embedding_gradient_matches_finite_differences(shape, vocab, dim, seed):
    rng = np.random.default_rng(seed)
    table = Embedding(vocab, dim, dtype="float64", seed=seed)
    ids = rng.integers(0, vocab, shape)                # repeated ids: their rows' gradients add up
    g = rng.standard_normal((*shape, dim))
    table(ids)
    assert table.backward(g) is None                   # integer ids have no gradient
    assert_all_pass(check_gradients(lambda: float((table(ids) * g).sum()), table.grads, table.params))


@pytest.mark.parametrize("lead, bias", [((), True), ((5,), True), ((3, 4), False), ((2, 3, 2), True)])
def test_linear_matches_torch(torch, lead, bias):
    ours, theirs = Linear(4, 3, bias=bias, dtype="float64", seed=1), torch.nn.Linear(4, 3, bias=bias)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((*lead, 4)), rng.standard_normal((*lead, 3))
    y = ours(x)
    dx = ours.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    (y_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=0, atol=1e-12)
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(ours.grads[name], param.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(), (6,), (4, 3)])
def test_embedding_matches_torch(torch, shape):
    ours, theirs = Embedding(5, 3, dtype="float64", seed=1), torch.nn.Embedding(5, 3)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(3)
    ids, g = rng.integers(0, 5, shape), rng.standard_normal((*shape, 3))
    out = ours(ids)
    ours.backward(g)
    out_t = theirs(torch.tensor(ids))
    (out_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.grads["weight"], theirs.weight.grad.numpy(), rtol=0, atol=1e-12)


def test_torchs_state_dicts_load_and_give_torchs_outputs(torch):
    torch.manual_seed(0)
    linear, embedding = torch.nn.Linear(4, 3), torch.nn.Embedding(6, 4)
    ours_linear, ours_embedding = Linear(4, 3, dtype="float64"), Embedding(6, 4, dtype="float64")
    ours_linear.load_state_dict({k: v.numpy() for k, v in linear.state_dict().items()})
    ours_embedding.load_state_dict({k: v.numpy() for k, v in embedding.state_dict().items()})
    ids = np.array([[0, 5], [3, 3]])
    expected = linear(embedding(torch.tensor(ids))).detach().numpy()
    np.testing.assert_allclose(ours_linear(ours_embedding(ids)), expected, rtol=0, atol=1e-12)


def test_backward_adds_into_grads_until_zero_grad(rng):
    layer, table = Linear(3, 2, dtype="float64", seed=0), Embedding(4, 3, dtype="float64", seed=0)
    x, ids = rng.standard_normal((5, 3)), rng.integers(0, 4, 5)
    for _ in range(2):
        layer(x)
        layer.backward(np.ones((5, 2)))
        table(ids)
        table.backward(np.ones((5, 3)))
    once = Linear(3, 2, dtype="float64", seed=0)
    once(x)
    once.backward(np.ones((5, 2)))
    np.testing.assert_allclose(layer.grads["weight"], 2 * once.grads["weight"], rtol=0, atol=1e-14)
    assert table.grads["weight"].sum() == 2 * 5 * 3
    for module in (layer, table):
        module.zero_grad()
        assert all(not g.any() for g in module.grads.values())


@pytest.mark.parametrize("make, input_of", [(lambda: Linear(3, 2, seed=0),
                                             lambda rng: rng.standard_normal((4, 3), dtype=np.float32)),
                                            (lambda: Embedding(4, 2, seed=0), lambda rng: rng.integers(0, 4, 4))])
def test_a_backward_needs_its_own_forward(make, input_of, rng):
    module = make()
    with pytest.raises(RuntimeError, match="needs a forward first"):
        module.backward(np.ones((4, 2), np.float32))
    output = module(input_of(rng))
    module.backward(np.ones_like(output))
    with pytest.raises(RuntimeError, match="needs a forward first"):
        module.backward(np.ones_like(output))
    with minirnn.no_grad():
        module(input_of(rng))
    with pytest.raises(RuntimeError, match="needs a forward first"):
        module.backward(np.ones_like(output))


def test_changing_the_input_between_forward_and_backward_changes_no_gradient(rng):
    x, ids, g = rng.standard_normal((4, 3)), rng.integers(0, 5, 4), rng.standard_normal((4, 3))

    def gradients(change_inputs: bool):
        layer, table = Linear(3, 3, dtype="float64", seed=0), Embedding(5, 3, dtype="float64", seed=0)
        x_in, ids_in = x.copy(), ids.copy()
        layer(x_in)
        table(ids_in)
        if change_inputs:                                 # the caller reuses its arrays before backward
            x_in[...] = 0
            ids_in[...] = 0
        layer.backward(g)
        table.backward(g)
        return layer.grads["weight"], table.grads["weight"]

    for kept, changed in zip(gradients(False), gradients(True)):
        np.testing.assert_array_equal(changed, kept)


def test_an_input_of_another_precision_is_refused_as_in_torch(rng):
    with pytest.raises(TypeError, match=r"x must be float64 like the model, got \(4, 3\) float32: convert it with "
                                        r"\.astype\('float64'\), or build the model with dtype='float32'"):
        Linear(3, 2, dtype="float64", seed=0)(rng.standard_normal((4, 3)).astype(np.float32))


@pytest.mark.parametrize("call, error, message", [
    (lambda: Linear(10, 4)(np.zeros((5, 9), np.float32)), ValueError,
     r"x must be \(\.\.\., 10\) float array, got \(5, 9\) float32"),
    (lambda: Linear(10, 4)(np.zeros((5, 10), np.int64)), TypeError, r"x must be \(\.\.\., 10\) float array, got"),
    (lambda: Linear(10, 4)(np.float32(1.0)), ValueError, r"x must be \(\.\.\., 10\) float array, got \(\) float32"),
    (lambda: Embedding(4, 2)(np.zeros(3)), TypeError, r"ids must be \(\.\.\.\) integer array, got \(3,\) float64"),
    (lambda: Embedding(4, 2)(np.array([0, 4])), ValueError, r"ids must hold ids in \[0, 4\), got 4"),
    (lambda: Embedding(4, 2)(np.array([-1])), ValueError, r"ids must hold ids in \[0, 4\), got -1"),
    (lambda: Linear(0, 4), ValueError, "in_features must be a positive integer, got 0"),
    (lambda: Embedding(3, 1.5), ValueError, "embedding_dim must be a positive integer, got 1.5"),
])
def test_bad_input_is_refused_with_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_gradient_of_the_wrong_shape_is_refused(rng):
    layer, table = Linear(3, 2), Embedding(4, 2)
    layer(rng.standard_normal((5, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"d_y must be \(5, 2\) float array, got \(5, 3\) float64"):
        layer.backward(np.zeros((5, 3)))
    table(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"d_out must be \(1, 2, 2\) float array, got \(2, 2\) float64"):
        table.backward(np.zeros((2, 2)))


@pytest.mark.skipif(not minirnn.gpu_available(), reason="CuPy with a GPU is not available")
def test_on_the_gpu_both_give_what_numpy_gives(rng):
    import cupy
    ids, g = rng.integers(0, 6, (4, 3)), rng.standard_normal((4, 3, 2))
    results = []
    for name, xp in (("numpy", np), ("cupy", cupy)):
        table = Embedding(6, 5, dtype="float64", seed=0).to(name)
        layer = Linear(5, 2, dtype="float64", seed=1).to(name)
        y = layer(table(xp.asarray(ids)))
        table.backward(layer.backward(xp.asarray(g)))
        results.append([cupy.asnumpy(a) if name == "cupy" else a
                        for a in (y, layer.grads["weight"], layer.grads["bias"], table.grads["weight"])])
    for on_numpy, on_cupy in zip(*results):
        np.testing.assert_allclose(on_cupy, on_numpy, rtol=0, atol=1e-12)
