"""minirnn.cell_kinds: each cell kind's line of the table holds together with the classes and functions it names."""
import inspect

import numpy as np
import pytest

from minirnn import GRU, LSTM, RNN, GRUCell, Linear, LSTMCell, RNNCell
from minirnn.cell_kinds import CELL_KINDS, CELLS, LAYERS, default_kind, kind_of
from minirnn.core.param_names import layer_param_names


@pytest.mark.parametrize("name", CELL_KINDS)
def test_a_kinds_layer_and_cell_built_with_its_options_run_its_gate_math(name):
    kind = CELL_KINDS[name]
    assert kind.build_layer(3, 4).gate_math is kind.gate_math
    assert kind.build_cell(3, 4).gate_math is kind.gate_math
    assert kind_of(kind.build_layer(3, 4)) is kind and kind_of(kind.build_cell(3, 4)) is kind


@pytest.mark.parametrize("name", CELL_KINDS)
def test_a_kinds_weights_hold_one_block_of_rows_per_gate(name):
    kind = CELL_KINDS[name]
    layer = kind.build_layer(3, 5)
    assert kind.n_gates == len(kind.gates) == layer.params[layer_param_names(0, 0)[0]].shape[0] // 5


@pytest.mark.parametrize("name", CELL_KINDS)
def test_a_kinds_state_is_what_its_layer_and_cell_return(name):
    kind = CELL_KINDS[name]
    _, state = kind.build_layer(3, 4)(np.zeros((2, 1, 3), np.float32))
    step = kind.build_cell(3, 4)(np.zeros((1, 3), np.float32))
    n_states = len(kind.state_names)
    assert (len(state) if isinstance(state, tuple) else 1) == n_states
    assert (len(step) if isinstance(step, tuple) else 1) == n_states


@pytest.mark.parametrize("name", CELL_KINDS)
def test_a_kinds_reference_step_pair_is_named_for_it(name):
    """The cell check reads a learner's kind from this prefix: lstm_step_forward is an LSTM."""
    forward, backward = CELL_KINDS[name].reference_step
    assert forward.__name__ == f"{name}_step_forward" and backward.__name__ == f"{name}_step_backward"


@pytest.mark.parametrize("name", CELL_KINDS)
def test_a_kinds_reference_layer_computes_what_its_layer_computes(name):
    kind = CELL_KINDS[name]
    layer = kind.build_layer(3, 4, dtype="float64", seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    forward, _ = kind.reference_layer
    output, _, _ = forward(x, layer.state_dict(), *(None,) * len(kind.state_names), *kind.options.values())
    np.testing.assert_allclose(layer(x)[0], output, rtol=0, atol=1e-12)


def test_the_layers_and_cells_are_named_as_the_command_line_names_them():
    assert LAYERS == {"rnn": RNN, "lstm": LSTM, "gru": GRU}
    assert CELLS == {"rnncell": RNNCell, "lstmcell": LSTMCell, "grucell": GRUCell}


def test_a_layers_default_kind_is_the_one_its_defaults_select():
    assert [default_kind(name).name for name in LAYERS] == ["rnn_tanh", "lstm", "gru"]
    assert inspect.signature(RNN).parameters["nonlinearity"].default == "tanh"


def test_the_kind_of_something_that_is_no_layer_is_refused():
    with pytest.raises(TypeError, match="module must be a sequence layer or a one-step cell of minirnn, got Linear"):
        kind_of(Linear(2, 3))


def test_a_kinds_cell_is_named_as_a_user_builds_it():
    assert CELL_KINDS["rnn_relu"].cell_call() == "minirnn.RNNCell(nonlinearity='relu')"
    assert CELL_KINDS["lstm"].cell_call() == "minirnn.LSTMCell"
