"""The article's three figures as labelled graphs, read from a real model: the cell, the unrolled loop, BPTT.

Only the layout of each kind of model is written here. Every label comes from
the model itself: a box names the parameters of its layer with their shapes
(the model's state_dict), an arrow the shape of the array that a forward over a
random input computed, and a backward arrow of the BPTT figure ||dL/dh_t||, from one
backward pass of the model's reference implementation (minirnn.reference) on the
model's own weights, for a loss at the last step: the reference's BPTT keeps the
gradient of every state as it goes. A bigger hidden size therefore gives other labels,
with no change here. minirnn.tools.study.draw turns a Diagram into SVG and PNG.

Layout units: x grows to the right (time, in the unrolled figures), y upwards
(from the input to the output); one unit is about one box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy

from minirnn import reference
from minirnn.core import backend, validate
from minirnn.core.grad_mode import no_grad
from minirnn.core.param_names import layer_param_names
from minirnn.layers import Recurrent
from minirnn.models import CharLoopModel, CharRNN
from minirnn.ops import cross_entropy, embedding_forward, linear_forward, nll_loss

from .gradient_flow import last_step_gradient_norms, state_gradient_norms

FIGURES = ("cell", "unrolled", "bptt")
LANE = 6.0                 # points between a forward arrow and the backward arrow beside it
_SUBSCRIPTS = str.maketrans("0123456789t+-", "₀₁₂₃₄₅₆₇₈₉ₜ₊₋")


@dataclass
class Node:
    """A box (a layer with weights, or a step), a circle (an operation) or a value (an input, state, output).

    kind: "layer", "step", "op", "value", "gap" (the "…" of the steps left out) or "loss".
    """
    name: str
    x: float
    y: float
    text: str
    kind: str = "layer"


@dataclass
class Edge:
    """An arrow from node ``start`` to node ``end``, with a label written beside it.

    kind: "data" (within a step), "state" (the hidden state, step to step),
    "loop" (the cell's recurrent arrow), "faded" (the forward under the BPTT
    figure), "gradient" (a gradient) or "backward" (a gradient whose arrow is
    as wide and dark as ``strength``, 0..1, says). bend: the curvature (0 is
    straight, + bends right of the direction of travel). shift: points by which
    the arrow is moved sideways (up, or right for an arrow that runs up or
    down), so that a forward and a backward arrow can lie side by side. side:
    where the label goes: "auto", or one of minirnn.tools.study.draw.LABEL_PLACES; at:
    where along the arrow (0 at its start, 1 at its end).
    """
    start: str
    end: str
    label: str = ""
    kind: str = "data"
    strength: float = 0.0
    bend: float = 0.0
    shift: float = 0.0
    side: str = "auto"
    at: float = 0.5


@dataclass
class Diagram:
    """Nodes and edges, a title and a caption; scale: the inches of one layout unit in x and in y."""
    title: str
    caption: str
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    scale: tuple = (2.15, 1.05)

    def node(self, name, x, y, text, kind="layer") -> None:
        self.nodes.append(Node(name, x, y, text, kind))

    def edge(self, start, end, label="", kind="data", **style) -> None:
        self.edges.append(Edge(start, end, label, kind, **style))


def sub(index) -> str:
    """``index`` in subscript digits: sub("t-1") == "ₜ₋₁"."""
    return str(index).translate(_SUBSCRIPTS)


def shape(array) -> str:
    """An array's shape as Python prints a tuple: "(4, 20)", "(20,)"."""
    return str(tuple(int(n) for n in array.shape))


def weights(model, prefix: str = "", names=None) -> list:
    """One line "name (shape)" per parameter whose name starts with ``prefix`` (or is in ``names``)."""
    return [f"{name} {shape(value)}" for name, value in model.params.items()
            if name.startswith(prefix) and (names is None or name in names)]


@dataclass
class Reading:
    """What a forward and a backward of a model over one input showed, for the unrolled figures.

    steps: T; state: the states at a step as the model carries them (one array,
    or h and c); norms, c_norms: ||dL/dh_t|| (and ||dL/dc_t||) for t = 0 .. T;
    loss: the loss's value and what it is, for the BPTT figure; into_last: the
    gradient that reaches the last step from above, as (symbol, norm): dL/dh_T
    from the head, or dL/d(the last output).
    """
    steps: int
    state: tuple
    norms: numpy.ndarray
    c_norms: numpy.ndarray | None
    loss: str
    into_last: tuple


