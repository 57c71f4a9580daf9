"""One model, several threads: each thread's backward answers its own thread's forward, and the gradients of
all of them add up in the model's grads."""
import copy
import threading

import numpy as np
import pytest

import minirnn
from minirnn.models import CharLoopModel, CharRNN


def batch_of(model, steps: int, rng):
    """An input of ``steps`` steps (a batch of 2) for ``model``: its own layout, its own dtype."""
    if isinstance(model, (CharRNN, CharLoopModel)):
        return rng.integers(0, 5, (steps, 2))
    if isinstance(model, minirnn.Embedding):
        return rng.integers(0, 5, (steps, 2))
    if isinstance(model, minirnn.Linear):
        return rng.standard_normal((steps, 3))
    if isinstance(model, (minirnn.RNNCell, minirnn.LSTMCell, minirnn.GRUCell)):
        return rng.standard_normal((steps, 3))          # a batch of ``steps`` for one step
    return rng.standard_normal((steps, 2, 3))


def forward(model, x):
    """The model's output for x (of a sequence model, the output without the state; of an LSTMCell, h)."""
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def backward(model, out):
    """What the model's backward returns for d_output = 1 (an LSTMCell's d_c = None)."""
    d_out = np.ones_like(out)
    return model.backward((d_out, None) if isinstance(model, minirnn.LSTMCell) else d_out)


def forward_backward(model, x):
    out = forward(model, x)
    return out, backward(model, out)


MODELS = {
    "RNN": lambda: minirnn.RNN(3, 4, num_layers=2, dtype="float64", seed=0),
    "LSTM": lambda: minirnn.LSTM(3, 4, bidirectional=True, dtype="float64", seed=0),
    "GRU": lambda: minirnn.GRU(3, 4, dtype="float64", seed=0),
    "LSTMCell": lambda: minirnn.LSTMCell(3, 4, dtype="float64", seed=0),
    "GRUCell": lambda: minirnn.GRUCell(3, 4, dtype="float64", seed=0),
    "Linear": lambda: minirnn.Linear(3, 4, dtype="float64", seed=0),
    "Embedding": lambda: minirnn.Embedding(5, 4, dtype="float64", seed=0),
    "CharRNN": lambda: CharRNN(5, emb=3, hidden=4, cell="lstm", dtype="float64", seed=0),
    "CharLoopModel": lambda: CharLoopModel(5, 3, 4, dtype="float64", seed=0),
}


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


@pytest.mark.parametrize("name", MODELS)
def test_a_backward_answers_its_own_threads_forward_when_another_forward_came_between(name):
    """A forwards x (5, 2, 3), B forwards x (7, 2, 3), A backwards, B backwards: each gets what it gets alone."""
    model, rng = MODELS[name](), np.random.default_rng(0)
    x_a, x_b = batch_of(model, 5, rng), batch_of(model, 7, rng)
    alone = copy.deepcopy(model)
    alone.zero_grad()
    expected = {"a": forward_backward(alone, x_a), "b": forward_backward(alone, x_b)}

    model.zero_grad()
    a_forwarded, b_forwarded, a_done = threading.Event(), threading.Event(), threading.Event()
    results, errors = {}, []

    def thread_a():
        try:
            out = forward(model, x_a)
            a_forwarded.set()
            b_forwarded.wait(30)
            results["a"] = out, backward(model, out)
        except Exception as error:                # shown by the assertion below
            errors.append(error)
        finally:
            a_forwarded.set()
            a_done.set()

    def thread_b():
        try:
            a_forwarded.wait(30)
            out = forward(model, x_b)
            b_forwarded.set()
            a_done.wait(30)
            results["b"] = out, backward(model, out)
        except Exception as error:
            errors.append(error)
        finally:
            b_forwarded.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for key in "ab":
        assert same(results[key][0], expected[key][0]) and same(results[key][1], expected[key][1]), key
    assert all(np.array_equal(model.grads[k], alone.grads[k]) for k in model.grads)


def test_a_backward_in_a_thread_without_a_forward_is_refused():
    model = minirnn.GRU(3, 4)
    model(np.zeros((5, 2, 3), np.float32))
    caught = []
    thread = threading.Thread(target=lambda: caught.append(pytest.raises(RuntimeError, model.backward,
                                                                         np.ones((5, 2, 4), np.float32))))
    thread.start()
    thread.join(30)
    assert "needs a forward first" in str(caught[0].value) and "in the same thread" in str(caught[0].value)
    model.backward(np.ones((5, 2, 4), np.float32))       # this thread's forward is still there for it


class SlowSum(np.ndarray):
    """A gradient array whose += reads, waits (up to half a second) for a second thread to arrive, then writes:
    two += that run at once both read the old value, and the sum of one of them is lost."""

    arrived = None                                      # a threading.Barrier(2), set by the test

    def __iadd__(self, other):
        total = np.asarray(self) + other
        try:
            self.arrived.wait(timeout=0.5)
        except threading.BrokenBarrierError:            # the other thread did not come: it is kept out
            pass
        np.asarray(self)[...] = total
        return self


def test_the_gradients_of_two_threads_backwards_at_once_both_count():
    model = minirnn.Linear(3, 4, bias=False, dtype="float64", seed=0)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((5, 3)) for _ in range(2)]
    expected = sum(np.ones((5, 4)).T @ x for x in inputs)           # dL/dW = d_y^T x for each
    SlowSum.arrived = threading.Barrier(2)
    model._grads["weight"] = np.zeros((4, 3)).view(SlowSum)
    threads = [threading.Thread(target=forward_backward, args=(model, x)) for x in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    np.testing.assert_allclose(np.asarray(model.grads["weight"]), expected, rtol=1e-12)
