"""The gradient-check cases: every model the library has, under every option.

A :class:`Case` names a model and its options; :func:`run_case` builds that
model in float64 with random inputs, computes its analytic gradients (every
parameter, the float inputs and the initial state) and holds them against
finite differences of one scalar loss. The loss weights every output and the
final state by fixed random numbers, L = sum(G_out * output) + sum(G_h * h_n),
so every entry of d_output and d_h_n is exercised.

A case whose every gradient is exactly zero proves nothing: a ReLU RNN cell
with one unit, fed a negative pre-activation, has a dead unit, and 0 equals 0
whatever the backward computes. :func:`check_case` reports such a draw as
vacuous and replaces it by a draw of the same options with other random weights
and inputs; a case that stays vacuous does not pass.

Truncated BPTT: with ``chunks`` > 1 the sequence is run chunk by chunk, each
chunk's h_n handed to the next as h0 and each chunk's backward called on its
own, so gradients accumulate across chunks and stop at chunk boundaries. The
finite differences then treat the handed-over states as constants (computed once
at the unperturbed point), which is exactly what cutting the gradient means.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from ..cell_kinds import CELL_KINDS, CELLS, LAYERS
from ..core import backend
from ..models import MODELS as BUILT_MODELS
from ..models import build_model
from ..ops import cross_entropy, nll_loss
from .check import check_gradients

LOSSES = ("nll_loss", "cross_entropy")
# Options left out of a case's label when they have these values.
DEFAULTS = dict(layers=1, bidirectional=False, h0=False, chunks=1, lengths=False, dropout=0.0,
                batch_first=False, bias=True, masked=False, T=None, every_step=True, identity_init=False)


@dataclass
class Case:
    """One model with one set of options, e.g. Case("lstm", {"T": 3, "layers": 2, ...})."""
    model: str
    options: dict = field(default_factory=dict)

    def label(self) -> str:
        """The options as 'T=4 B=2 ... layers=2 lengths=True', leaving out those at their defaults."""
        shown = {k: v for k, v in self.options.items() if DEFAULTS.get(k, object()) != v}
        return " ".join(f"{k}={v}" for k, v in shown.items())


def _kind_options(model: str) -> list:
    """The options that select each cell kind a layer or cell runs, from minirnn.cell_kinds: for "rnn"
    and "rnncell" [{"nonlinearity": "tanh"}, {"nonlinearity": "relu"}], for the others [{}]."""
    model_class = BUILT_MODELS[model]
    return [kind.options for kind in CELL_KINDS.values() if model_class in (kind.layer, kind.cell)]


def _sequence_options(model: str, rng: numpy.random.Generator) -> dict:
    """A random combination of every option a sequence model takes (small sizes)."""
    layers = int(rng.integers(1, 3))
    chunks = int(rng.choice([1, 1, 2, 3]))
    options = dict(T=int(rng.integers(1, 6)), B=int(rng.integers(1, 4)), I=int(rng.integers(1, 5)),
                   H=int(rng.integers(1, 5)), layers=layers, bidirectional=bool(rng.integers(2)),
                   h0=bool(rng.integers(2)), chunks=chunks, lengths=chunks == 1 and bool(rng.integers(2)),
                   dropout=0.5 if layers > 1 and rng.integers(2) else 0.0,
                   batch_first=bool(rng.integers(2)), bias=bool(rng.integers(4)))
    options["T"] = max(options["T"], chunks)
    kinds = _kind_options(model)
    if len(kinds) > 1:
        options.update(kinds[int(rng.integers(len(kinds)))])
    return options


_BASE = dict(T=4, B=2, I=3, H=3, layers=1, bidirectional=False, h0=True, chunks=1, lengths=False, dropout=0.0,
             batch_first=False, bias=True)
# A sequence layer's fixed cases, each with every kind of the layer: one step, two layers, two chunks, lengths.
SEQUENCE_CORNERS = (dict(_BASE, T=1, h0=False), dict(_BASE, layers=2), dict(_BASE, chunks=2),
                    dict(_BASE, bidirectional=True, lengths=True))


def corner_count(model: str) -> int:
    """How many of draw_cases' first cases cover ``model``'s fixed variants: every corner of a layer with
    each of its kinds, a CharRNN of each layer, and two of the rest (the second varies h0, or T)."""
    if model in LAYERS:
        return len(SEQUENCE_CORNERS) * len(_kind_options(model))
    return len(LAYERS) if model == "charrnn" else 2


def draw_cases(model: str, count: int, seed: int = 0) -> list[Case]:
    """``count`` cases of one model: fixed corner cases first, then random combinations."""
    rng = numpy.random.default_rng(seed)
    if model in LAYERS:
        corners = [dict(c, **kind) for c in SEQUENCE_CORNERS for kind in _kind_options(model)]
        cases = [Case(model, c) for c in corners]
        while len(cases) < count:
            cases.append(Case(model, _sequence_options(model, rng)))
        return cases[:count]
    if model in CELLS:
        kinds = _kind_options(model)
        return [Case(model, dict(B=int(rng.integers(1, 4)), I=int(rng.integers(1, 5)), H=int(rng.integers(1, 5)),
                                 h0=bool(k % 2 == 0), bias=bool(k % 3 != 2), **kinds[k % len(kinds)]))
                for k in range(count)]
    if model in ("charloop", "charloopconcat"):
        return [Case(model, dict(T=int(rng.integers(1, 6)), B=int(rng.integers(1, 4)),
                                 V=int(rng.integers(2, 7)), n_fac=int(rng.integers(1, 5)),
                                 n_hidden=int(rng.integers(1, 5)))) for _ in range(count)]
    if model == "charrnn":
        return [Case(model, dict(T=int(rng.integers(1, 6)), B=int(rng.integers(1, 4)), V=int(rng.integers(2, 7)),
                                 emb=int(rng.integers(1, 4)), hidden=int(rng.integers(1, 4)),
                                 layers=int(rng.integers(1, 3)), cell=tuple(LAYERS)[k % len(LAYERS)],
                                 h0=bool(k % 2), dropout=0.5 if k % 4 == 3 else 0.0))
                for k in range(count)]
    if model == "charseq":
        cases = []
        for k in range(count):
            cell, layers = tuple(LAYERS)[k % len(LAYERS)], int(rng.integers(1, 3))
            cases.append(Case(model, dict(T=int(rng.integers(1, 6)), B=int(rng.integers(1, 4)),
                                          V=int(rng.integers(2, 7)), n_fac=int(rng.integers(1, 4)),
                                          n_hidden=int(rng.integers(1, 4)), cell=cell, layers=layers,
                                          dropout=0.5 if layers > 1 and k % 4 >= 2 else 0.0,
                                          every_step=k % 2 == 0, identity_init=cell == "rnn" and k % 4 == 3,
                                          h0=k % 4 != 1)))
        return cases
    if model in LOSSES:
        return [Case(model, dict(T=int(rng.integers(1, 4)) if k % 2 else None, B=int(rng.integers(1, 4)),
                                 V=int(rng.integers(2, 6)), masked=bool(k % 3 == 1)))
                for k in range(count)]
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def _normal(rng, shape, name):
    return backend.to_backend(rng.standard_normal(shape), name)


def _sequence_problem(case: Case, seed: int, name: str):
    o = case.options
    kind = {key: o[key] for options in _kind_options(case.model) for key in options}
    model = build_model(case.model, input_size=o["I"], hidden_size=o["H"], num_layers=o["layers"], bias=o["bias"],
                        batch_first=o["batch_first"], dropout=o["dropout"], bidirectional=o["bidirectional"],
                        dtype="float64", seed=seed, **kind)
    model.to(name).train()
    rng = numpy.random.default_rng(seed + 1)
    T, B, H = o["T"], o["B"], o["H"]
    D, time_axis = (2 if o["bidirectional"] else 1), (1 if o["batch_first"] else 0)
    shape = (B, T, o["I"]) if o["batch_first"] else (T, B, o["I"])
    x = _normal(rng, shape, name)
    state_names = model.gate_math.state_names
    h0 = {f"{s}0": _normal(rng, (o["layers"] * D, B, H), name) for s in state_names} if o["h0"] else {}
    lengths = rng.integers(1, T + 1, size=B) if o["lengths"] else None
    out_shape = (B, T, D * H) if o["batch_first"] else (T, B, D * H)
    g_out = _normal(rng, out_shape, name)
    g_final = tuple(_normal(rng, (o["layers"] * D, B, H), name) for _ in state_names)
    bounds = numpy.linspace(0, T, o["chunks"] + 1).astype(int)
    xp = model.xp

    def pack(states):
        return states[0] if len(states) == 1 else tuple(states)

    def chunk(a, k):
        index = [slice(None)] * a.ndim
        index[time_axis] = slice(bounds[k], bounds[k + 1])
        return a[tuple(index)]

    rng_state = model.rng_state()

    def run(handed_over=None, backward=False):
        """Forward (and backward) chunk by chunk; returns loss, the handed-over states, dx, dh0."""
        model.set_rng_state(rng_state)                      # the same dropout masks every time
        state = pack(tuple(h0[f"{s}0"] for s in state_names)) if h0 else None
        loss, carried, dx_chunks, d_state0 = 0.0, [], [], None
        for k in range(o["chunks"]):
            if k > 0:
                state = handed_over[k - 1] if handed_over is not None else state
            out, h_n = model(chunk(x, k), state, lengths=lengths)
            loss += float((out * chunk(g_out, k)).sum())
            last = k == o["chunks"] - 1
            if last:
                loss += sum(float((a * g).sum()) for a, g in zip(h_n if len(state_names) > 1 else (h_n,), g_final))
            if backward:
                dx, dh0 = model.backward(chunk(g_out, k), pack(g_final) if last else None)
                dx_chunks.append(dx)
                d_state0 = dh0 if k == 0 else d_state0
            carried.append(h_n)
            state = h_n
        dx = xp.concatenate(dx_chunks, axis=time_axis) if backward else None
        return loss, carried, dx, d_state0

    model.zero_grad()
    _, carried, dx, d_state0 = run(backward=True)
    grads = dict(model.grads, x=dx)
    if h0:
        d_states = d_state0 if len(state_names) > 1 else (d_state0,)
        grads.update({f"{s}0": d for s, d in zip(state_names, d_states)})
    tensors = dict(model.params, x=x, **h0)
    return (lambda: run(handed_over=carried)[0]), grads, tensors


def _step_problem(case: Case, seed: int, name: str):
    o = case.options
    kind = {key: o[key] for options in _kind_options(case.model) for key in options}
    model = build_model(case.model, input_size=o["I"], hidden_size=o["H"], bias=o["bias"], dtype="float64",
                        seed=seed, **kind)
    model.to(name)
    rng = numpy.random.default_rng(seed + 1)
    n_states = len(model.gate_math.state_names)
    x = _normal(rng, (o["B"], o["I"]), name)
    h = {f"{s}_prev": _normal(rng, (o["B"], o["H"]), name) for s in model.gate_math.state_names} if o["h0"] else {}
    g = tuple(_normal(rng, (o["B"], o["H"]), name) for _ in range(n_states))

    def forward():
        state = tuple(h.values()) if h else None
        out = model(x, state if n_states > 1 or state is None else state[0])
        out = out if n_states > 1 else (out,)
        return sum(float((a * b).sum()) for a, b in zip(out, g))

    model.zero_grad()
    forward()
    dx, d_prev = model.backward(g if n_states > 1 else g[0])
    d_prev = d_prev if n_states > 1 else (d_prev,)
    grads = dict(model.grads, x=dx, **{k: d for k, d in zip(h, d_prev)})
    return forward, grads, dict(model.params, x=x, **h)


def _charloop_problem(case: Case, seed: int, name: str):
    o = case.options
    model = build_model(case.model, vocab_size=o["V"], n_fac=o["n_fac"], n_hidden=o["n_hidden"], dtype="float64",
                        seed=seed).to(name)
    rng = numpy.random.default_rng(seed + 1)
    cs = backend.to_backend(rng.integers(0, o["V"], size=(o["T"], o["B"])), name)
    target = backend.to_backend(rng.integers(0, o["V"], size=o["B"]), name)

    def forward():
        return nll_loss(model(cs), target)[0]

    model.zero_grad()
    _, d_logp = nll_loss(model(cs), target)
    model.backward(d_logp)
    return forward, model.grads, model.params


def _charrnn_problem(case: Case, seed: int, name: str):
    """CharRNN with a state handed in: L = sum(G_logits * logits) + sum(G_state * state_n)."""
    o = case.options
    model = build_model("charrnn", vocab_size=o["V"], emb=o["emb"], hidden=o["hidden"], layers=o["layers"],
                        cell=o["cell"], dropout=o["dropout"], dtype="float64", seed=seed).to(name).train()
    return _state_handing_problem(model, (o["T"], o["B"], o["V"]), o, o["hidden"], seed, name)


def _charseq_problem(case: Case, seed: int, name: str):
    """CharSeqRNN with a state handed in: L = sum(G_logp * log p) + sum(G_state * state_n)."""
    o = case.options
    model = build_model("charseq", vocab_size=o["V"], n_fac=o["n_fac"], n_hidden=o["n_hidden"], cell=o["cell"],
                        num_layers=o["layers"], dropout=o["dropout"], every_step=o["every_step"],
                        identity_init=o["identity_init"], dtype="float64", seed=seed).to(name).train()
    out_shape = (o["T"], o["B"], o["V"]) if o["every_step"] else (o["B"], o["V"])
    return _state_handing_problem(model, out_shape, o, o["n_hidden"], seed, name)


def _state_handing_problem(model, out_shape: tuple, o: dict, hidden: int, seed: int, name: str):
    """A character model whose forward(ids, state) returns (out, state) with out of ``out_shape``:
    L = sum(G_out * out) + sum(G_state * state_n), the state handed in checked too when o["h0"]."""
    rng = numpy.random.default_rng(seed + 1)
    ids = backend.to_backend(rng.integers(0, o["V"], size=(o["T"], o["B"])), name)
    n_states = len(model.rnn.gate_math.state_names)
    shape = (o["layers"], o["B"], hidden)
    state0 = {f"state{k}": _normal(rng, shape, name) for k in range(n_states)} if o["h0"] else {}
    g_out = _normal(rng, out_shape, name)
    g_state = tuple(_normal(rng, shape, name) for _ in range(n_states))
    rng_state = model.rng_state()

    def pack(states):
        return None if not states else states[0] if n_states == 1 else tuple(states)

    def forward():
        model.set_rng_state(rng_state)                      # the same dropout masks every time
        out, state = model(ids, pack(tuple(state0.values())))
        states = state if n_states > 1 else (state,)
        return float((out * g_out).sum()) + sum(float((a * g).sum()) for a, g in zip(states, g_state))

    model.zero_grad()
    forward()
    d_state0 = model.backward(g_out, pack(g_state))
    d_states = d_state0 if n_states > 1 else (d_state0,)
    grads = dict(model.grads, **{k: d for k, d in zip(state0, d_states)})
    return forward, grads, dict(model.params, **state0)


def _loss_problem(case: Case, seed: int, name: str):
    o = case.options
    rng = numpy.random.default_rng(seed + 1)
    lead = (o["B"],) if o["T"] is None else (o["T"], o["B"])
    scores = _normal(rng, (*lead, o["V"]), name)
    target = backend.to_backend(rng.integers(0, o["V"], size=lead), name)
    mask = None
    if o["masked"]:
        host_mask = rng.integers(0, 2, size=lead)
        host_mask.flat[0] = 1                        # at least one target counts
        mask = backend.to_backend(host_mask, name)
    loss_fn = nll_loss if case.model == "nll_loss" else cross_entropy
    _, d_scores = loss_fn(scores, target, mask=mask)
    return (lambda: loss_fn(scores, target, mask=mask)[0]), {"input": d_scores}, {"input": scores}


# Each model's problem: how it is built, fed and differentiated (models by their names in minirnn.models.MODELS).
PROBLEMS = {**{name: _sequence_problem for name in LAYERS}, **{name: _step_problem for name in CELLS},
            "charloop": _charloop_problem, "charloopconcat": _charloop_problem, "charrnn": _charrnn_problem,
            "charseq": _charseq_problem, **{name: _loss_problem for name in LOSSES}}
MODELS = tuple(PROBLEMS)


def run_case(case: Case, seed: int = 0, backend_name: str = "numpy", max_entries: int = 400):
    """Build the case's model in float64 on ``backend_name`` and check every gradient.

    seed: of the weights, the inputs and the entries checked. Returns one TensorReport
    per tensor; :func:`check_case` also refuses a draw whose gradients are all zero.
    """
    loss_fn, grads, tensors = PROBLEMS[case.model](case, seed, backend_name)
    return check_gradients(loss_fn, grads, tensors, max_entries=max_entries, seed=seed)


# A draw whose gradients are all zero is replaced by the draw of seed + k * REDRAW_STRIDE, k = 1, 2, ...
REDRAWS = 8
REDRAW_STRIDE = 1_000_003


@dataclass
class CaseResult:
    """A case checked by :func:`check_case`.

    seed: the seed of the draw whose reports these are; vacuous_seeds: the seeds of the
    draws before it whose gradients were all exactly zero (each replaced by the next).
    """
    case: Case
    seed: int
    reports: list
    vacuous_seeds: list

    @property
    def vacuous(self) -> bool:
        """No entry compared had a nonzero gradient: the comparison proved nothing."""
        return not any(report.live for report in self.reports)

    @property
    def passed(self) -> bool:
        """Every tensor within its tolerance, and some gradient not zero."""
        return not self.vacuous and all(report.passed for report in self.reports)


def check_case(case: Case, seed: int = 0, backend_name: str = "numpy", max_entries: int = 400,
               redraws: int = REDRAWS) -> CaseResult:
    """:func:`run_case`, with a draw whose gradients are all exactly zero replaced by another.

    Up to ``redraws`` further draws (seeds seed + k * REDRAW_STRIDE) are tried; the result
    holds the first live one, or the last vacuous one, which does not pass.
    """
    vacuous_seeds = []
    for k in range(redraws + 1):
        draw_seed = seed + k * REDRAW_STRIDE
        result = CaseResult(case, draw_seed, run_case(case, draw_seed, backend_name, max_entries), vacuous_seeds)
        if not result.vacuous or k == redraws:
            return result
        vacuous_seeds.append(draw_seed)
