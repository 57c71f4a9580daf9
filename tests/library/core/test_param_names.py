"""minirnn.core.param_names: the names and shapes it gives are those the layers and cells have, and torch's."""
import pytest

from minirnn.cell_kinds import CELL_KINDS, LAYERS, default_kind
from minirnn.core.param_names import cell_param_shapes, layer_layout, layer_param_names, layer_param_shapes

OPTIONS = [dict(num_layers=1), dict(num_layers=3, bidirectional=True), dict(num_layers=2, bias=False)]


@pytest.mark.parametrize("name", CELL_KINDS)
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_a_layers_parameters_are_the_names_and_shapes_given_in_their_order(name, options):
    kind = CELL_KINDS[name]
    layer = kind.build_layer(3, 4, **options)
    shapes = layer_param_shapes(kind.n_gates, 3, 4, options["num_layers"], options.get("bias", True),
                                options.get("bidirectional", False))
    assert [(k, v.shape) for k, v in layer.params.items()] == list(shapes.items())


@pytest.mark.parametrize("name", CELL_KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_a_cells_parameters_are_the_names_and_shapes_given(name, bias):
    kind = CELL_KINDS[name]
    cell = kind.build_cell(3, 4, bias=bias)
    assert [(k, v.shape) for k, v in cell.params.items()] == list(cell_param_shapes(kind.n_gates, 3, 4, bias).items())


def test_one_layer_and_directions_names_are_the_cells_with_its_suffix():
    assert layer_param_names(1, 1) == ("weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
                                       "bias_hh_l1_reverse")


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (3, True), (2, False)])
def test_the_layout_of_a_state_dict_is_read_back_from_its_names(layers, bidirectional):
    state_dict = CELL_KINDS["gru"].build_layer(2, 3, num_layers=layers, bidirectional=bidirectional).state_dict()
    assert layer_layout(state_dict) == (layers, 2 if bidirectional else 1)


@pytest.mark.parametrize("name", LAYERS)
def test_the_names_and_shapes_are_torchs(torch, name):
    theirs = getattr(torch.nn, LAYERS[name].__name__)(3, 4, num_layers=2, bidirectional=True)
    ours = layer_param_shapes(default_kind(name).n_gates, 3, 4, num_layers=2, bidirectional=True)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == list(ours.items())
