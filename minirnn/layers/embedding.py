"""Embedding: a table of vectors looked up by id, mirroring torch.nn.Embedding (characters into an RNN)."""
from __future__ import annotations

from ..core import validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module
from ..ops import embedding_backward, embedding_forward


class Embedding(Module):
    """out[...] = weight[ids[...]]: row ``id`` of the table for each id (torch.nn.Embedding).

    Parameter weight (num_embeddings, embedding_dim), drawn from N(0, 1) as torch
    does: ``params["weight"]``, also reachable as ``weight``. forward(ids) -> vectors;
    backward(d_out) adds into ``grads`` and returns None, since integer ids have no
    gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.num_embeddings = validate.positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = validate.positive_int("embedding_dim", embedding_dim)
        self.add_param("weight", self.init_normal((self.num_embeddings, self.embedding_dim)))

    @property
    def weight(self):
        return self._params["weight"]

    def config(self) -> dict:
        return dict(num_embeddings=self.num_embeddings, embedding_dim=self.embedding_dim, dtype=self.dtype.name)

    def forward(self, ids):
        """ids: integer array of any shape, each in [0, num_embeddings). Returns (*ids.shape, embedding_dim)."""
        ids = validate.id_array("ids", ids, (...,), self.num_embeddings, self.xp)
        if is_grad_enabled():
            ids = ids.copy()   # the cache keeps ids for the backward: the caller may change theirs before it
        out, cache = embedding_forward(ids, self.weight)   # e[ids]
        self.save_cache((cache, out.shape))
        return out

    def backward(self, d_out) -> None:
        """d_out: dL/d(out), out's shape. Adds dL/dW into ``grads`` (each row sums the positions that read it)."""
        cache, out_shape = self.last_cache()
        d_out = validate.float_array("d_out", d_out, out_shape, self.xp, self.dtype)
        self.release_cache()
        self.add_grads([("weight", embedding_backward(d_out, cache))])
