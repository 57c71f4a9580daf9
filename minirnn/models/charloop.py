"""The article's character model, CharLoopModel, with its backward written out.

For each character c_t of a window, from h_0 = 0:

    inp_t = relu(l_in(e[c_t]))
    h_t   = tanh(l_hidden(h_{t-1} + inp_t))
    log p = log_softmax(l_out(h_T))

The time loop computes l_hidden(h_{t-1} + inp_t) as the article writes it: the sum first, then
one product by W = l_hidden.weight per step. (Splitting it into inp_t W^T for all steps at once
plus h_{t-1} W^T per step, as an Elman RNN does, would take two products where one serves.) The
backward takes one product per step, dL/d(h_{t-1} + inp_t) = dL/da_t W, which is the gradient of
both h_{t-1} and inp_t, and W's gradient is one product over all steps after the loop.

inp_t depends on the character c_t alone, so it is computed once per character of the
vocabulary, relu(l_in(e)) for the whole table e (V rows), and looked up for each of the T*B
characters of a batch; its backward sums each character's gradients into its row first.

Its reference implementation, the article's loop as written, is minirnn/reference/charloop.py.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..core import backend, validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module
from ..core.workspace import Workspaces
from ..layers import Embedding, Linear
from ..layers.unroll import buffer
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


class LoopCache(NamedTuple):
    """What :func:`loop_backward` needs: hs (T+1, B, H), hs[t] = h_t with hs[0] = h_0; sums (T, B, H),
    sums[t-1] = h_{t-1} + inp_t, what l_hidden read at step t; W = l_hidden.weight; the workspace."""
    hs: Any
    sums: Any
    weight: Any
    workspace: dict | None


def loop_forward(inp, weight, bias, h0, workspace=None):
    """The article's loop: h_t = tanh((h_{t-1} + inp_t) W^T + b) for t = 1..T.

    inp: (T, B, H); weight (H, H) and bias (H,): l_hidden's; h0: (B, H).
    workspace: a dict whose arrays this call and its backward may reuse, or None.
    Returns (hs, cache): hs (T+1, B, H) with hs[t] = h_t (a buffer of the workspace: copy what you keep).
    """
    xp = backend.array_module(inp)
    T, B, H = inp.shape
    hs = buffer(workspace, "hs", (T + 1, B, H), inp.dtype, xp)
    sums = buffer(workspace, "sums", (T, B, H), inp.dtype, xp)
    hs[0] = h0
    # W^T laid out contiguously, once per call: the BLAS multiplies by it faster than by a transposed view.
    weight_t = xp.ascontiguousarray(weight.T)
    for t in range(T):                                     # step t + 1 of the article's loop
        h_prev, h = hs[t], hs[t + 1]
        xp.add(h_prev, inp[t], out=sums[t])                # h_{t-1} + inp_t
        xp.matmul(sums[t], weight_t, out=h)                # (h_{t-1} + inp_t) W^T: the step's one product
        h += bias                                          # a_t = l_hidden(h_{t-1} + inp_t)
        xp.tanh(h, out=h)                                  # h_t = tanh(a_t)
    return hs, LoopCache(hs, sums, weight, workspace)


def loop_backward(d_h_last, cache: LoopCache):
    """BPTT through :func:`loop_forward`, from d_h_last = dL/dh_T (B, H).

    Returns (d_sums, d_weight, d_bias): d_sums (T, B, H), d_sums[t-1] = dL/d(h_{t-1} + inp_t),
    which is both dL/dinp_t and the gradient step t sends to h_{t-1} (d_sums[0] that of h_0);
    d_weight (H, H) and d_bias (H,), l_hidden's gradients.
    """
    hs, sums, weight, workspace = cache
    xp = backend.array_module(sums)
    T, B, H = sums.shape
    d_a = buffer(workspace, "d_a", (T, B, H), sums.dtype, xp)
    d_sums = buffer(workspace, "d_sums", (T, B, H), sums.dtype, xp)
    # tanh'(a_t) = 1 - h_t^2 depends on the forward alone: taken for all steps in two calls, into the
    # buffer that step t then turns into dL/da_t by multiplying it by dL/dh_t.
    xp.multiply(hs[1:], hs[1:], out=d_a)
    xp.subtract(1, d_a, out=d_a)
    d_h = d_h_last
    for t in reversed(range(T)):
        d_a[t] *= d_h                                      # dL/da_t = dL/dh_t tanh'(a_t)
        xp.matmul(d_a[t], weight, out=d_sums[t])           # dL/d(h_{t-1} + inp_t) = dL/da_t W: one product
        d_h = d_sums[t]                                    # the sum hands it unchanged to h_{t-1}
    # W is read at every step: its gradient is one product over all (t, b) rows.
    d_a_rows = d_a.reshape(T * B, H)
    d_weight = d_a_rows.T @ sums.reshape(T * B, H)         # sum_t dL/da_t^T (h_{t-1} + inp_t)
    d_bias = d_a_rows.sum(axis=0)
    return d_sums, d_weight, d_bias


class CharLoopModel(Module):
    """Predict the character after a window of characters (the article's model).

    Its parts are the article's PyTorch module's, under the same names, so that
    state dicts move both ways: ``e``, an Embedding (e.weight (V, n_fac), N(0, 1));
    ``l_in``, ``l_hidden`` and ``l_out``, Linears (l_in.weight (n_hidden, n_fac),
    l_in.bias; l_hidden.weight (n_hidden, n_hidden), l_hidden.bias; l_out.weight
    (V, n_hidden), l_out.bias), each initialised as torch does.

    The forward applies the parts' ops to their weights rather than calling the
    parts, so that each equation above is one line with names of its own, and the
    backward undoes them line by line. The course notebook's Char3Model is this
    model on windows of 3 characters.
    """

    def __init__(self, vocab_size: int, n_fac: int, n_hidden: int, dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.vocab_size = validate.positive_int("vocab_size", vocab_size)
        self.n_fac = validate.positive_int("n_fac", n_fac)
        self.n_hidden = validate.positive_int("n_hidden", n_hidden)
        V, F, H, dtype = self.vocab_size, self.n_fac, self.n_hidden, self.dtype.name

        self.e = self.add_child("e", Embedding(V, F, dtype, seed=self.child_seed()))
        self.l_in = self.add_child("l_in", Linear(F, H, dtype=dtype, seed=self.child_seed()))
        self.l_hidden = self.add_child("l_hidden", Linear(H, H, dtype=dtype, seed=self.child_seed()))
        self.l_out = self.add_child("l_out", Linear(H, V, dtype=dtype, seed=self.child_seed()))
        self._workspaces = Workspaces()   # the loop's buffers, reused from one forward to the next

    def config(self) -> dict:
        return dict(vocab_size=self.vocab_size, n_fac=self.n_fac, n_hidden=self.n_hidden, dtype=self.dtype.name)

    def release_buffers(self) -> None:
        """Free the work arrays kept between calls; the next forward makes them again."""
        self._workspaces.clear()

    def forward(self, cs):
        """cs: (T, B) integer character ids. Returns log-probabilities (B, V) of the next character."""
        p, xp = self.params, self.xp
        cs = validate.id_array("cs", cs, ("T", "B"), self.vocab_size, xp)
        if is_grad_enabled():
            cs = cs.copy()   # the cache keeps cs for the backward: the caller may change theirs before it
        # relu(l_in(e[c])) depends on the character c alone: computed once for each of the V characters
        # of the vocabulary and looked up for the T*B characters of the batch, it is the same numbers
        # at a fraction of the work (a character model's V is far below T*B).
        pre_table, in_cache = linear_forward(p["e.weight"], p["l_in.weight"], p["l_in.bias"])  # l_in(e[c]) (V, H)
        inp_table, relu_cache = relu_forward(pre_table)                           # relu(l_in(e[c]))
        workspace = self._workspaces.get("loop")
        inp_buffer = buffer(workspace, "inp", (*cs.shape, self.n_hidden), self.dtype, xp)
        inp, lookup_cache = embedding_forward(cs, inp_table, out=inp_buffer)      # inp_t (T, B, H)
        h0 = xp.zeros((cs.shape[1], self.n_hidden), dtype=self.dtype)            # h_0 = 0
        hs, loop_cache = loop_forward(inp, p["l_hidden.weight"], p["l_hidden.bias"], h0, workspace)  # h_1 .. h_T
        logits, out_cache = linear_forward(hs[-1], p["l_out.weight"], p["l_out.bias"])  # l_out(h_T)
        logp, logp_cache = log_softmax_forward(logits)
        self.save_cache((in_cache, relu_cache, lookup_cache, loop_cache, out_cache, logp_cache))
        return logp

    def backward(self, d_logp) -> None:
        """d_logp: (B, V), dL/d(log p). Adds every parameter's gradient into ``grads``."""
        in_cache, relu_cache, lookup_cache, loop_cache, out_cache, logp_cache = self.last_cache()
        d_logp = validate.float_array("d_logp", d_logp, (loop_cache.hs.shape[1], self.vocab_size),
                                      self.xp, self.dtype)
        self.release_cache()
        d_logits = log_softmax_backward(d_logp, logp_cache)
        d_h_last, d_w_out, d_b_out = linear_backward(d_logits, out_cache)
        d_inp, d_w_hidden, d_b_hidden = loop_backward(d_h_last, loop_cache)     # BPTT
        d_inp_table = embedding_backward(d_inp, lookup_cache)  # each character's row sums its steps' gradients
        d_pre_table = relu_backward(d_inp_table, relu_cache)
        d_e, d_w_in, d_b_in = linear_backward(d_pre_table, in_cache)
        self.add_grads([("l_out.weight", d_w_out), ("l_out.bias", d_b_out), ("l_hidden.weight", d_w_hidden),
                        ("l_hidden.bias", d_b_hidden), ("l_in.weight", d_w_in), ("l_in.bias", d_b_in),
                        ("e.weight", d_e)])
