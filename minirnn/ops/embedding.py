"""The embedding lookup e[ids]: a row of the table for each id."""
from __future__ import annotations

from ..core import backend


def embedding_forward(ids, weight, out=None):
    """out[...] = weight[ids[...]].

    ids: int array of any shape, weight: (vocab, dim); out: an array of the output's shape and
    weight's dtype to write into (a buffer kept between calls), or None for a new one.
    Returns out (*ids.shape, dim) and the cache for :func:`embedding_backward`.
    """
    if out is None:
        return weight[ids], (ids, weight.shape)
    return backend.array_module(weight).take(weight, ids, axis=0, out=out), (ids, weight.shape)


def embedding_backward(d_out, cache):
    """Gradient of the lookup with respect to the table.

    d_out: (*ids.shape, dim). Returns dW (vocab, dim): each row is the sum of the
    gradients of every position that looked it up (a scatter-add, since an id
    may appear many times).
    """
    ids, shape = cache
    xp = backend.array_module(d_out)
    d_weight = xp.zeros(shape, dtype=d_out.dtype)
    backend.scatter_add(d_weight, ids.reshape(-1), d_out.reshape(-1, shape[1]))
    return d_weight