def figures(model, steps: int = 6, batch: int = 4, seed: int = 0, show_steps: int = 3, title: str = "") -> dict:
    """The three diagrams of ``model``, from a forward and backward over :func:`probe_input`.

    model: CharLoopModel, CharRNN, or a one-direction RNN, LSTM or GRU.
    show_steps: K, the steps drawn in the unrolled figures: the first K-1, then
    "…" and the last (all of them when steps <= K). title: what the model is
    called in the titles (default: its class and sizes).
    Returns {"cell": Diagram, "unrolled": Diagram, "bptt": Diagram}.
    """
    if validate.positive_int("show_steps", show_steps) < 2:
        raise ValueError(f"show_steps must be at least 2 (a first and a last step), got {show_steps}")
    inputs, target = probe_input(model, steps, batch, seed)
    title = title or describe(model)
    if isinstance(model, CharLoopModel):
        return _charloop(model, inputs, target, show_steps, title)
    if isinstance(model, CharRNN):
        return _charrnn(model, inputs, target, show_steps, title)
    return _layer(model, inputs, show_steps, title)


def probe_input(model, steps: int = 6, batch: int = 4, seed: int = 0) -> tuple:
    """The random input that :func:`figures` runs ``model`` on, on the model's backend.

    Returns (ids (T, B), target (B,)) for CharLoopModel and CharRNN, uniform over
    the vocabulary (the target is the character after the last step), and
    (x (T, B, I) standard normal, None) for a one-direction RNN, LSTM or GRU.
    """
    steps, batch = validate.positive_int("steps", steps), validate.positive_int("batch", batch)
    rng, xp = numpy.random.default_rng(seed), getattr(model, "xp", numpy)
    if isinstance(model, (CharLoopModel, CharRNN)):
        return (xp.asarray(rng.integers(0, model.vocab_size, (steps, batch))),
                xp.asarray(rng.integers(0, model.vocab_size, (batch,))))
    if not isinstance(model, Recurrent):
        raise TypeError(f"model must be a CharLoopModel, CharRNN, RNN, LSTM or GRU, got {type(model).__name__}")
    if model.bidirectional or model.batch_first:
        raise ValueError("draw shows one direction over (T, B, I) inputs: the layer must not be bidirectional "
                         "or batch_first")
    return xp.asarray(rng.standard_normal((steps, batch, model.input_size)).astype(model.dtype)), None


def describe(model) -> str:
    """The model's class and sizes: "LSTM(input_size=10, hidden_size=20, num_layers=1)"."""
    sizes = {name: value for name, value in model.config().items() if name not in ("dtype", "proj_size")
             and (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)))}   # proj_size: 0
    return f"{type(model).__name__}({', '.join(f'{name}={value!r}' for name, value in sizes.items())})"


# -- CharLoopModel: the article's own figure --------------------------------------------------------------

