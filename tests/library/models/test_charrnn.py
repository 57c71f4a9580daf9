"""CharRNN: gradients against central differences in float64, and outputs and gradients against torch."""
import numpy
import pytest

from minirnn.core.param_names import layer_param_names
from minirnn.models import CharRNN

T, B, V = 4, 3, 7


def batch(seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.integers(0, V, (T, B)), rng.standard_normal((T, B, V))


def loss_of(model, ids, weights, state=None):
    """L = sum(logits * weights): any linear loss has dL/dlogits = weights, which the test sets."""
    logits, state_n = model(ids, state)
    return float((logits * weights).sum()), state_n


def numeric_gradient(f, array, eps=1e-6):
    """Central differences (f(a + eps) - f(a - eps)) / 2 eps, one entry at a time, in place on ``array``."""
    grad = numpy.zeros_like(array)
    for index in numpy.ndindex(array.shape):
        kept = array[index]
        array[index] = kept + eps
        up = f()
        array[index] = kept - eps
        down = f()
        array[index] = kept
        grad[index] = (up - down) / (2 * eps)
    return grad


def assert_close_to_numeric(analytic, numeric):
    error = numpy.abs(analytic - numeric)
    bound = 1e-7 + 1e-6 * numpy.abs(numeric)
    assert (error <= bound).all(), f"worst excess {(error - bound).max():.3g}"


def random_state(cell, rng, scale=1.0):
    """A random (layers=2, B, hidden=4) state: one array, or a pair (h, c) for the LSTM."""
    arrays = tuple(rng.standard_normal((2, B, 4)) * scale for _ in range(2 if cell == "lstm" else 1))
    return arrays if cell == "lstm" else arrays[0]


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_match_central_differences(cell):
    model = CharRNN(V, emb=3, hidden=4, layers=2, cell=cell, dtype="float64", seed=5)
    ids, weights = batch()
    rng = numpy.random.default_rng(1)
    state0, d_state_n = random_state(cell, rng, 0.5), random_state(cell, rng)

    def full_loss():
        # L = sum(logits * weights) + sum(state_n * d_state_n): the carried state's gradients are checked too
        value, state_n = loss_of(model, ids, weights, state0)
        return value + sum(float((s * d).sum()) for s, d in zip(as_tuple(state_n), as_tuple(d_state_n)))

    model.zero_grad()
    model(ids, state0)
    d_state0 = model.backward(weights, d_state_n)
    for name, param in model.params.items():
        assert_close_to_numeric(model.grads[name], numeric_gradient(full_loss, param))
    for analytic, array in zip(as_tuple(d_state0), as_tuple(state0)):
        assert_close_to_numeric(analytic, numeric_gradient(full_loss, array))


def test_output_dropout_gradient_uses_the_forward_mask():
    model = CharRNN(V, emb=3, hidden=4, layers=1, cell="gru", dropout=0.5, dtype="float64", seed=2)
    ids, weights = batch()
    rng_state = model.rng.bit_generator.state

    def same_mask_loss():
        model.rng.bit_generator.state = rng_state              # every forward draws the same mask
        return loss_of(model, ids, weights)[0]

    model.zero_grad()
    same_mask_loss()
    model.backward(weights)
    weight = model.params["head.weight"]
    assert_close_to_numeric(model.grads["head.weight"], numeric_gradient(same_mask_loss, weight))
    assert_close_to_numeric(model.grads["embedding.weight"],
                            numeric_gradient(same_mask_loss, model.params["embedding.weight"]))


def test_state_carried_between_chunks_equals_one_long_forward():
    model = CharRNN(V, emb=3, hidden=5, layers=2, cell="lstm", dtype="float64", seed=3)
    ids = numpy.random.default_rng(4).integers(0, V, (8, B))
    whole, _ = model(ids)
    first, state = model(ids[:5])
    second, _ = model(ids[5:], state)
    assert numpy.allclose(numpy.concatenate([first, second]), whole, rtol=0, atol=1e-12)


def test_parameter_names_follow_torch():
    model = CharRNN(V, emb=3, hidden=4, layers=2, cell="lstm", seed=0)
    assert sorted(model.params) == sorted(
        ["embedding.weight", "head.weight", "head.bias"]
        + [f"rnn.{name}" for k in range(2) for name in layer_param_names(k, 0)])
    assert model.params["rnn.weight_ih_l0"].shape == (16, 3) and model.params["head.weight"].shape == (V, 4)


def test_bad_ids_are_refused_with_the_vocabulary_size():
    model = CharRNN(V, emb=3, hidden=4, seed=0)
    with pytest.raises(ValueError, match=r"ids must hold ids in \[0, 7\), got 9"):
        model(numpy.full((2, 2), 9))
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRNN(V, cell="transformer")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_matches_an_equivalent_torch_model(cell):
    torch = pytest.importorskip("torch")
    model = CharRNN(V, emb=3, hidden=4, layers=2, cell=cell, dtype="float64", seed=6)

    class TorchCharRNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(V, 3)
            self.rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](3, 4, 2)
            self.head = torch.nn.Linear(4, V)

        def forward(self, ids):
            output, state = self.rnn(self.embedding(ids))
            return self.head(output), state

    reference = TorchCharRNN().double()
    reference.load_state_dict({name: torch.from_numpy(value) for name, value in model.state_dict().items()})
    ids, weights = batch(7)
    logits, state = model(ids)
    model.zero_grad()
    model.backward(weights)
    torch_logits, torch_state = reference(torch.from_numpy(ids))
    (torch_logits * torch.from_numpy(weights)).sum().backward()
    assert numpy.allclose(logits, torch_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert all(numpy.allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
               for mine, theirs in zip(as_tuple(state), as_tuple(torch_state)))
    for name, param in reference.named_parameters():
        assert numpy.allclose(model.grads[name], param.grad.numpy(), rtol=1e-9, atol=1e-12), name


def test_a_random_state_saved_before_the_embedding_and_head_were_modules_still_restores():
    model = CharRNN(V, emb=3, hidden=4, layers=2, cell="gru", dropout=0.5, seed=3)
    saved = {prefix: state for prefix, state in model.rng_state().items() if prefix in ("", "rnn")}
    expected = model.rng.random(3), model.rnn.rng.random(3)
    model.set_rng_state(saved)
    numpy.testing.assert_array_equal(model.rng.random(3), expected[0])
    numpy.testing.assert_array_equal(model.rnn.rng.random(3), expected[1])
