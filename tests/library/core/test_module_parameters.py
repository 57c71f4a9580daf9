"""minirnn.Module's parameters as a torch user reaches for them: named_parameters() in torch's names and order,
parameters as attributes, assignment that reaches the live array or is refused, and params/grads mappings that
refuse a new entry instead of dropping it."""
import numpy as np
import pytest

import minirnn
from minirnn.models import CharLoopModel, CharRNN
from minirnn.optim import Adam

# minirnn's module and the torch.nn module with the same constructor arguments.
MODULES = {
    "rnn-relu": (lambda: minirnn.RNN(3, 4, nonlinearity="relu"), lambda nn: nn.RNN(3, 4, nonlinearity="relu")),
    "lstm-2-layers-bidirectional": (lambda: minirnn.LSTM(3, 4, num_layers=2, bidirectional=True),
                                    lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True)),
    "gru-3-layers-no-bias": (lambda: minirnn.GRU(3, 4, num_layers=3, bias=False),
                             lambda nn: nn.GRU(3, 4, num_layers=3, bias=False)),
    "gru-bidirectional": (lambda: minirnn.GRU(3, 4, bidirectional=True), lambda nn: nn.GRU(3, 4, bidirectional=True)),
    "rnncell": (lambda: minirnn.RNNCell(3, 4), lambda nn: nn.RNNCell(3, 4)),
    "lstmcell": (lambda: minirnn.LSTMCell(3, 4), lambda nn: nn.LSTMCell(3, 4)),
    "grucell-no-bias": (lambda: minirnn.GRUCell(3, 4, bias=False), lambda nn: nn.GRUCell(3, 4, bias=False)),
    "linear": (lambda: minirnn.Linear(3, 4), lambda nn: nn.Linear(3, 4)),
    "linear-no-bias": (lambda: minirnn.Linear(3, 4, bias=False), lambda nn: nn.Linear(3, 4, bias=False)),
    "embedding": (lambda: minirnn.Embedding(5, 3), lambda nn: nn.Embedding(5, 3)),
}


def torch_charrnn(nn, cell):
    """CharRNN's torch counterpart: the same attribute names, as a torch user would write it."""
    class CharRNNTorch(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(7, 3)
            self.rnn = getattr(nn, cell.upper())(3, 5, num_layers=2)
            self.head = nn.Linear(5, 7)
    return CharRNNTorch()


def torch_charloop(nn):
    """The article's CharLoopModel: its parts, in the order its __init__ makes them."""
    class CharLoopTorch(nn.Module):
        def __init__(self):
            super().__init__()
            self.e = nn.Embedding(7, 3)
            self.l_in = nn.Linear(3, 5)
            self.l_hidden = nn.Linear(5, 5)
            self.l_out = nn.Linear(5, 7)
    return CharLoopTorch()


MODELS = {
    **{f"charrnn-{cell}": (lambda cell=cell: CharRNN(7, emb=3, hidden=5, layers=2, cell=cell),
                           lambda nn, cell=cell: torch_charrnn(nn, cell)) for cell in ("rnn", "lstm", "gru")},
    "charloop": (lambda: CharLoopModel(7, 3, 5), torch_charloop),
}


def names_and_shapes(pairs):
    return [(name, tuple(value.shape)) for name, value in pairs]


@pytest.mark.parametrize("name", {**MODULES, **MODELS})
def test_named_parameters_have_torchs_names_shapes_and_order(torch, name):
    ours, theirs = {**MODULES, **MODELS}[name]
    assert names_and_shapes(ours().named_parameters()) == names_and_shapes(theirs(torch.nn).named_parameters())


@pytest.mark.parametrize("name", {**MODULES, **MODELS})
def test_named_parameters_and_parameters_are_the_live_arrays_of_params(name):
    model = {**MODULES, **MODELS}[name][0]()
    named = list(model.named_parameters())
    assert [n for n, _ in named] == list(model.params)
    assert all(value is model.params[n] for n, value in named)
    assert all(a is b for a, b in zip(model.parameters(), model.params.values()))


def test_parameters_are_attributes_reading_the_arrays_params_holds():
    lstm = minirnn.LSTM(3, 4, num_layers=2, bidirectional=True, seed=0)
    for name, value in lstm.params.items():
        assert getattr(lstm, name) is value
    model = CharRNN(7, emb=3, hidden=5, seed=0)
    assert model.rnn.weight_hh_l0 is model.params["rnn.weight_hh_l0"]
    assert model.head.weight is model.params["head.weight"]
    assert model.embedding.weight is model.params["embedding.weight"]


def test_an_attribute_follows_its_parameter_through_astype():
    gru = minirnn.GRU(3, 4, seed=0).astype("float64")
    assert gru.weight_ih_l0.dtype == np.float64 and gru.weight_ih_l0 is gru.params["weight_ih_l0"]


def test_a_missing_attribute_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="'LSTM' object has no attribute 'weight_ih_l1'"):
        minirnn.LSTM(3, 4).weight_ih_l1