def _charloop(model: CharLoopModel, ids, target, show_steps: int, title: str) -> dict:
    T, B = ids.shape
    emb, _ = embedding_forward(ids, model.params["e.weight"])                   # e[c_t]      (T, B, F)
    # The reference forward and backward, in float64 on the model's weights: dhs[t] = dL/dh_t, t = 0 .. T.
    state64 = {name: value.astype(numpy.float64) for name, value in model.state_dict().items()}
    ids, target = backend.to_host(ids), backend.to_host(target)
    logp, cache = reference.charloop_forward(ids, state64)
    loss, d_logp = nll_loss(logp, target)
    _, dhs = reference.charloop_backward(d_logp * B, cache, state64)   # L summed over the batch: row b is b's own
    norms = numpy.array([_mean_row_norm(d_h) for d_h in dhs])
    inp, h = cache.inps[0], cache.hs[1]

    cell = Diagram(f"The cell of {title}",
                   "one step t: the article's inp = relu(l_in(e[c])); h = tanh(l_hidden(h + inp)); "
                   "l_out and the log-softmax read h after the last step")
    cell.node("c", 0, 0, "cₜ", "value")
    cell.node("e", 0, 1, "\n".join(["e: embedding"] + weights(model, "e.")))
    cell.node("l_in", 0, 2, "\n".join(["l_in: linear, then ReLU"] + weights(model, "l_in.")))
    cell.node("plus", 0, 3, "+", "op")
    cell.node("h_prev", -1.4, 3, "hₜ₋₁", "value")
    cell.node("l_hidden", 0, 4, "\n".join(["l_hidden: linear, then tanh"] + weights(model, "l_hidden.")))
    cell.node("h", 0, 5, "hₜ", "value")
    cell.node("l_out", 0, 6, "\n".join(["l_out: linear, then log-softmax", "(after the last step)"]
                                        + weights(model, "l_out.")))
    cell.node("out", 0, 7, "log p", "value")
    cell.edge("c", "e", f"cₜ {shape(ids[0])}")
    cell.edge("e", "l_in", f"e[cₜ] {shape(emb[0])}")
    cell.edge("l_in", "plus", f"inpₜ {shape(inp)}")
    cell.edge("h_prev", "plus", f"hₜ₋₁ {shape(h)}", "state", side="above")
    cell.edge("plus", "l_hidden", f"hₜ₋₁ + inpₜ {shape(h)}")
    cell.edge("l_hidden", "h", f"hₜ {shape(h)}")
    cell.edge("h", "h_prev", "the next step's hₜ₋₁", "loop", bend=0.45, side="left")
    cell.edge("h", "l_out", f"h{sub(T)} {shape(cache.hs[T])}")
    cell.edge("l_out", "out", f"log p {shape(logp)}")

    reading = Reading(T, (cache.hs[T],), norms, None, f"L = {loss:.4g}: the mean negative log-likelihood of "
                      "the character after the window", (f"h{sub(T)}", norms[T]))
    step_text = "e, l_in, ReLU,\n+, l_hidden, tanh"
    head = ("\n".join(["l_out, log-softmax"] + weights(model, "l_out.weight")), "log p", shape(logp))
    return {"cell": cell, **_unrolled_pair(title, reading, show_steps, step_text, ("c", shape(ids[0])), None,
                                           head)}


# -- CharRNN: embedding, recurrent layer, head -------------------------------------------------------------

def _charrnn(model: CharRNN, ids, target, show_steps: int, title: str) -> dict:
    T = len(ids)
    x, _ = embedding_forward(ids, model.params["embedding.weight"])               # x_t = E[c_t] (T, B, E)
    with model.evaluating(), no_grad():
        h, _ = model.rnn(x)                                                       # h_1 .. h_T   (T, B, H)
        logits, state = model(ids)
    norms, c_norms = state_gradient_norms(model, ids, target)
    loss, d_last = cross_entropy(logits[-1], target)
    d_last = backend.to_host(d_last).astype(numpy.float64) * len(target)   # of L summed over the batch
    states = state if isinstance(state, tuple) else (state,)
    layer = model.rnn
    kind = f"{type(layer).__name__}, {_layers(layer.num_layers)}"

    cell = Diagram(f"The cell of {title}", "one step t: embedding, recurrent layer, linear head; "
                   "the state goes on to the next step")
    cell.node("id", 0, 0, "idₜ", "value")            # the character's id (cₜ is the LSTM's cell state)
    cell.node("embedding", 0, 1, "\n".join(["embedding"] + weights(model, "embedding.")))
    cell.node("rnn", 0, 2.35, "\n".join([f"rnn: {kind}"] + [line for layer in range(model.layers)
                                                              for line in _layer_weights(model, layer, "rnn.")]))
    cell.node("state_prev", -2.4, 2.35, _state_symbol(states, "t-1") + "\nfrom step t − 1", "value")
    cell.node("state", 2.4, 2.35, _state_symbol(states, "t") + "\nto step t + 1", "value")
    cell.node("head", 0, 3.7, "\n".join(["head: linear"] + weights(model, "head.")))
    cell.node("out", 0, 4.6, "logitsₜ", "value")
    cell.edge("id", "embedding", f"idₜ {shape(ids[0])}")
    cell.edge("embedding", "rnn", f"xₜ {shape(x[0])}")
    cell.edge("state_prev", "rnn", shape(states[0]), "state")
    cell.edge("rnn", "state", shape(states[0]), "state")
    cell.edge("rnn", "head", f"hₜ {shape(h[0])}")
    cell.edge("head", "out", f"logitsₜ {shape(logits[0])}")

    reading = Reading(T, states, norms, c_norms,
                      f"L = {loss:.4g}: the cross-entropy of the character after the last step",
                      (f"logits{sub(T)}", _mean_row_norm(d_last)))
    step_text = f"embedding,\nrnn ({type(layer).__name__}), head"
    return {"cell": cell, **_unrolled_pair(title, reading, show_steps, step_text, ("id", shape(ids[0])),
                                           ("logits", shape(logits[0])), None)}


