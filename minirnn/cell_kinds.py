"""The cell kinds minirnn has, rnn_tanh, rnn_relu, lstm and gru: each declared once, in CELL_KINDS.

A cell kind is one line of the table below, which names everything minirnn has of that kind:

    gate math        minirnn.gates: its gate letters and their number (the blocks of H rows in the
                     weights), the state it carries, its NumPy lines and its CUDA kernels
    reference        minirnn.reference: its step pair, and the sequence functions that run it
    layer, cell      minirnn.layers: its sequence layer (RNN, LSTM, GRU) and its one-step cell
                     (RNNCell, LSTMCell, GRUCell), with the options that select it (RNN's nonlinearity)

Everything else that needs a fact of a kind reads it here: the checkpoints, the gradient check and
the cell check, the benchmark, the GPU check, the study tools and the tests.

Why a module of its own, above minirnn.layers and minirnn.reference: the layers need their gate
math to run, so the gate math (with its gates and state names) lives below them, in minirnn.gates,
and each layer class names the gate math it runs. The table ties each gate math to its layer,
cell and reference implementation, so it imports all of them; nothing below it imports it. The
models import it (CharRNN builds its recurrent layer from LAYERS) and so does everything above.
The tests hold the table to the classes: each kind's layer and cell, built with its options, run
its gate math.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from . import reference
from .gates import GRU_GATE_MATH, LSTM_GATE_MATH, RNN_GATE_MATH, RNN_RELU_GATE_MATH, RNN_TANH_GATE_MATH, GateMath
from .layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell


@dataclass(frozen=True)
class CellKind:
    """One kind of recurrent cell, and everything minirnn has of it (see the module docstring)."""
    title: str                  # how a message names it: "an LSTM"
    label: str                  # how a figure's legend names it: "LSTM"
    gate_math: GateMath
    reference_step: tuple       # (step_forward, step_backward): one step, minirnn.reference
    reference_layer: tuple      # (forward, backward): minirnn.reference's version of the layer
    layer: type                 # the sequence layer, a minirnn.layers.Recurrent
    cell: type                  # the one-step cell, a minirnn.layers.RecurrentCell
    options: dict = field(default_factory=dict)   # what the layer and the cell are given to run this kind

    @property
    def name(self) -> str:
        """"rnn_tanh", "rnn_relu", "lstm" or "gru": the gate math's name, and the prefix of the
        reference step pair's names (lstm_step_forward)."""
        return self.gate_math.name

    @property
    def gates(self) -> tuple:
        """The gate letters, in the order of their blocks of H rows in the weights: ("i", "f", "g", "o")."""
        return self.gate_math.gates

    @property
    def n_gates(self) -> int:
        return self.gate_math.n_gates

    @property
    def state_names(self) -> tuple:
        """The state carried from step to step: ("h",), or ("h", "c") for the LSTM."""
        return self.gate_math.state_names

    @property
    def layer_name(self) -> str:
        """The name of its layer, as CharRNN's ``cell`` and the model table say it: "rnn", "lstm", "gru"."""
        return self.layer.__name__.lower()

    def build_layer(self, input_size: int, hidden_size: int, **settings):
        """A new sequence layer of this kind; settings: the layer's other arguments (num_layers, seed, ...)."""
        return self.layer(input_size, hidden_size, **self.options, **settings)

    def build_cell(self, input_size: int, hidden_size: int, **settings):
        """A new one-step cell of this kind; settings: the cell's other arguments (bias, dtype, seed)."""
        return self.cell(input_size, hidden_size, **self.options, **settings)

    def cell_call(self) -> str:
        """How a user writes this kind's one-step cell: "minirnn.RNNCell(nonlinearity='relu')", "minirnn.LSTMCell"."""
        options = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"minirnn.{self.cell.__name__}" + (f"({options})" if options else "")


def _nonlinearity(gate_math: GateMath) -> dict:
    """The option that makes RNN and RNNCell run ``gate_math``: its key in RNN_GATE_MATH."""
    return dict(nonlinearity=next(key for key, value in RNN_GATE_MATH.items() if value is gate_math))


CELL_KINDS = {kind.name: kind for kind in (
    CellKind("a tanh RNN", "RNN (tanh)", RNN_TANH_GATE_MATH,
             (reference.rnn_tanh_step_forward, reference.rnn_tanh_step_backward),
             (reference.rnn_forward, reference.rnn_backward), RNN, RNNCell, _nonlinearity(RNN_TANH_GATE_MATH)),
    CellKind("a ReLU RNN", "RNN (relu)", RNN_RELU_GATE_MATH,
             (reference.rnn_relu_step_forward, reference.rnn_relu_step_backward),
             (reference.rnn_forward, reference.rnn_backward), RNN, RNNCell, _nonlinearity(RNN_RELU_GATE_MATH)),
    CellKind("an LSTM", "LSTM", LSTM_GATE_MATH, (reference.lstm_step_forward, reference.lstm_step_backward),
             (reference.lstm_forward, reference.lstm_backward), LSTM, LSTMCell),
    CellKind("a GRU", "GRU", GRU_GATE_MATH, (reference.gru_step_forward, reference.gru_step_backward),
             (reference.gru_forward, reference.gru_backward), GRU, GRUCell),
)}

# The sequence layers and the one-step cells by name ("rnn": RNN, ...; "rnncell": RNNCell, ...), as
# CharRNN's ``cell``, the model table (minirnn.models.MODELS) and the command line name them.
LAYERS = {kind.layer_name: kind.layer for kind in CELL_KINDS.values()}
CELLS = {kind.cell.__name__.lower(): kind.cell for kind in CELL_KINDS.values()}


def kind_of(module) -> CellKind:
    """The kind of a sequence layer or one-step cell, from the gate math it runs."""
    gate_math = getattr(module, "gate_math", None)
    found = next((kind for kind in CELL_KINDS.values() if kind.gate_math is gate_math), None)
    if found is None:
        raise TypeError(f"module must be a sequence layer or a one-step cell of minirnn, got {type(module).__name__}")
    return found


def default_kind(layer_name: str) -> CellKind:
    """The kind a layer named ``layer_name`` ("rnn", "lstm", "gru") runs with its default options: for
    "rnn", rnn_tanh (RNN's nonlinearity is "tanh" unless told otherwise)."""
    def is_default(kind: CellKind) -> bool:
        parameters = inspect.signature(kind.layer).parameters
        return all(parameters[key].default == value for key, value in kind.options.items())
    return next(kind for kind in CELL_KINDS.values() if kind.layer_name == layer_name and is_default(kind))
