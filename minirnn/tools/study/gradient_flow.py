"""How far back the gradient of a loss reaches: ||dL/dh_t|| against t, for a loss at the last step.

BPTT carries dL/dh_t from step t to step t-1 by multiplying it with the
Jacobian dh_t/dh_{t-1} (for the tanh RNN, W_hh^T diag(1 - h_t^2)). A loss at
step T therefore reaches step t through T - t such factors: if they shrink
the gradient it vanishes geometrically, if they grow it, it explodes. The
LSTM's cell state and the GRU's update gate give the gradient a path with an
elementwise factor (f_t, or z_t) instead of a matrix, which is why they keep it
alive over more steps. :func:`state_gradient_norms` measures this directly with
minirnn's own backward, and :func:`plot_flows` draws the curves.

How dL/dh_t is read without any hook in the sequence layer: a run that starts
at step t from the state h_t computes the same h_{t+1}, ..., h_T as the full run,
and its backward returns dL/d(initial state), which is then dL/dh_t. So for
each t the model is run over ids[t:] from h_t, and ``backward`` is called with
the gradient of the loss at the last step only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from minirnn.cell_kinds import CELL_KINDS, kind_of
from minirnn.core import backend, validate
from minirnn.core.grad_mode import no_grad
from minirnn.data import StreamBatcher, Vocab
from minirnn.layers import Recurrent
from minirnn.models import CharRNN, build_model
from minirnn.ops import cross_entropy
from minirnn.optim import Adam, clip_grad_norm

from . import plotting

KINDS = tuple(CELL_KINDS)         # rnn_tanh, rnn_relu, lstm, gru


@dataclass
class Flow:
    """One curve: norms[t] = mean over the batch of ||dL_b/dh_t||, t = 0 .. T-1, for a loss at step T.

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
    """||dL_b/dh_t|| for t = 0 .. T-1, averaged over the batch, for L = sum_b CE(logits_T[b], target[b]).

    ids: (T, B) character ids; target: (B,) the character after each window.
    h_0 is zeros and h_t the state after reading ids[t-1]. The loss sums over
    the batch (not the mean) so that row b of dL/dh_t is sequence b's own
    gradient. Returns (h_norms (T,), c_norms (T,) for the LSTM, else None).
    """
    if not isinstance(model, CharRNN):
        raise TypeError(f"model must be a CharRNN, got {type(model).__name__}")
    xp = model.xp
    ids = validate.id_array("ids", xp.asarray(ids), ("T", "B"), model.vocab_size, xp)
    target = validate.id_array("target", xp.asarray(target), (ids.shape[1],), model.vocab_size, xp)
    return last_step_gradient_norms(model, ids, lambda logits: cross_entropy(logits, target)[1] * len(target))


def last_step_gradient_norms(model, inputs, loss_grad) -> tuple[numpy.ndarray, numpy.ndarray | None]:
    """||dL_b/dh_t|| for t = 0 .. T-1, averaged over the batch, for a loss L at the last step.

    model: a CharRNN (inputs: (T, B) ids) or a one-direction RNN, LSTM or GRU
    (inputs: (T, B, I)). loss_grad: a function of the model's output at the
    last step, (B, ...), that returns dL/d(that output), where L = sum_b L_b.
    h_0 is zeros and h_t the state after reading inputs[t-1].
    Returns (h_norms (T,), c_norms (T,) for the LSTM, else None).
    """
    is_layer = isinstance(model, Recurrent)
    if not is_layer and not isinstance(model, CharRNN):
        raise TypeError(f"model must be a CharRNN, RNN, LSTM or GRU, got {type(model).__name__}")
    if is_layer and (model.bidirectional or model.batch_first):
        raise ValueError("the state at step t is one direction's: the layer must not be bidirectional or batch_first")
    xp = model.xp
    T = inputs.shape[0]
    with model.evaluating():                       # no dropout: the same function at every start
        states = [None]                            # states[t] = h_t (None: zeros, as the model starts)
        with no_grad():
            for t in range(T - 1):
                states.append(model(inputs[t:t + 1], states[t])[1])
        h_norms, c_norms, d_last = [], [], None
        for t in range(T):
            output, _ = model(inputs[t:], states[t])
            if d_last is None:                     # every run ends in the same output, so the same gradient
                d_last = loss_grad(output[-1])
            d_output = xp.zeros_like(output)
            d_output[-1] = d_last
            d_state0 = model.backward(d_output)    # = dL/dh_t, since this run started from h_t
            if is_layer:                           # a layer returns (dx, dh0)
                d_state0 = d_state0[1]
            model.zero_grad()
            if isinstance(d_state0, tuple):        # the LSTM: (dL/dh_t, dL/dc_t)
                d_state0, d_c = d_state0
                c_norms.append(_mean_row_norm(d_c))
            h_norms.append(_mean_row_norm(d_state0))
    return numpy.array(h_norms), (numpy.array(c_norms) if c_norms else None)


def _mean_row_norm(d_state) -> float:
    """d_state (layers, B, H): the mean over b of the norm of sequence b's gradient (all layers)."""
    host = backend.to_host(d_state).astype(numpy.float64)
    return float(numpy.linalg.norm(host.transpose(1, 0, 2).reshape(host.shape[1], -1), axis=1).mean())


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
    progress, or None. Returns two Flows per kind, "... at init" then "... trained".
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
        flows.append(Flow(f"{CELL_KINDS[kind].label} after {train_steps} steps",
                          *state_gradient_norms(model, windows, targets)))
        if log is not None:
            log(f"{CELL_KINDS[kind].label}: loss {losses[0]:.2f} -> {numpy.mean(losses[-10:]):.2f} "
                f"in {train_steps} steps")
    return flows


def plot_flows(flows: list, path, title: str = "") -> None:
    """Draw ||dL/dh_t|| against t on a log scale, one colour per cell, dashed at init, as a PNG.

    path: a file name or a binary file. Needs matplotlib (pip install 'minirnn[plot]').
    """
    plt = plotting.pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.8))
    colours = {}
    for flow in flows:
        name = flow.label.split(" at init")[0].split(" after ")[0]
        colour = colours.setdefault(name, f"C{len(colours)}")
        T = len(flow.norms)
        style = "--" if flow.label.endswith("at init") else "-"
        axis.semilogy(numpy.arange(T), numpy.maximum(flow.norms, 1e-30), style, color=colour, label=flow.label)
        if flow.cell_norms is not None and not flow.label.endswith("at init"):
            axis.semilogy(numpy.arange(T), numpy.maximum(flow.cell_norms, 1e-30), ":", color=colour,
                          label=flow.label.replace("LSTM", "LSTM cell state c_t"))
    axis.set_xlabel(f"step t (the loss is at the last step, T = {T})")
    axis.set_ylabel("mean over the batch of ||dL/dh_t||")
    axis.set_title(title or "Gradient flowing back through time")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110, format="png")
    plt.close(figure)
