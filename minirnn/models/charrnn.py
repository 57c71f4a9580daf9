"""CharRNN: predict the next character at every step (embedding -> RNN/LSTM/GRU -> linear head).

For ids c_1..c_T of each batch row, from the state carried in (zeros at first):

    x_t      = E[c_t]                         the embedding
    h_t      = rnn(x_t, h_{t-1})              minirnn's RNN, LSTM or GRU, one or more layers
    logits_t = W_head dropout(h_t) + b_head   scores of the character after c_t

Training is stateful truncated BPTT: the caller passes the returned state in as
the next chunk's state, and the backward of a chunk stops at that state, which
is what cuts the gradient between chunks.

Its reference implementation, written plainly, is minirnn/reference/charrnn.py.
"""
from __future__ import annotations

from ..cell_kinds import LAYERS
from ..core import validate
from ..core.module import Module
from ..layers import Embedding, Linear


class CharRNN(Module):
    """A character language model with torch's parameter names.

    Children, as the equivalent torch module's attributes: ``embedding``, an
    Embedding (embedding.weight (V, emb) ~ N(0, 1)); ``rnn``, the RNN, LSTM or GRU
    that ``cell`` names ("rnn", "lstm" or "gru", minirnn.cell_kinds.LAYERS)
    (rnn.weight_ih_l0 (G*hidden, emb), rnn.weight_hh_l0, rnn.bias_ih_l0,
    rnn.bias_hh_l0, ... per layer); ``head``, a Linear (head.weight (V, hidden),
    head.bias (V,) ~ U(-1/sqrt(hidden), 1/sqrt(hidden))), each initialised as torch does.

    dropout: applied between stacked layers (inside ``rnn``) and to the top
    layer's output before the head, so that it acts with one layer too;
    only in training mode.
    """

    def __init__(self, vocab_size: int, emb: int = 64, hidden: int = 256, layers: int = 1, cell: str = "lstm",
                 dropout: float = 0.0, dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.vocab_size = validate.positive_int("vocab_size", vocab_size)
        self.emb = validate.positive_int("emb", emb)
        self.hidden = validate.positive_int("hidden", hidden)
        self.layers = validate.positive_int("layers", layers)
        self.cell = validate.choice("cell", cell, tuple(LAYERS))
        self.dropout = validate.probability("dropout", dropout)
        V, E, H = self.vocab_size, self.emb, self.hidden
        dtype = self.dtype.name

        self.embedding = self.add_child("embedding", Embedding(V, E, dtype, seed=self.child_seed()))
        between_layers = self.dropout if self.layers > 1 else 0.0   # one layer has nothing between
        self.rnn = self.add_child("rnn", LAYERS[cell](E, H, self.layers, dropout=between_layers, dtype=dtype,
                                                    seed=self.child_seed()))
        self.head = self.add_child("head", Linear(H, V, dtype=dtype, seed=self.child_seed()))

    def config(self) -> dict:
        return dict(vocab_size=self.vocab_size, emb=self.emb, hidden=self.hidden, layers=self.layers,
                    cell=self.cell, dropout=self.dropout, dtype=self.dtype.name)

    def initial_state(self, batch: int):
        """Zeros of the state's shape: (layers, B, hidden), or a pair of them for the LSTM."""
        zeros = tuple(self.xp.zeros((self.layers, batch, self.hidden), dtype=self.dtype)
                      for _ in self.rnn.gate_math.state_names)
        return zeros if len(zeros) > 1 else zeros[0]

    def forward(self, ids, state=None):
        """ids: (T, B) integer character ids; state: the previous chunk's state or None (zeros).

        Returns (logits (T, B, V), state) where state is h_n (layers, B, hidden),
        or (h_n, c_n) for the LSTM, to pass to the next chunk.
        """
        ids = validate.id_array("ids", ids, ("T", "B"), None, self.xp)   # their range: checked by the embedding
        x = self.embedding(ids)                                # x_t = E[c_t]    (T, B, emb)
        h, state = self.rnn(x, state)                          # h_t            (T, B, hidden)
        drop = self.dropout_mask(h.shape, self.dropout)
        if drop is not None:
            h = h * drop
        logits = self.head(h)                                  # W h_t + b      (T, B, V)
        self.save_cache((drop, ids.shape))
        return logits, state

    def backward(self, d_logits, d_state=None):
        """d_logits: (T, B, V) dL/d(logits); d_state: dL/d(returned state) or None.

        Adds every parameter's gradient into ``grads`` and returns dL/d(state passed
        in), which truncated BPTT drops.
        """
        drop, (T, B) = self.last_cache()
        d_logits = validate.float_array("d_logits", d_logits, (T, B, self.vocab_size), self.xp, self.dtype)
        self.release_cache()
        d_h = self.head.backward(d_logits)
        if drop is not None:
            d_h *= drop
        d_x, d_state0 = self.rnn.backward(d_h, d_state)        # BPTT through the chunk
        self.embedding.backward(d_x)
        return d_state0
