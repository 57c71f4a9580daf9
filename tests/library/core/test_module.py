"""What every model shares: loading a state all or nothing, printing, copying and pickling, and a
backward that reads the input as the forward saw it."""
import copy
import pickle

import numpy as np
import pytest

import minirnn
from minirnn.core.module import Module, ParamShape, shapes_only
from minirnn.models import MODELS, CharLoopConcatModel, CharLoopModel, CharRNN, CharSeqRNN, build_model


def assert_same_params(model, state):
    assert model.params.keys() == state.keys()
    for name, value in state.items():
        np.testing.assert_array_equal(model.params[name], value)


@pytest.mark.parametrize("damage", ["shape", "object", "nan", "overflow", "string"])
def test_a_refused_state_changes_no_parameter(damage):
    model = minirnn.LSTM(3, 4, num_layers=2, seed=0)
    before = model.state_dict()
    state = minirnn.LSTM(3, 4, num_layers=2, seed=1).state_dict()
    last = list(state)[-1]                           # the last key: every other one is checked and valid
    state[last] = {"shape": np.zeros(3), "object": np.full(state[last].shape, None, dtype=object),
                   "nan": np.full(state[last].shape, np.nan), "overflow": np.full(state[last].shape, 1e300),
                   "string": np.full(state[last].shape, "x")}[damage]
    with pytest.raises(ValueError, match=rf"state_dict\['{last}'\] must"):
        model.load_state_dict(state)
    assert_same_params(model, before)


def test_an_object_array_of_none_is_refused_not_turned_into_nan():
    state = minirnn.RNN(2, 3).state_dict()
    state["weight_ih_l0"] = np.array([[None, None]] * 3, dtype=object)
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih_l0'\] must hold real numbers, got \(3, 2\) object"):
        minirnn.RNN(2, 3).load_state_dict(state)


def test_a_valid_state_is_loaded_into_the_same_arrays():
    model = minirnn.GRU(3, 4, seed=0)
    live = model.params["weight_hh_l0"]
    state = {name: value.astype(np.float64) for name, value in minirnn.GRU(3, 4, seed=1).state_dict().items()}
    model.load_state_dict(state)
    assert model.params["weight_hh_l0"] is live and live.dtype == np.float32
    np.testing.assert_array_equal(live, state["weight_hh_l0"].astype(np.float32))


class TwoLayerHead(Module):
    """A user's own model: no config(), a parameter of its own and two children."""

    def __init__(self):
        super().__init__(seed=0)
        self.add_param("scale", self.init_uniform(0.1, (4,)))
        self.add_child("rnn", minirnn.GRU(3, 4))
        self.add_child("nested", Module())


def test_a_users_module_without_config_prints_its_parameters_and_children():
    assert repr(TwoLayerHead()) == (
        "TwoLayerHead(\n"
        "  scale: (4,) float32\n"
        "  (rnn): GRU(input_size=3, hidden_size=4, num_layers=1, bias=True, batch_first=False, dropout=0.0, "
        "bidirectional=False, dtype='float32')\n"
        "  (nested): Module()\n"
        ")")


def test_a_library_model_prints_its_constructor_call():
    assert repr(CharLoopModel(5, 2, 3)) == "CharLoopModel(vocab_size=5, n_fac=2, n_hidden=3, dtype='float32')"


@pytest.mark.parametrize("make", [lambda: minirnn.LSTM(3, 4, num_layers=2, bidirectional=True, seed=0),
                                  lambda: minirnn.GRUCell(3, 4, seed=0), lambda: CharRNN(6, 3, 4, seed=0),
                                  TwoLayerHead], ids=["lstm", "grucell", "charrnn", "user"])
@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["deepcopy", "pickle"])
def test_a_copied_model_has_equal_and_independent_parameters(make, duplicate):
    model = make()
    before = model.state_dict()
    duplicated = duplicate(model)
    assert_same_params(duplicated, before)
    assert duplicated.xp is model.xp and duplicated.params.keys() == duplicated.grads.keys()
    for value in duplicated.params.values():
        value += 1.0
    assert_same_params(model, before)                  # the original did not move with its copy


def test_a_copied_model_computes_what_the_original_does():
    model = CharRNN(6, 3, 4, cell="lstm", seed=0)
    ids = np.array([[1, 2], [3, 4], [5, 0]])
    duplicated = pickle.loads(pickle.dumps(model))
    expected, _ = model(ids)
    got, _ = duplicated(ids)
    np.testing.assert_array_equal(got, expected)
    duplicated.backward(np.ones_like(got))
    assert all(np.abs(g).sum() > 0 for g in duplicated.grads.values())




