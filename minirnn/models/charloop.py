"""The article's character model, CharLoopModel, with its backward written out.

For each character c_t of a window, from h_0 = 0:

    inp_t = relu(l_in(e[c_t]))
    h_t   = tanh(l_hidden(h_{t-1} + inp_t))
    log p = log_softmax(l_out(h_T))

Since l_hidden(h + inp) = inp W^T + b + h W^T, this is exactly an Elman RNN
step whose input and hidden weights are the same matrix W = l_hidden.weight:
the model reuses the shared unroll with W in both places, and l_hidden.weight's
gradient is the sum of the two gradients the unroll reports.

Its reference implementation, the article's loop as written, is minirnn/reference/charloop.py.
"""
from __future__ import annotations

from ..core import validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module
from ..gates import RNN_TANH_GATE_MATH
from ..layers import Embedding, Linear
from ..layers.unroll import unroll_backward, unroll_forward
from ..ops import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
    log_softmax_backward,
    log_softmax_forward,
    relu_backward,
    relu_forward,
)


class CharLoopModel(Module):
    """Predict the character after a window of characters (the article's model).

    Its parts are the article's PyTorch module's, under the same names, so that
    state dicts move both ways: ``e``, an Embedding (e.weight (V, n_fac), N(0, 1));
    ``l_in``, ``l_hidden`` and ``l_out``, Linears (l_in.weight (n_hidden, n_fac),
    l_in.bias; l_hidden.weight (n_hidden, n_hidden), l_hidden.bias; l_out.weight
    (V, n_hidden), l_out.bias), each initialised as torch does.

    The forward applies the parts' ops to their weights rather than calling the
    parts, so that each equation above is one line with names of its own (as
    ``minirnn explain`` prints it), and the backward undoes them line by line.
    """

    def __init__(self, vocab_size: int, n_fac: int, n_hidden: int, dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.vocab_size = validate.positive_int("vocab_size", vocab_size)
        self.n_fac = validate.positive_int("n_fac", n_fac)
        self.n_hidden = validate.positive_int("n_hidden", n_hidden)
        V, F, H, dtype = self.vocab_size, self.n_fac, self.n_hidden, self.dtype.name

        def child_seed() -> int:   # each part's weights from a seed of this model's: one seed fixes all
            return int(self.rng.integers(2**63))

        self.e = self.add_child("e", Embedding(V, F, dtype, seed=child_seed()))
        self.l_in = self.add_child("l_in", Linear(F, H, dtype=dtype, seed=child_seed()))
        self.l_hidden = self.add_child("l_hidden", Linear(H, H, dtype=dtype, seed=child_seed()))
        self.l_out = self.add_child("l_out", Linear(H, V, dtype=dtype, seed=child_seed()))

    def config(self) -> dict:
        return dict(vocab_size=self.vocab_size, n_fac=self.n_fac, n_hidden=self.n_hidden, dtype=self.dtype.name)

    def forward(self, cs):
        """cs: (T, B) integer character ids. Returns log-probabilities (B, V) of the next character."""
        p, xp = self.params, self.xp
        cs = validate.id_array("cs", cs, ("T", "B"), self.vocab_size, xp)
        if is_grad_enabled():
            cs = cs.copy()   # the cache keeps cs for dL/de: the caller may change theirs before backward
        emb, emb_cache = embedding_forward(cs, p["e.weight"])                     # e[c_t]      (T, B, F)
        pre_in, in_cache = linear_forward(emb, p["l_in.weight"], p["l_in.bias"])  # l_in(e[c_t]) (T, B, H)
        inp, relu_cache = relu_forward(pre_in)                                    # inp_t
        # inp_t W^T + b for every step at once; the h_{t-1} W^T half is added inside the loop.
        x_proj, hidden_cache = linear_forward(inp, p["l_hidden.weight"], p["l_hidden.bias"])
        h0 = xp.zeros((cs.shape[1], self.n_hidden), dtype=self.dtype)
        states, unroll_cache = unroll_forward(RNN_TANH_GATE_MATH, x_proj, p["l_hidden.weight"], None, (h0,))
        logits, out_cache = linear_forward(states[0][-1], p["l_out.weight"], p["l_out.bias"])
        logp, logp_cache = log_softmax_forward(logits)
        self.save_cache((emb_cache, in_cache, relu_cache, hidden_cache, unroll_cache, out_cache, logp_cache))
        return logp

    def backward(self, d_logp) -> None:
        """d_logp: (B, V), dL/d(log p). Adds every parameter's gradient into ``grads``."""
        emb_cache, in_cache, relu_cache, hidden_cache, unroll_cache, out_cache, logp_cache = self.take_cache()
        d_logp = validate.float_array("d_logp", d_logp, (unroll_cache.gates.shape[1], self.vocab_size),
                                    self.xp, self.dtype)
        d_logits = log_softmax_backward(d_logp, logp_cache)
        d_h_last, d_w_out, d_b_out = linear_backward(d_logits, out_cache)
        d_x_proj, _, d_w_recurrent, _ = unroll_backward(unroll_cache, None, (d_h_last,))  # BPTT
        d_inp, d_w_input, d_b_hidden = linear_backward(d_x_proj, hidden_cache)
        d_pre_in = relu_backward(d_inp, relu_cache)
        d_emb, d_w_in, d_b_in = linear_backward(d_pre_in, in_cache)
        self.add_grads([("l_out.weight", d_w_out), ("l_out.bias", d_b_out),
                        ("l_hidden.weight", d_w_input + d_w_recurrent),   # W is used on inp_t and on h_{t-1}
                        ("l_hidden.bias", d_b_hidden), ("l_in.weight", d_w_in), ("l_in.bias", d_b_in),
                        ("e.weight", embedding_backward(d_emb, emb_cache))])
