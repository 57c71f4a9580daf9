"""The course's CharLoopConcatModel: the article's loop with the state and the character side by side.

For each character c_t of a window, from h_0 = 0:

    inp_t = relu(l_in(cat(h_{t-1}, e[c_t])))      l_in: (n_hidden + n_fac) -> n_hidden
    h_t   = tanh(l_hidden(inp_t))
    log p = log_softmax(l_out(h_T))

The article adds h_{t-1} to the input; this model concatenates them, so l_in gives each its
own weights: l_in.weight = [W_h | W_e], columns 0..H-1 read h_{t-1}, the rest read e[c_t].
Then l_in(cat(h, e[c])) = h W_h^T + e[c] W_e^T + b, and e[c] W_e^T + b depends on the
character alone: it is computed once per character of the vocabulary and looked up for the T*B
characters of a batch. The time loop is left with two products per step, h_{t-1} W_h^T and
inp_t W_hidden^T (the recurrence passes through both layers), and the backward with two per
step; every weight gradient is one product over all steps after the loop.

Its reference implementation, the loop as the course writes it, is minirnn/reference/charloopconcat.py.
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
)


class ConcatLoopCache(NamedTuple):
    """What :func:`concat_loop_backward` needs: hs (T+1, B, H) with hs[t] = h_t; inps (T, B, H), inps[t-1] =
    inp_t; W_h (H, H), l_in's columns that read h; W_hidden (H, H); the workspace."""
    hs: Any
    inps: Any
    weight_h: Any
    weight_hidden: Any
    workspace: dict | None


def concat_loop_forward(e_proj, weight_h, weight_hidden, bias_hidden, h0, workspace=None):
    """inp_t = relu(e_proj_t + h_{t-1} W_h^T), h_t = tanh(inp_t W_hidden^T + b_hidden) for t = 1..T.

    e_proj: (T, B, H), e[c_t] W_e^T + b_in, l_in's part that does not depend on h; weight_h (H, H);
    weight_hidden (H, H) and bias_hidden (H,): l_hidden's; h0: (B, H).
    Returns (hs, cache): hs (T+1, B, H) with hs[t] = h_t (a buffer of the workspace: copy what you keep).
    """
    xp = backend.array_module(e_proj)
    T, B, H = e_proj.shape
    hs = buffer(workspace, "hs", (T + 1, B, H), e_proj.dtype, xp)
    inps = buffer(workspace, "inps", (T, B, H), e_proj.dtype, xp)
    hs[0] = h0
    # The weights transposed and laid out contiguously, once per call, for the products of the loop.
    weight_h_t, weight_hidden_t = xp.ascontiguousarray(weight_h.T), xp.ascontiguousarray(weight_hidden.T)
    for t in range(T):                                     # step t + 1 of the course's loop
        h_prev, inp, h = hs[t], inps[t], hs[t + 1]
        xp.matmul(h_prev, weight_h_t, out=inp)             # h_{t-1} W_h^T
        inp += e_proj[t]                                   # l_in(cat(h_{t-1}, e[c_t]))
        xp.maximum(inp, 0, out=inp)                        # inp_t = relu(...)
        xp.matmul(inp, weight_hidden_t, out=h)             # inp_t W_hidden^T
        h += bias_hidden                                   # a_t = l_hidden(inp_t)
        xp.tanh(h, out=h)                                  # h_t = tanh(a_t)
    return hs, ConcatLoopCache(hs, inps, weight_h, weight_hidden, workspace)


def concat_loop_backward(d_h_last, cache: ConcatLoopCache):
    """BPTT through :func:`concat_loop_forward`, from d_h_last = dL/dh_T (B, H).

    Returns (d_e_proj, d_weight_h, d_weight_hidden, d_bias_hidden): d_e_proj (T, B, H) is
    dL/d(l_in's pre-activation) at every step, the gradient of e_proj (and of b_in, summed).
    """
    hs, inps, weight_h, weight_hidden, workspace = cache
    xp = backend.array_module(inps)
    T, B, H = inps.shape
    d_a = buffer(workspace, "d_a", (T, B, H), inps.dtype, xp)
    d_pre = buffer(workspace, "d_pre", (T, B, H), inps.dtype, xp)
    d_inp = buffer(workspace, "d_inp", (B, H), inps.dtype, xp)
    d_h_prev = buffer(workspace, "d_h_prev", (B, H), inps.dtype, xp)
    weight_h = xp.ascontiguousarray(weight_h)              # l_in's first H columns, once per call: a plain matrix
    # The local derivatives depend on the forward alone: taken for all steps at once, into the buffers
    # that step t then turns into gradients by multiplying them by the gradient from above.
    xp.multiply(hs[1:], hs[1:], out=d_a)
    xp.subtract(1, d_a, out=d_a)                           # tanh'(a_t) = 1 - h_t^2
    xp.greater(inps, 0, out=d_pre)                         # relu' = 1 where inp_t > 0
    d_h = d_h_last
    for t in reversed(range(T)):
        d_a[t] *= d_h                                      # dL/da_t = dL/dh_t tanh'(a_t)
        xp.matmul(d_a[t], weight_hidden, out=d_inp)        # dL/dinp_t = dL/da_t W_hidden
        d_pre[t] *= d_inp                                  # dL/d l_in(...) = dL/dinp_t relu'
        xp.matmul(d_pre[t], weight_h, out=d_h_prev)        # dL/dh_{t-1} = dL/d l_in(...) W_h
        d_h = d_h_prev
    # Each weight is read at every step: its gradient is one product over all (t, b) rows.
    d_a_rows, d_pre_rows = d_a.reshape(T * B, H), d_pre.reshape(T * B, H)
    d_weight_hidden = d_a_rows.T @ inps.reshape(T * B, H)  # sum_t dL/da_t^T inp_t
    d_bias_hidden = d_a_rows.sum(axis=0)
    d_weight_h = d_pre_rows.T @ hs[:-1].reshape(T * B, H)  # sum_t dL/d l_in(...)^T h_{t-1}
    return d_pre, d_weight_h, d_weight_hidden, d_bias_hidden