# Each model with an input it reads and the gradient its backward takes for what the forward returned.
READERS = {
    "lstm": (lambda: minirnn.LSTM(3, 4, dtype="float64", seed=0), lambda rng: rng.standard_normal((5, 2, 3)),
             lambda out: (np.ones_like(out[0]),)),
    "rnncell": (lambda: minirnn.RNNCell(3, 4, dtype="float64", seed=0), lambda rng: rng.standard_normal((2, 3)),
                lambda out: (np.ones_like(out),)),
    "lstmcell": (lambda: minirnn.LSTMCell(3, 4, dtype="float64", seed=0), lambda rng: rng.standard_normal((2, 3)),
                 lambda out: (tuple(np.ones_like(o) for o in out),)),
    "grucell": (lambda: minirnn.GRUCell(3, 4, dtype="float64", seed=0), lambda rng: rng.standard_normal(3),
                lambda out: (np.ones_like(out),)),
    "linear": (lambda: minirnn.Linear(3, 2, dtype="float64", seed=0), lambda rng: rng.standard_normal((4, 3)),
               lambda out: (np.ones_like(out),)),
    "embedding": (lambda: minirnn.Embedding(6, 3, dtype="float64", seed=0), lambda rng: rng.integers(0, 6, (4, 2)),
                  lambda out: (np.ones_like(out),)),
    "charloop": (lambda: CharLoopModel(6, 4, 8, dtype="float64", seed=0), lambda rng: rng.integers(0, 6, (4, 2)),
                 lambda out: (np.arange(out.size).reshape(out.shape) % 3.0,)),
    "charrnn": (lambda: CharRNN(6, 2, 3, dtype="float64", seed=0), lambda rng: rng.integers(0, 6, (4, 2)),
                lambda out: (np.ones_like(out[0]),)),
    "charloopconcat": (lambda: CharLoopConcatModel(6, 4, 8, dtype="float64", seed=0),
                       lambda rng: rng.integers(0, 6, (4, 2)),
                       lambda out: (np.arange(out.size).reshape(out.shape) % 3.0,)),
    "charseq": (lambda: CharSeqRNN(6, 2, 3, "lstm", every_step=False, dtype="float64", seed=0),
                lambda rng: rng.integers(0, 6, (4, 2)),
                lambda out: (np.arange(out[0].size).reshape(out[0].shape) % 3.0,)),
}


@pytest.mark.parametrize("name", READERS)
def test_every_model_keeps_the_input_it_read_for_its_backward(name):
    make, input_of, gradient_of = READERS[name]
    grads = []
    for overwrite in (False, True):
        model, given = make(), input_of(np.random.default_rng(0))
        out = model(given)
        if overwrite:
            given[...] = 2                               # the caller reuses its array before the backward
        model.backward(*gradient_of(out))
        grads.append(model.grads)
    for key in grads[0]:
        np.testing.assert_array_equal(grads[1][key], grads[0][key])


@pytest.mark.parametrize("name", READERS)
def test_a_refused_gradient_leaves_the_forward_for_a_corrected_backward(name):
    make, input_of, gradient_of = READERS[name]
    model, alone, x = make(), make(), input_of(np.random.default_rng(0))
    alone.backward(*gradient_of(alone(x)))
    out = model(x)
    with pytest.raises((ValueError, TypeError), match="must"):
        model.backward(np.zeros((9, 9, 9, 9)))        # no model's gradient has this shape
    model.backward(*gradient_of(out))
    for key in alone.grads:
        np.testing.assert_array_equal(model.grads[key], alone.grads[key])
    with pytest.raises(RuntimeError, match="needs a forward first"):
        model.backward(*gradient_of(out))             # and the forward served that one backward alone


def test_evaluating_puts_every_child_in_eval_mode_and_restores_the_mode_it_found():
    model = CharRNN(5, emb=3, hidden=4, layers=2, cell="gru", dropout=0.5, seed=0)
    with model.evaluating():
        assert not model.training and not model.rnn.training
    assert model.training and model.rnn.training
    model.eval()
    with model.evaluating():
        pass
    assert not model.training and not model.rnn.training


def test_evaluating_restores_the_mode_when_the_block_raises():
    model = CharRNN(5, emb=3, hidden=4, seed=0)
    with pytest.raises(ValueError), model.evaluating():
        raise ValueError("inside")
    assert model.training and model.rnn.training


@pytest.mark.parametrize("name", MODELS)
def test_a_model_built_for_its_shapes_alone_has_a_real_ones_names_shapes_and_dtypes(name):
    sizes = {"charloop": dict(vocab_size=5, n_fac=3, n_hidden=4), "charrnn": dict(vocab_size=5, emb=3, hidden=4,
                                                                                  layers=2),
             "charloopconcat": dict(vocab_size=5, n_fac=3, n_hidden=4),
             "charseq": dict(vocab_size=5, n_fac=3, n_hidden=4, num_layers=2, identity_init=True)}
    config = dict(sizes.get(name, dict(input_size=3, hidden_size=4)), dtype="float64")
    with shapes_only():
        shapes = build_model(name, **config)
    real = build_model(name, **config)
    assert all(isinstance(value, ParamShape) for value in shapes.params.values())
    assert {k: (tuple(v.shape), v.dtype) for k, v in shapes.params.items()} == \
        {k: (v.shape, v.dtype) for k, v in real.params.items()}
    assert all(isinstance(value, np.ndarray) for value in real.params.values())   # outside, values again
