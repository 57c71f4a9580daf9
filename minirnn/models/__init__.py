"""Complete models built from the layers, and the table of every model minirnn builds by name.

MODELS names each model a caller can build: the sequence layer and the one-step cell of each cell
kind (minirnn.cell_kinds), the article's CharLoopModel and the CharRNN language model. A new model
joins it with one line. :func:`build_model` builds one from its constructor's arguments; every part
of minirnn that builds a model by name (training, checkpoints, explain, gradient flow, the benchmark,
the gradient check) calls it.
"""
from ..cell_kinds import CELLS, LAYERS
from ..core import validate
from .charloop import CharLoopModel
from .charrnn import CharRNN

MODELS = {
    **LAYERS,                      # "rnn", "lstm", "gru": minirnn.RNN, LSTM, GRU
    **CELLS,                       # "rnncell", "lstmcell", "grucell": one time step of each
    "charloop": CharLoopModel,     # the article's character model
    "charrnn": CharRNN,            # embedding -> RNN, LSTM or GRU -> linear head at every step
}


def build_model(name: str, **config):
    """A new model of ``MODELS[name]``, from its constructor's arguments (sizes, options, dtype, seed).

    build_model("lstm", input_size=10, hidden_size=20, seed=0) is LSTM(10, 20, seed=0).
    """
    return MODELS[validate.choice("model", name, tuple(MODELS))](**config)


__all__ = ["CharLoopModel", "CharRNN", "MODELS", "build_model"]
