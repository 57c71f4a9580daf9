"""CharRNN: predict the next character at every step (embedding -> RNN/LSTM/GRU -> linear head).

For ids c_1..c_T of each batch row, from the state carried in (zeros at first):

    x_t      = E[c_t]                         the embedding
    h_t      = rnn(x_t, h_{t-1})              minirnn's RNN, LSTM or GRU, one or more layers
    logits_t = W_head dropout(h_t) + b_head   scores of the character after c_t

Training is stateful truncated BPTT: the caller passes the returned state in as
the next chunk's state, and the backward of a chunk stops at that state, which
is what cuts the gradient between chunks.

Its twin, written plainly, is minirnn/reference/charrnn.py.
"""
from __future__ import annotations

import math

from ..core import backend, checks
from ..layers import GRU, LSTM, RNN
from ..core.module import Module
from ..ops import embedding_backward, embedding_forward, linear_backward, linear_forward

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class CharRNN(Module):
    """A character language model with torch's parameter names.

    Parameters: embedding.weight (V, emb) ~ N(0, 1) as nn.Embedding; the child
    ``rnn`` (rnn.weight_ih_l0 (G*hidden, emb), rnn.weight_hh_l0, rnn.bias_ih_l0,
    rnn.bias_hh_l0, ... per layer) initialised as torch does; head.weight (V, hidden)
    and head.bias (V,) ~ U(-1/sqrt(hidden), 1/sqrt(hidden)) as nn.Linear. The
    equivalent torch module has attributes ``embedding``, ``rnn`` and ``head``.

    dropout: applied between stacked layers (inside ``rnn``) and to the top
    layer's output before the head, so that it acts with one layer too;
    only in training mode.
    """

    def __init__(self, vocab_size: int, emb: int = 64, hidden: int = 256, layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.vocab_size = checks.positive_int("vocab_size", vocab_size)
        self.emb = checks.positive_int("emb", emb)
        self.hidden = checks.positive_int("hidden", hidden)
        self.layers = checks.positive_int("layers", layers)
        self.cell = checks.choice("cell", cell, tuple(CELLS))
        self.dropout = checks.probability("dropout", dropout)
        V, E, H = self.vocab_size, self.emb, self.hidden
        self.add_param("embedding.weight", backend.normal(self.rng, (V, E), self.dtype, self.backend))
        # The child draws its weights (and later its dropout masks) from a seed taken
        # from this model's generator, so one seed fixes the whole model.
        rnn_seed = int(self.rng.integers(2**63))
        self.rnn = self.add_child("rnn", CELLS[cell](E, H, self.layers, dropout=self.dropout, dtype=self.dtype.name,
                                                    seed=rnn_seed))
        bound = 1.0 / math.sqrt(H)
        self.add_param("head.weight", self.init_uniform(bound, (V, H)))
        self.add_param("head.bias", self.init_uniform(bound, (V,)))

    def config(self) -> dict:
        return dict(vocab_size=self.vocab_size, emb=self.emb, hidden=self.hidden, layers=self.layers,
                    cell=self.cell, dropout=self.dropout, dtype=self.dtype.name)

    def initial_state(self, batch: int):
        """Zeros of the state's shape: (layers, B, hidden), or a pair of them for the LSTM."""
        zeros = lambda: self.xp.zeros((self.layers, batch, self.hidden), dtype=self.dtype)  # noqa: E731
        return (zeros(), zeros()) if self.cell == "lstm" else zeros()

    def forward(self, ids, state=None):
        """ids: (T, B) integer character ids; state: the previous chunk's state or None (zeros).

        Returns (logits (T, B, V), state) where state is h_n (layers, B, hidden),
        or (h_n, c_n) for the LSTM, to pass to the next chunk.
        """
        p = self._params
        ids = checks.id_array("ids", ids, ("T", "B"), self.vocab_size, self.xp)
        x, emb_cache = embedding_forward(ids, p["embedding.weight"])          # x_t = E[c_t]    (T, B, emb)
        h, state = self.rnn.forward(x, state)                                 # h_t            (T, B, hidden)
        drop = self.dropout_mask(h.shape, self.dropout)
        if drop is not None:
            h = h * drop
        logits, head_cache = linear_forward(h, p["head.weight"], p["head.bias"])  # W h_t + b  (T, B, V)
        self.save_cache((emb_cache, drop, head_cache, ids.shape))
        return logits, state

    def backward(self, d_logits, d_state=None):
        """d_logits: (T, B, V) dL/d(logits); d_state: dL/d(returned state) or None.

        Adds every parameter's gradient into ``grads`` and returns dL/d(state passed
        in), which truncated BPTT drops.
        """
        emb_cache, drop, head_cache, (T, B) = self.take_cache()
        g = self._grads
        d_logits = checks.float_array("d_logits", d_logits, (T, B, self.vocab_size), self.xp, self.dtype)
        d_h, d_w, d_b = linear_backward(d_logits, head_cache)
        g["head.weight"] += d_w
        g["head.bias"] += d_b
        if drop is not None:
            d_h *= drop
        d_x, d_state0 = self.rnn.backward(d_h, d_state)                    # BPTT through the chunk
        g["embedding.weight"] += embedding_backward(d_x, emb_cache)
        return d_state0
