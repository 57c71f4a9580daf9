"""How far back the gradient of a loss reaches: ||dL/dh_t|| against t, for a loss at the last step.

BPTT carries dL/dh_t from step t to step t-1 by multiplying it with the
Jacobian dh_t/dh_{t-1} (for the tanh RNN, W_hh^T diag(1 - h_t^2)). A loss at
step T therefore reaches step t through T - t such factors: if they shrink
the gradient it vanishes geometrically, if they grow it, it explodes. The
LSTM's cell state and the GRU's update gate give the gradient a path with an
elementwise factor (f_t, or z_t) instead of a matrix, which is why they keep it
alive over more steps. :func:`state_gradient_norms` measures this directly and
:func:`plot_flows` draws the curves.

Where dL/dh_t comes from: one backward pass of the recurrent layer's reference
implementation (minirnn.reference.sequence), run in float64 on the model's own
weights. Its BPTT keeps the gradient of every state as it goes back, in
``d_states``, the way min-char-rnn's loop passes ``dhnext`` from step to step;
the tests hold the reference equal to the fast path to 1e-12.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from minirnn.cell_kinds import CELL_KINDS, kind_of
from minirnn.core import backend, validate
from minirnn.data import StreamBatcher, Vocab
from minirnn.layers import Recurrent
from minirnn.models import CharRNN, build_model
from minirnn.ops import cross_entropy, linear_backward, linear_forward
from minirnn.optim import Adam, clip_grad_norm
from minirnn.reference.sequence import sequence_backward, sequence_forward

from . import plotting

KINDS = tuple(CELL_KINDS)         # rnn_tanh, rnn_relu, lstm, gru
MARK = "minirnn gradient-flow"


@dataclass
class Flow:
    """One curve: norms[t] = mean over the batch of ||dL_b/dh_t||, t = 0 .. T, for a loss at step T.

    cell_norms: the same for the LSTM's cell state c_t (None for the other cells).
    """
    label: str
    norms: numpy.ndarray
    cell_norms: numpy.ndarray | None = None


def make_model(kind: str, vocab_size: int, emb: int = 16, hidden: int = 64, seed: int = 0) -> CharRNN:
    """A one-layer CharRNN whose recurrent layer is ``kind``: "rnn_tanh", "rnn_relu", "lstm" or "gru".

    CharRNN's "rnn" cell is the tanh RNN; the relu RNN is the same model with its
    recurrent child replaced (Module.add_child) by the layer of its kind.
    """
    kind = CELL_KINDS[validate.choice("kind", kind, KINDS)]
    model = build_model("charrnn", vocab_size=vocab_size, emb=emb, hidden=hidden, layers=1, cell=kind.layer_name,
                        seed=seed)
    if kind_of(model.rnn) is not kind:
        model.rnn = model.add_child("rnn", kind.build_layer(emb, hidden, seed=seed))
    return model


def state_gradient_norms(model: CharRNN, ids, target) -> tuple[numpy.ndarray, numpy.ndarray | None]:
    """||dL_b/dh_t|| for t = 0 .. T, averaged over the batch, for L = sum_b CE(logits_T[b], target[b]).

    ids: (T, B) character ids; target: (B,) the character after each window.
    h_0 is zeros and h_t the state after reading ids[t-1]. The loss sums over
    the batch (not the mean) so that row b of dL/dh_t is sequence b's own
    gradient. Returns (h_norms (T+1,), c_norms (T+1,) for the LSTM, else None).
    """
    if not isinstance(model, CharRNN):
        raise TypeError(f"model must be a CharRNN, got {type(model).__name__}")
    xp = model.xp
    ids = validate.id_array("ids", xp.asarray(ids), ("T", "B"), model.vocab_size, xp)
    target = validate.id_array("target", xp.asarray(target), (ids.shape[1],), model.vocab_size, xp)
    ids, target = backend.to_host(ids), backend.to_host(target)
    weights = _float64(model.state_dict())
    W_head, b_head = weights["head.weight"], weights["head.bias"]

    def d_last(h_last):                     # dL/dh_T, back through the head: logits_T = W_head h_T + b_head
        logits, head_cache = linear_forward(h_last, W_head, b_head)
        _, d_logits = cross_entropy(logits, target)
        return linear_backward(d_logits * len(target), head_cache)[0]

    return last_step_gradient_norms(model.rnn, weights["embedding.weight"][ids], d_last)   # x_t = E[c_t]


def last_step_gradient_norms(layer: Recurrent, x, loss_grad) -> tuple[numpy.ndarray, numpy.ndarray | None]:
    """||dL_b/dh_t|| for t = 0 .. T, averaged over the batch, for a loss L at the last step.

    layer: a one-direction RNN, LSTM or GRU; x: (T, B, I) its input. loss_grad:
    a function of the layer's output at the last step, (B, H) float64, that
    returns dL/d(that output), where L = sum_b L_b. h_0 is zeros and h_t the
    state after reading x[t-1]; with several layers, h_t is every layer's.
    Returns (h_norms (T+1,), c_norms (T+1,) for the LSTM, else None).
    """
    h_grads, *c_grads = state_gradients(layer, x, loss_grad)
    return _mean_row_norms(h_grads), (_mean_row_norms(c_grads[0]) if c_grads else None)


def state_gradients(layer: Recurrent, x, loss_grad) -> tuple:
    """dL/d(state t), t = 0 .. T, from one backward pass of the layer's reference implementation.

    Arguments as :func:`last_step_gradient_norms`'. Returns one (T+1, L, B, H)
    float64 array per state (h, or h and c for the LSTM): entry t holds every
    layer's gradient of the state that step t+1 reads (h_t, c_t), as a function
    of which the rest of the run computes L. The reference runs in float64 on
    the host, on the layer's own weights, without dropout (as in eval mode).
    """
    if not isinstance(layer, Recurrent):
        raise TypeError(f"layer must be an RNN, LSTM or GRU, got {type(layer).__name__}")
    if layer.bidirectional or layer.batch_first:
        raise ValueError("the state at step t is one direction's: the layer must not be bidirectional or batch_first")
    step_forward, step_backward = reference_steps(layer)
    no_state = (None,) * len(layer.gate_math.state_names)          # zeros, as the model starts
    output, _, runs = sequence_forward(step_forward, backend.to_host(x).astype(numpy.float64),
                                       _float64(layer.state_dict()), no_state)
    d_output = numpy.zeros_like(output)
    d_output[-1] = loss_grad(output[-1])                      # the loss reads the last step's output only
    *_, d_states = sequence_backward(step_backward, d_output, runs, no_state)
    # d_states[layer][t] is a tuple (dL/dh_t[, dL/dc_t]) of (B, H): stacked to (T+1, L, B, H) per state.
    return tuple(numpy.stack([numpy.stack([run[t][k] for run in d_states]) for t in range(len(output) + 1)])
                 for k in range(len(no_state)))


def reference_steps(layer: Recurrent) -> tuple:
    """The reference (step forward, step backward) pair of the layer's cell (minirnn.reference)."""
    return kind_of(layer).reference_step