def _mean_row_norm(gradient) -> float:
    """gradient (B, H): the mean over the batch of each sequence's gradient norm, as every arrow reports it."""
    return float(numpy.linalg.norm(gradient, axis=-1).mean())


def _layers(count: int) -> str:
    return "1 layer" if count == 1 else f"{count} layers"


def _layer_weights(model, layer: int, prefix: str = "") -> list:
    """Layer ``layer``'s parameters as two lines: its weights, then its biases (when it has them)."""
    found = weights(model, prefix, {prefix + name for name in layer_param_names(layer, 0)})
    return ["   ".join(found[:2])] + (["   ".join(found[2:])] if found[2:] else [])


def _state_symbol(states: tuple, step: str) -> str:
    names = ("h", "c")[:len(states)]
    return ", ".join(f"{name}{sub(step)}" for name in names)


# -- RNN, LSTM, GRU: the sequence layers -------------------------------------------------------------------

def _layer(model: Recurrent, x, show_steps: int, title: str) -> dict:
    xp, p, T = model.xp, model.params, len(x)
    with model.evaluating(), no_grad():
        output, state = model(x)                                         # (T, B, H), h_n (L, B, H) [, c_n]
    norms, c_norms = last_step_gradient_norms(model, x, numpy.ones_like)   # L = sum of the last step's outputs
    states = state if isinstance(state, tuple) else (state,)
    # The projections of one step, x_1 W_ih^T + b_ih and h_0 W_hh^T + b_hh, split into the cell's gate blocks.
    weight_ih, weight_hh, bias_ih, bias_hh = (p.get(name) for name in layer_param_names(0, 0))
    x_proj, _ = linear_forward(x[0], weight_ih, bias_ih)
    h_proj, _ = linear_forward(states[0][0], weight_hh, bias_hh)
    blocks = xp.split(x_proj, model.gate_math.n_gates, axis=1)
    arrays = dict(x=shape(x[0]), h=shape(states[0][0]), proj=shape(x_proj), h_proj=shape(h_proj),
                  block=shape(blocks[0]))
    name = type(model).__name__
    cell = {"RNN": _rnn_cell, "LSTM": _lstm_cell, "GRU": _gru_cell}[name](model, arrays)
    cell.title = f"The cell of {title}"
    if model.num_layers > 1:
        h = next(node for node in cell.nodes if node.name == "h")
        cell.node("upper", h.x, max(node.y for node in cell.nodes) + 1.1, "\n".join(
            [f"{_upper_layers(model.num_layers)}: the same cell, reading the layer below's hₜ"]
            + [line for layer in range(1, model.num_layers) for line in _layer_weights(model, layer)]))
        cell.edge("h", "upper", f"hₜ {arrays['h']}")
    reading = Reading(T, states, norms, c_norms,
                      f"L = {float(output[-1].sum()):.4g}: the sum of the last step's outputs",
                      (f"y{sub(T)}", _mean_row_norm(numpy.ones(output[-1].shape))))
    step_text = f"{name} cell\n({_layers(model.num_layers)})"
    return {"cell": cell, **_unrolled_pair(title, reading, show_steps, step_text, ("x", shape(x[0])),
                                           ("y", shape(output[0])), None)}


def _upper_layers(count: int) -> str:
    return "layer 1" if count == 2 else f"layers 1 to {count - 1}"


