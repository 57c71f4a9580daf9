"""CharSeqRNN: the course notebook's models built on a recurrent layer (torch's nn.RNN or nn.LSTM).

For ids c_1..c_T of each batch row, from the state handed in (zeros at first):

    x_t       = e[c_t]                          the embedding
    h_t       = rnn(x_t, h_{t-1})               minirnn's RNN (tanh), LSTM or GRU, one or more layers
    log p_t   = log_softmax(l_out(h_t))         at every step, or at the last step only

One class holds the notebook's five: CharRnn (``every_step=False``: the next character after a
window), CharSeqRnn (a prediction at every step), the same with ``identity_init`` (weight_hh
starts as the identity), CharSeqStatefulRnn and CharSeqStatefulLSTM (``cell="lstm"``), which hand
the state on from one batch to the next, and CharSeqStatefulLSTM2 (``num_layers=2,
dropout=0.25``: dropout between the layers, as torch's nn.LSTM applies it). The state handed on is
what ``forward`` returns; the backward of a batch stops at the state it was given, which is what
cuts the gradient between batches (the notebook's ``repackage_var``).

Its reference implementation, written plainly, is minirnn/reference/charseq.py.
"""
from __future__ import annotations

from ..cell_kinds import LAYERS
from ..core import validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module, ParamShape
from ..core.param_names import layer_param_names
from ..layers import Embedding, Linear
from ..ops import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
    log_softmax_backward,
    log_softmax_forward,
)


class CharSeqRNN(Module):
    """The course's character models on a recurrent layer, with the notebook's parameter names.

    Parts, as the notebook's torch modules name them and initialised as torch does: ``e``, an
    Embedding (e.weight (V, n_fac), N(0, 1)); ``rnn``, an RNN, LSTM or GRU of ``num_layers``
    layers (rnn.weight_ih_l0 (G*n_hidden, n_fac), rnn.weight_hh_l0, rnn.bias_ih_l0,
    rnn.bias_hh_l0, ... per layer); ``l_out``, a Linear (l_out.weight (V, n_hidden), l_out.bias).

    every_step: a prediction after every character (log p (T, B, V)), or after the last one
        only (log p (B, V), the notebook's CharRnn).
    dropout: between stacked layers, in training mode only (torch's nn.LSTM(dropout=...)).
    identity_init: start every layer's weight_hh as the identity matrix (cell "rnn" only, whose
        weight_hh is square), so that at first the state passes from step to step unchanged.
    """

    def __init__(self, vocab_size: int, n_fac: int, n_hidden: int, cell: str = "rnn", num_layers: int = 1,
                 dropout: float = 0.0, every_step: bool = True, identity_init: bool = False, dtype="float32",
                 seed: int | None = None):
        super().__init__(dtype, seed)
        self.vocab_size = validate.positive_int("vocab_size", vocab_size)
        self.n_fac = validate.positive_int("n_fac", n_fac)
        self.n_hidden = validate.positive_int("n_hidden", n_hidden)
        self.cell = validate.choice("cell", cell, tuple(LAYERS))
        self.num_layers = validate.positive_int("num_layers", num_layers)
        self.dropout = validate.probability("dropout", dropout)
        self.every_step = validate.boolean("every_step", every_step)
        self.identity_init = validate.boolean("identity_init", identity_init)
        if self.identity_init and self.cell != "rnn":
            raise ValueError(f"identity_init sets weight_hh to the identity, which is square for cell='rnn' only, "
                             f"got cell={cell!r}")
        V, F, H, dtype = self.vocab_size, self.n_fac, self.n_hidden, self.dtype.name

        self.e = self.add_child("e", Embedding(V, F, dtype, seed=self.child_seed()))
        self.rnn = self.add_child("rnn", LAYERS[cell](F, H, self.num_layers, dropout=self.dropout, dtype=dtype,
                                                     seed=self.child_seed()))
        self.l_out = self.add_child("l_out", Linear(H, V, dtype=dtype, seed=self.child_seed()))
        if self.identity_init:
            for layer in range(self.num_layers):
                _, weight_hh_name, _, _ = layer_param_names(layer, 0)
                weight_hh = self.rnn.params[weight_hh_name]
                if not isinstance(weight_hh, ParamShape):      # a model built for its shapes alone has no values
                    weight_hh[...] = self.xp.eye(H, dtype=self.dtype)

    def config(self) -> dict:
        return dict(vocab_size=self.vocab_size, n_fac=self.n_fac, n_hidden=self.n_hidden, cell=self.cell,
                    num_layers=self.num_layers, dropout=self.dropout, every_step=self.every_step,
                    identity_init=self.identity_init, dtype=self.dtype.name)

    def forward(self, cs, state=None):
        """cs: (T, B) integer character ids; state: what the previous batch returned, or None (zeros).

        Returns (log p, state): log p (T, B, V) with every_step, else (B, V) after the last
        character; state is h_n (num_layers, B, n_hidden), or (h_n, c_n) for the LSTM, to hand
        to the next batch.
        """
        p = self.params
        cs = validate.id_array("cs", cs, ("T", "B"), self.vocab_size, self.xp)
        if is_grad_enabled():
            cs = cs.copy()   # the cache keeps cs for the backward: the caller may change theirs before it
        x, e_cache = embedding_forward(cs, p["e.weight"])                # x_t = e[c_t]      (T, B, n_fac)
        h, state = self.rnn(x, state)                                     # h_t              (T, B, n_hidden)
        read = h if self.every_step else h[-1]                            # what l_out reads
        logits, out_cache = linear_forward(read, p["l_out.weight"], p["l_out.bias"])   # l_out(h_t)
        logp, logp_cache = log_softmax_forward(logits)
        self.save_cache((e_cache, out_cache, logp_cache))
        return logp, state

    def backward(self, d_logp, d_state=None):
        """d_logp: dL/d(log p), log p's shape; d_state: dL/d(returned state), or None.

        Adds every parameter's gradient into ``grads`` and returns dL/d(state handed in), which
        a run that hands the state on from batch to batch drops: that cuts the gradient there.
        """
        e_cache, out_cache, logp_cache = self.last_cache()
        d_logp = validate.float_array("d_logp", d_logp, logp_cache.shape, self.xp, self.dtype)
        self.release_cache()
        d_logits = log_softmax_backward(d_logp, logp_cache)
        d_read, d_w_out, d_b_out = linear_backward(d_logits, out_cache)
        if self.every_step:
            d_x, d_state0 = self.rnn.backward(d_read, d_state)            # BPTT through the batch
        else:   # the last output is the top layer's final h: its gradient joins that of the state
            d_x, d_state0 = self.rnn.backward(None, self._top_h_gradient(d_read, d_state))
        self.add_grads([("l_out.weight", d_w_out), ("l_out.bias", d_b_out),
                        ("e.weight", embedding_backward(d_x, e_cache))])
        return d_state0

    def _top_h_gradient(self, d_h_last, d_state):
        """d_state with d_h_last (B, n_hidden) added to the top layer's part of dL/dh_n."""
        xp = self.xp
        names = tuple(f"d_{name}_n" for name in self.rnn.gate_math.state_names)
        shape = (self.num_layers, d_h_last.shape[0], self.n_hidden)
        d_h_n, *d_rest = validate.state_arrays(names, d_state, shape, xp, self.dtype)
        d_h_n = xp.zeros(shape, self.dtype) if d_h_n is None else d_h_n.copy()   # the caller's stays as it was
        d_h_n[-1] += d_h_last
        return (d_h_n, *d_rest) if d_rest else d_h_n