class CharLoopConcatModel(Module):
    """Predict the character after a window of characters, with the state concatenated to the input.

    Parts, under the course notebook's names and initialised as torch does: ``e``, an Embedding
    (e.weight (V, n_fac), N(0, 1)); ``l_in``, a Linear (l_in.weight (n_hidden, n_hidden + n_fac),
    whose first n_hidden columns read h, l_in.bias); ``l_hidden`` (l_hidden.weight (n_hidden,
    n_hidden), l_hidden.bias) and ``l_out`` (l_out.weight (V, n_hidden), l_out.bias), Linears.
    forward(cs) -> log p (B, V); backward(d_logp) adds every gradient into ``grads``.
    """

    def __init__(self, vocab_size: int, n_fac: int, n_hidden: int, dtype="float32", seed: int | None = None):
        super().__init__(dtype, seed)
        self.vocab_size = validate.positive_int("vocab_size", vocab_size)
        self.n_fac = validate.positive_int("n_fac", n_fac)
        self.n_hidden = validate.positive_int("n_hidden", n_hidden)
        V, F, H, dtype = self.vocab_size, self.n_fac, self.n_hidden, self.dtype.name

        self.e = self.add_child("e", Embedding(V, F, dtype, seed=self.child_seed()))
        self.l_in = self.add_child("l_in", Linear(H + F, H, dtype=dtype, seed=self.child_seed()))
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
        p, xp, H = self.params, self.xp, self.n_hidden
        cs = validate.id_array("cs", cs, ("T", "B"), self.vocab_size, xp)
        if is_grad_enabled():
            cs = cs.copy()   # the cache keeps cs for the backward: the caller may change theirs before it
        W_in = p["l_in.weight"]
        e_table, e_cache = linear_forward(p["e.weight"], W_in[:, H:], p["l_in.bias"])  # e[c] W_e^T + b (V, H)
        workspace = self._workspaces.get("loop")
        e_proj_buffer = buffer(workspace, "e_proj", (*cs.shape, H), self.dtype, xp)
        e_proj, lookup_cache = embedding_forward(cs, e_table, out=e_proj_buffer)  # for each c_t (T, B, H)
        h0 = xp.zeros((cs.shape[1], H), dtype=self.dtype)                       # h_0 = 0
        hs, loop_cache = concat_loop_forward(e_proj, W_in[:, :H], p["l_hidden.weight"], p["l_hidden.bias"], h0,
                                             workspace)                        # h_1 .. h_T
        logits, out_cache = linear_forward(hs[-1], p["l_out.weight"], p["l_out.bias"])  # l_out(h_T)
        logp, logp_cache = log_softmax_forward(logits)
        self.save_cache((e_cache, lookup_cache, loop_cache, out_cache, logp_cache))
        return logp

    def backward(self, d_logp) -> None:
        """d_logp: (B, V), dL/d(log p). Adds every parameter's gradient into ``grads``."""
        e_cache, lookup_cache, loop_cache, out_cache, logp_cache = self.last_cache()
        xp = self.xp
        d_logp = validate.float_array("d_logp", d_logp, (loop_cache.hs.shape[1], self.vocab_size), xp, self.dtype)
        self.release_cache()
        d_logits = log_softmax_backward(d_logp, logp_cache)
        d_h_last, d_w_out, d_b_out = linear_backward(d_logits, out_cache)
        d_e_proj, d_w_h, d_w_hidden, d_b_hidden = concat_loop_backward(d_h_last, loop_cache)   # BPTT
        d_e_table = embedding_backward(d_e_proj, lookup_cache)  # each character's row sums its steps' gradients
        d_e, d_w_e, d_b_in = linear_backward(d_e_table, e_cache)
        d_w_in = xp.concatenate([d_w_h, d_w_e], axis=1)        # l_in's columns read h_{t-1}, then e[c_t]
        self.add_grads([("l_out.weight", d_w_out), ("l_out.bias", d_b_out), ("l_hidden.weight", d_w_hidden),
                        ("l_hidden.bias", d_b_hidden), ("l_in.weight", d_w_in), ("l_in.bias", d_b_in),
                        ("e.weight", d_e)])