def _projections(cell: Diagram, model, arrays: dict, x_at: float, hh_at: float, h_prev_at=None) -> None:
    """x_t below the box of W_ih, h_{t-1} to the right of the box of W_hh (each with its bias).

    h_prev_at: where h_{t-1} goes, (x, y), when not beside W_hh.
    """
    cell.node("x", x_at, 0, "xₜ", "value")
    cell.node("h_prev", *(h_prev_at or (hh_at + 1.25, 1)), "hₜ₋₁", "value")
    weight_ih, weight_hh, bias_ih, bias_hh = layer_param_names(0, 0)
    cell.node("W_ih", x_at, 1, "\n".join(weights(model, names={weight_ih, bias_ih})))
    cell.node("W_hh", hh_at, 1, "\n".join(weights(model, names={weight_hh, bias_hh})))
    cell.edge("x", "W_ih", f"xₜ {arrays['x']}")
    side = "auto" if h_prev_at is None else "below right"    # from above: the label goes below the arrow
    cell.edge("h_prev", "W_hh", f"hₜ₋₁ {arrays['h']}", "state", side=side)


def _rnn_cell(model, arrays: dict) -> Diagram:
    cell = Diagram("", f"hₜ = {model.nonlinearity}(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh): "
                   "two linear layers, added, then the nonlinearity")
    _projections(cell, model, arrays, 0, 2.4)
    cell.node("plus", 1.2, 2, "+", "op")
    cell.node("act", 1.2, 3, model.nonlinearity, "op")
    cell.node("h", 1.2, 4, "hₜ", "value")
    cell.edge("W_ih", "plus", f"W_ih xₜ + b_ih {arrays['proj']}")
    cell.edge("W_hh", "plus", f"W_hh hₜ₋₁ + b_hh {arrays['h_proj']}")
    cell.edge("plus", "act", f"aₜ {arrays['proj']}")
    cell.edge("act", "h", f"hₜ {arrays['h']}")
    cell.edge("h", "h_prev", "the next step's hₜ₋₁", "loop", bend=-0.3)
    return cell


def _lstm_cell(model, arrays: dict) -> Diagram:
    cell = Diagram("", "a = W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh in four blocks; i, f, o = σ(a_i, a_f, a_o), "
                   "g = tanh(a_g); cₜ = f ⊙ cₜ₋₁ + i ⊙ g; hₜ = o ⊙ tanh(cₜ)", scale=(1.85, 1.05))
    _projections(cell, model, arrays, 0.6, 3.0)
    cell.node("plus", 1.8, 1.9, "+", "op")
    for gate, x, act in (("f", 0.0, "σ"), ("i", 1.2, "σ"), ("g", 2.4, "tanh"), ("o", 3.6, "σ")):
        cell.node(gate, x, 3.0, f"{gate} = {act}", "op")
        cell.edge("plus", gate, f"a_{gate} {arrays['block']}", at=0.7)
    cell.node("c_prev", -1.3, 4.6, "cₜ₋₁", "value")
    cell.node("forget", 0.0, 4.6, "×", "op")
    cell.node("input", 1.8, 3.8, "×", "op")
    cell.node("c_plus", 1.8, 4.6, "+", "op")
    cell.node("c", 5.7, 4.6, "cₜ", "value")
    cell.node("tanh_c", 3.6, 3.8, "tanh", "op")
    cell.node("output", 4.7, 3.8, "×", "op")
    cell.node("h", 5.7, 3.8, "hₜ", "value")
    cell.edge("W_ih", "plus", f"W_ih xₜ + b_ih {arrays['proj']}")
    cell.edge("W_hh", "plus", f"W_hh hₜ₋₁ + b_hh {arrays['h_proj']}")
    cell.edge("c_prev", "forget", f"cₜ₋₁ {arrays['h']}", "state", side="below")
    block = arrays["block"]
    cell.edge("f", "forget", f"f {block}")
    cell.edge("i", "input", f"i {block}")
    cell.edge("g", "input", f"g {block}")
    cell.edge("forget", "c_plus", f"f ⊙ cₜ₋₁ {block}")
    cell.edge("input", "c_plus", f"i ⊙ g {block}", side="left")
    cell.edge("c_plus", "c", f"cₜ {arrays['h']}", "state")
    cell.edge("c", "c_prev", "the next step's cₜ₋₁", "loop", bend=0.1)
    cell.edge("c_plus", "tanh_c", f"cₜ {block}")
    cell.edge("tanh_c", "output", f"tanh(cₜ) {block}", side="above")
    cell.edge("o", "output", f"o {block}")
    cell.edge("output", "h", f"hₜ {arrays['h']}", "state", side="below")
    cell.edge("h", "h_prev", "the next step's hₜ₋₁", "loop", bend=-0.3)
    return cell


