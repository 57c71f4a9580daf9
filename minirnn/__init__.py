"""minirnn: recurrent networks in NumPy (or CuPy) with backpropagation through time written by hand."""
from . import models
from .core.backend import default_backend, gpu_available, use_backend
from .core.grad_mode import is_grad_enabled, no_grad
from .layers import GRU, LSTM, RNN, Embedding, GRUCell, Linear, LSTMCell, RNNCell
from .ops import cross_entropy, nll_loss

__version__ = "0.1.0"

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Linear", "Embedding", "models", "nll_loss",
           "cross_entropy", "use_backend", "default_backend", "gpu_available", "no_grad", "is_grad_enabled"]