def _float64(state_dict: dict) -> dict:
    return {name: value.astype(numpy.float64) for name, value in state_dict.items()}


def _mean_row_norms(d_states) -> numpy.ndarray:
    """d_states (T+1, L, B, H): for each t, the mean over b of the norm of sequence b's gradient (all layers)."""
    by_sequence = d_states.transpose(0, 2, 1, 3).reshape(d_states.shape[0], d_states.shape[2], -1)
    return numpy.linalg.norm(by_sequence, axis=2).mean(axis=1)


def probe_batch(ids: numpy.ndarray, steps: int, batch: int, seed: int = 0) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``batch`` windows of ``steps`` ids drawn from ``ids`` (N,), and the id after each.

    Returns (windows (steps, batch), targets (batch,)).
    """
    steps, batch = validate.positive_int("steps", steps), validate.positive_int("batch", batch)
    if len(ids) < steps + 1:
        raise ValueError(f"text of {len(ids)} characters is too short for windows of {steps} steps "
                         f"and their next character: it needs at least {steps + 1}")
    starts = numpy.random.default_rng(seed).integers(0, len(ids) - steps, size=batch)
    windows = numpy.stack([ids[s:s + steps] for s in starts], axis=1)
    return windows, ids[starts + steps]


def train_briefly(model: CharRNN, ids: numpy.ndarray, steps: int = 100, batch: int = 32, bptt: int = 32,
                  lr: float = 3e-3, clip: float = 1.0) -> list:
    """A short stateful truncated-BPTT run with Adam, as ``minirnn train`` does; returns the losses.

    ids: (N,) the training text as ids. Each of ``steps`` updates reads the next
    (bptt, batch) chunk of ``batch`` parallel streams and carries the state on.
    """
    data = StreamBatcher(ids, batch, bptt)
    optimizer = Adam(model, lr)
    state, losses, xp = None, [], model.xp
    for step in range(validate.positive_int("steps", steps)):
        k = step % len(data)
        if k == 0:
            state = None                            # a new pass over the streams starts from zeros
        x, y = data[k]
        logits, state = model(xp.asarray(x), state)
        loss, d_logits = cross_entropy(logits, xp.asarray(y))
        model.zero_grad()
        model.backward(d_logits)
        clip_grad_norm(model.grads, clip)
        optimizer.step()
        losses.append(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"training the {type(model.rnn).__name__} stopped at step {step + 1}: "
                                     f"the loss is {loss}; try a lower lr")
    return losses


def gradient_flow(text: str, kinds=KINDS, steps: int = 50, batch: int = 16, train_steps: int = 100,
                  hidden: int = 64, emb: int = 16, seed: int = 0, log=None) -> list[Flow]:
    """Curves at initialisation and after ``train_steps`` updates for each kind of cell.

    text: the training text (the first 90%) and the probe text (windows of
    ``steps`` characters from the last 10%). log: a function taking one line of
    progress, or None. Returns two Flows per kind, "... at init" then "... after N training steps".
    """
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    cut = int(len(ids) * 0.9)
    windows, targets = probe_batch(ids[cut:], steps, batch, seed)
    flows = []
    for kind in kinds:
        model = make_model(kind, len(vocab), emb, hidden, seed)
        flows.append(Flow(f"{CELL_KINDS[kind].label} at init", *state_gradient_norms(model, windows, targets)))
        losses = train_briefly(model, ids[:cut], train_steps)
        flows.append(Flow(f"{CELL_KINDS[kind].label} after {train_steps} training steps",
                          *state_gradient_norms(model, windows, targets)))
        if log is not None:
            log(f"{CELL_KINDS[kind].label}: loss {losses[0]:.2f} -> {numpy.mean(losses[-10:]):.2f} in {train_steps} "
                "training steps")
    return flows


def plot_flows(flows: list, path, title: str = "", source: str = "") -> None:
    """Draw ||dL/dh_t|| against t on a log scale, one colour per cell, dashed at init, as a PNG.

    path: a file name or a binary file; source: the text the norms were measured on,
    kept with the figure's numbers in the PNG's text (see :func:`figure_text`).
    Needs matplotlib (pip install 'minirnn[plot]').
    """
    plt = plotting.pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.8))
    colours = {}
    for flow in flows:
        name = flow.label.split(" at init")[0].split(" after ")[0]
        colour = colours.setdefault(name, f"C{len(colours)}")
        steps = numpy.arange(len(flow.norms))
        style = "--" if flow.label.endswith("at init") else "-"
        axis.semilogy(steps, numpy.maximum(flow.norms, 1e-30), style, color=colour, label=flow.label)
        if flow.cell_norms is not None and not flow.label.endswith("at init"):
            # c_T reaches the loss only through h_T, inside step T: as the state step T+1 would read, its
            # gradient is 0, which a log scale cannot show.
            axis.semilogy(steps[:-1], numpy.maximum(flow.cell_norms[:-1], 1e-30), ":", color=colour,
                          label=flow.label.replace("LSTM", "LSTM cell state c_t"))
    axis.set_xlabel(f"step t (the loss is at the last step, T = {len(flows[-1].norms) - 1})")
    axis.set_ylabel("mean over the batch of ||dL/dh_t||")
    axis.set_title(title or "Gradient flowing back through time")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110, format="png", metadata={"Software": MARK, "Source": source,
                                                          "Description": figure_text(flows)})
    plt.close(figure)


def figure_text(flows: list) -> str:
    """What a gradient-flow figure shows, as text: per curve its label and its norms at t = 0 and t = T.

    Kept in the PNG (its "Description"), so that a figure can be compared with what the code draws now.
    """
    lines = []
    for flow in flows:
        T = len(flow.norms) - 1
        lines.append(f"{flow.label}: ||dL/dh_0|| = {flow.norms[0]:.4g}, ||dL/dh_{T}|| = {flow.norms[T]:.4g}")
        if flow.cell_norms is not None:
            lines.append(f"{flow.label}: ||dL/dc_0|| = {flow.cell_norms[0]:.4g}, "
                         f"||dL/dc_{T - 1}|| = {flow.cell_norms[T - 1]:.4g}")
    return "\n".join(lines)