def _gru_cell(model, arrays: dict) -> Diagram:
    cell = Diagram("", "r, z = σ(W_i[r,z] xₜ + b + W_h[r,z] hₜ₋₁ + b); n = tanh(W_in xₜ + b_in + "
                   "r ⊙ (W_hn hₜ₋₁ + b_hn)); hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁")
    # One h_{t-1}, read twice: by W_hh and by the mix that keeps z of it.
    _projections(cell, model, arrays, 0.0, 3.6, h_prev_at=(4.9, 3.7))
    block = arrays["block"]
    cell.node("z_plus", 1.2, 2.0, "+", "op")
    cell.node("r_plus", 2.4, 2.0, "+", "op")
    cell.node("z", 1.2, 2.9, "z = σ", "op")
    cell.node("r", 2.4, 2.9, "r = σ", "op")
    cell.node("reset", 3.6, 3.7, "×", "op")
    cell.node("n_plus", 0.0, 4.5, "+", "op")
    cell.node("n", 0.0, 5.4, "n = tanh", "op")
    cell.node("mix", 1.8, 5.4, "(1 − z) ⊙ n\n+ z ⊙ hₜ₋₁", "op")
    cell.node("h", 1.8, 6.5, "hₜ", "value")
    cell.edge("W_ih", "z_plus", f"x_z {block}", side="left")
    cell.edge("W_ih", "r_plus", f"x_r {block}", at=0.85)
    cell.edge("W_hh", "z_plus", f"h_z {block}", at=0.85)
    cell.edge("W_hh", "r_plus", f"h_r {block}", side="right")
    cell.edge("z_plus", "z", f"a_z {block}")
    cell.edge("r_plus", "r", f"a_r {block}")
    cell.edge("W_hh", "reset", f"h_n {block}")
    cell.edge("r", "reset", f"r {block}", side="left")
    cell.edge("W_ih", "n_plus", f"x_n {block}", side="left")
    cell.edge("reset", "n_plus", f"r ⊙ h_n {block}", side="above")
    cell.edge("n_plus", "n", f"a_n {block}")
    cell.edge("n", "mix", f"n {block}", side="above")
    cell.edge("z", "mix", f"z {block}", side="left")
    cell.edge("h_prev", "mix", f"hₜ₋₁ {arrays['h']}", "state", side="above right")
    cell.edge("mix", "h", f"hₜ {arrays['h']}")
    cell.edge("h", "h_prev", "the next step's hₜ₋₁", "loop", bend=-0.45)
    return cell


# -- the unrolled loop and BPTT, for every model ----------------------------------------------------------

def norm_label(symbol: str, step, norm: float) -> str:
    """An arrow's gradient norm on two lines, no wider than a step's box: "‖∂L/∂h₃‖", then "= 0.02458"."""
    return f"‖∂L/∂{symbol}{sub(step)}‖\n= {norm:.4g}"


def shown_steps(T: int, show_steps: int) -> list:
    """The steps drawn: 1 .. T when T <= K, else 1 .. K-1, None (the "…"), T."""
    return list(range(1, T + 1)) if T <= show_steps else list(range(1, show_steps)) + [None, T]


def _unrolled_pair(title: str, reading: Reading, show_steps: int, step_text: str, inputs: tuple,
                   outputs: tuple | None, head: tuple | None) -> dict:
    """The unrolled figure and the BPTT figure: the same picture, the second with the gradients drawn back.

    inputs, outputs: (symbol, shape) of a step's input and output (outputs None:
    the model reads its state once, after the last step, with ``head``: (box text,
    output symbol, output shape)).
    """
    unrolled = _unrolled(reading, show_steps, step_text, inputs, outputs, head, backward=False)
    unrolled.title = f"{title}, unrolled over {reading.steps} steps"
    unrolled.caption = "the same cell, with the same weights, at every step; the state flows from step to step"
    bptt = _unrolled(reading, show_steps, step_text, inputs, outputs, head, backward=True)
    bptt.title = f"Backpropagation through time in {title}"
    bptt.caption = (f"{reading.loss}. Each backward arrow carries ‖∂L/∂hₜ‖, the mean over the batch of each "
                    "sequence's gradient norm, and is drawn wider and darker the larger it is")
    return {"unrolled": unrolled, "bptt": bptt}


