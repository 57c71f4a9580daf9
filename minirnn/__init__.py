"""minirnn: recurrent networks in NumPy (or CuPy) with backpropagation through time written by hand.

The library is everything here but ``minirnn.tools``: arrays and modules (core), the building-block
ops, each cell's gate math (gates), the sequence layers, the models, their plain reference versions
(reference), the gradient check, the optimizers, data, checkpoints and sampling. It needs NumPy alone.
``minirnn.tools`` holds what is built on it (the command line, training runs, the study tools, the
benchmark, the GPU check) and is never imported by the library.
"""
from . import models, optim
from .core.backend import default_backend, gpu_available, use_backend
from .core.grad_mode import is_grad_enabled, no_grad
from .core.module import Module
from .core.threads import set_num_threads
from .layers import GRU, LSTM, RNN, Embedding, GRUCell, Linear, LSTMCell, RNNCell
from .ops import cross_entropy, nll_loss

__version__ = "0.1.0"

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Linear", "Embedding", "Module", "models", "optim",
           "nll_loss", "cross_entropy", "use_backend", "default_backend", "gpu_available", "no_grad",
           "is_grad_enabled", "set_num_threads"]
