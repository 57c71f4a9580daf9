"""The parameters of a recurrent cell and of a recurrent layer, as torch names and shapes them: written here once.

A cell (RNNCell, LSTMCell, GRUCell, and each step pair of minirnn.reference) has four parameters,

    weight_ih (G*H, I)    weight_hh (G*H, H)    bias_ih (G*H,)    bias_hh (G*H,)

with G the cell kind's number of gates, I the input size and H the hidden size (the biases are
left out with bias=False). A sequence layer (RNN, LSTM, GRU) has those four for every layer k and
direction, each name with the suffix ``_l{k}``, and ``_reverse`` after it for the reverse direction:
weight_ih_l0, ..., bias_hh_l1_reverse. Layer k > 0 reads the outputs of layer k - 1, its
directions side by side, so its I is H times the number of directions.

Everything in minirnn that names these parameters (the layers, the reference implementations, the
gradient check, the checkpoints) reads the names here.
"""
from __future__ import annotations

CELL_PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
DIRECTION_SUFFIXES = ("", "_reverse")      # direction 0 reads the sequence forwards, direction 1 from its end


def cell_param_shapes(n_gates: int, input_size: int, hidden_size: int, bias: bool = True) -> dict:
    """name -> shape of a cell's parameters, in CELL_PARAM_NAMES' order; without the biases when bias is False."""
    GH = n_gates * hidden_size
    shapes = dict(zip(CELL_PARAM_NAMES, ((GH, input_size), (GH, hidden_size), (GH,), (GH,))))
    return shapes if bias else {name: shapes[name] for name in CELL_PARAM_NAMES[:2]}


def layer_suffix(layer: int, direction: int) -> str:
    """What one layer and direction (0 or 1) append to the cell's names: "_l0", "_l1_reverse"."""
    return f"_l{layer}{DIRECTION_SUFFIXES[direction]}"


def layer_param_names(layer: int, direction: int) -> tuple:
    """The four names of one layer and direction, in CELL_PARAM_NAMES' order: ("weight_ih_l0", ...)."""
    return tuple(name + layer_suffix(layer, direction) for name in CELL_PARAM_NAMES)


def layer_param_shapes(n_gates: int, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                       bidirectional: bool = False) -> dict:
    """name -> shape of every parameter of a sequence layer, in torch's order: layer by layer, each
    direction, then CELL_PARAM_NAMES' order."""
    directions = 2 if bidirectional else 1
    shapes = {}
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else hidden_size * directions
        for direction in range(directions):
            suffix = layer_suffix(layer, direction)
            shapes.update({name + suffix: shape for name, shape in
                           cell_param_shapes(n_gates, layer_input, hidden_size, bias).items()})
    return shapes


def layer_layout(state_dict) -> tuple[int, int]:
    """(number of layers, number of directions) of a sequence layer's state_dict, read from its names."""
    first, layers = CELL_PARAM_NAMES[0], 0
    while first + layer_suffix(layers, 0) in state_dict:
        layers += 1
    return layers, 2 if first + layer_suffix(0, 1) in state_dict else 1