def _unrolled(reading: Reading, show_steps: int, step_text: str, inputs: tuple, outputs: tuple | None,
              head: tuple | None, backward: bool) -> Diagram:
    """One column per drawn step: its input below, the step's box, its output above; the state flows right.

    With ``backward``, the forward arrows fade and each state arrow gets a
    backward arrow labelled with the gradient norm of the state it carried.
    """
    T = reading.steps
    diagram = Diagram("", "", scale=(2.45, 1.0))
    forward = "faded" if backward else "data"
    state_shape = shape(reading.state[0])
    # The widest arrow: the largest ||dL/dh_t|| drawn, t < T, and dL/dh_T when an arrow from the head carries it.
    peak = float(numpy.max(reading.norms if head is not None else reading.norms[:T])) or 1.0
    diagram.node("step0", -1.1, 1, _state_symbol(reading.state, 0) + " = 0", "value")
    previous = 0                                   # the step before this column (None: the "…")
    for column, t in enumerate(shown_steps(T, show_steps)):
        name = "gap" if t is None else f"step{t}"
        if t is None:
            diagram.node(name, column, 1, "…", "gap")
        else:
            diagram.node(name, column, 1, f"step {t}\n{step_text}", "step")
            diagram.node(f"in{t}", column, 0, f"{inputs[0]}{sub(t)}", "value")
            diagram.edge(f"in{t}", name, inputs[1], forward)
            if outputs is not None:
                diagram.node(f"out{t}", column, 2.1, f"{outputs[0]}{sub(t)}", "value")
                diagram.edge(name, f"out{t}", outputs[1], forward, shift=-LANE if backward else 0)
        source = "gap" if previous is None else f"step{previous}"
        carried = T - 1 if previous is None else previous       # the arrow carries the state after that step
        diagram.edge(source, name, f"{_state_symbol(reading.state, carried)}\n{state_shape}",
                     "faded" if backward else "state", shift=LANE if backward else 0)
        if backward:
            norm = float(reading.norms[carried])
            label = norm_label("h", carried, norm)
            if reading.c_norms is not None:
                label += "\n" + norm_label("c", carried, float(reading.c_norms[carried]))
            diagram.edge(name, source, label, "backward", strength=norm / peak, shift=-LANE)
        previous = t
    if head is None:
        end, end_symbol = f"out{T}", f"{outputs[0]}{sub(T)}"
    else:
        end, end_symbol = "out", head[1]
        x = max(node.x for node in diagram.nodes) + 1.15
        diagram.node("head", x, 1, head[0])
        diagram.node(end, x, 2.1, end_symbol, "value")
        diagram.edge(f"step{T}", "head", f"h{sub(T)}\n{state_shape}", forward, shift=LANE if backward else 0)
        diagram.edge("head", end, head[2], forward, shift=-LANE if backward else 0)
    if backward:
        diagram.node("loss", next(node.x for node in diagram.nodes if node.name == end), 3.1, "L", "loss")
        diagram.edge(end, "loss", "", "faded", shift=-LANE)
        diagram.edge("loss", end, f"∂L/∂{end_symbol}", "gradient", shift=LANE)
        symbol, norm = reading.into_last
        label = norm_label(symbol, "", norm)
        if head is None:                           # the last output's gradient, straight into the last step
            diagram.edge(end, f"step{T}", label, "gradient", shift=LANE)
        else:                                      # through the head: dL/dh_T, the first arrow of BPTT
            diagram.edge(end, "head", "", "gradient", shift=LANE)
            diagram.edge("head", f"step{T}", label, "backward", strength=min(norm / peak, 1.0), shift=-LANE)
    return diagram