def test_assigning_a_parameter_writes_into_the_live_array_that_an_optimizer_holds():
    lstm = minirnn.LSTM(3, 4, seed=0)
    live = lstm.weight_hh_l0
    optimizer = Adam(lstm, lr=0.1)
    new = np.full((16, 4), 0.5, np.float32)
    lstm.weight_hh_l0 = new
    assert lstm.weight_hh_l0 is live and lstm.params["weight_hh_l0"] is live
    np.testing.assert_array_equal(dict(optimizer.named_parameters())["weight_hh_l0"], new)
    new[...] = 2                                       # the caller's array stays theirs
    assert (live == 0.5).all()


def test_assigning_a_childs_parameter_through_the_model_reaches_the_models_params():
    model = CharRNN(7, emb=3, hidden=5, seed=0)
    model.head.bias = np.zeros(7, np.float32)
    assert not model.params["head.bias"].any()


@pytest.mark.parametrize("value, error, message", [
    (np.zeros((4, 16), np.float32), ValueError, r"LSTM\.weight_hh_l0 must be a \(16, 4\) float32 array .*"
                                                r"got \(4, 16\) float32"),
    (np.zeros((16, 4)), TypeError, r"LSTM\.weight_hh_l0 must be a \(16, 4\) float32 array .* got \(16, 4\) float64"),
    ([[0.0] * 4] * 16, TypeError, r"LSTM\.weight_hh_l0 must be a \(16, 4\) float32 array .* got list"),
    (None, TypeError, r"got NoneType"),
], ids=["shape", "dtype", "list", "none"])
def test_assigning_a_parameter_of_another_shape_or_dtype_is_refused_and_changes_nothing(value, error, message):
    lstm = minirnn.LSTM(3, 4, seed=0)
    before = lstm.weight_hh_l0.copy()
    with pytest.raises(error, match=message):
        lstm.weight_hh_l0 = value
    np.testing.assert_array_equal(lstm.weight_hh_l0, before)


@pytest.mark.parametrize("make, name", [(lambda: minirnn.Linear(3, 2, bias=False), "bias"),
                                        (lambda: minirnn.GRU(3, 4, num_layers=2, bias=False), "bias_hh_l1"),
                                        (lambda: minirnn.LSTMCell(3, 4, bias=False), "bias_ih")],
                         ids=["linear", "gru", "lstmcell"])
def test_assigning_a_bias_a_module_was_built_without_is_refused_not_stored_where_nothing_reads_it(make, name):
    module = make()
    with pytest.raises(AttributeError, match=rf"has no parameter '{name}' to assign: it was built with bias=False"):
        setattr(module, name, np.zeros(8, np.float32))
    assert name not in module.params and name not in vars(module)


def test_reading_a_bias_a_recurrent_layer_was_built_without_says_why():
    with pytest.raises(AttributeError, match="'RNN' object has no attribute 'bias_ih_l0': it was built with "
                                             "bias=False"):
        minirnn.RNN(3, 4, bias=False).bias_ih_l0
    assert minirnn.Linear(3, 2, bias=False).bias is None       # as torch's Linear


def test_a_new_entry_in_params_is_refused_with_what_to_do_instead():
    lstm = minirnn.LSTM(3, 4, seed=0)
    before = lstm.state_dict()
    with pytest.raises(TypeError, match=r"params\['weight_hh_l0'\] = \.\.\. would change a copy of the mapping and "
                                        r"not the model: write into the array, params\['weight_hh_l0'\]\[\.\.\.\] = "
                                        r"value, or assign the parameter's attribute, or use load_state_dict"):
        lstm.params["weight_hh_l0"] = np.zeros((16, 4), np.float32)
    with pytest.raises(TypeError, match=r"grads\['weight_hh_l0'\] = \.\.\. would change a copy"):
        lstm.grads["weight_hh_l0"] = np.zeros((16, 4), np.float32)
    with pytest.raises(TypeError, match="params cannot lose an entry"):
        del lstm.params["weight_hh_l0"]
    for name, value in before.items():
        np.testing.assert_array_equal(lstm.params[name], value)


def test_params_and_grads_change_in_place_through_the_mapping():
    linear = minirnn.Linear(3, 2, seed=0)
    start = linear.weight.copy()
    linear.params["weight"][...] = 1.0
    linear.grads["weight"] += 2.0                      # Python stores the same array back: allowed
    linear.params["weight"] -= 0.5 * linear.grads["weight"]
    np.testing.assert_array_equal(linear.weight, np.zeros_like(start))


class Net(minirnn.Module):
    """A torch user's model: modules assigned to attributes."""

    def __init__(self):
        super().__init__()
        self.embedding = minirnn.Embedding(7, 3, seed=0)
        self.lstm = minirnn.LSTM(3, 5, seed=1)
        self.head = minirnn.Linear(5, 7, seed=2)


def test_a_module_assigned_to_an_attribute_is_a_child_as_in_torch():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
        "head.weight", "head.bias"]
    assert net.lstm.weight_ih_l0 is net.params["lstm.weight_ih_l0"]


def test_a_module_assigned_before_module_init_is_refused():
    class Early(minirnn.Module):
        def __init__(self):
            self.lstm = minirnn.LSTM(3, 5)
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) has run: call super\(\).__init__\(\) first"):
        Early()


def test_module_is_exported_with_train_and_eval_that_reach_every_child():
    net = Net()
    assert minirnn.Module is type(net).__mro__[1]
    assert net.eval() is net and not any(m.training for _, m in net.named_modules())
    assert net.train() is net and all(m.training for _, m in net.named_modules())
