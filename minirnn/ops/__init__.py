"""Building blocks as forward/backward pairs with an explicit cache.

Each ``*_forward`` returns ``(output, cache)``; the matching ``*_backward`` takes
the gradient of the output and that cache and returns the gradient of every
input. No block holds state: models own their parameters and caches.
"""
from .activations import log_softmax_backward, log_softmax_forward, relu_backward, relu_forward, sigmoid
from .embedding import embedding_backward, embedding_forward
from .linear import linear_backward, linear_forward
from .losses import cross_entropy, nll_loss

__all__ = [
    "linear_forward", "linear_backward", "embedding_forward", "embedding_backward",
    "relu_forward", "relu_backward", "sigmoid",
    "log_softmax_forward", "log_softmax_backward", "nll_loss", "cross_entropy",
]
