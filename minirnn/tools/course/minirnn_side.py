"""minirnn's side of a row: each row's model, built by one small function, and its training step.

A builder returns the model and the kind of model it is, which says how a batch goes through it:

    LastPrediction   model(x) -> log p (B, V) of the character after each window; nll_loss
    EveryStep        model(x) -> (logits (T, B, V), h_n), a prediction at every step; cross_entropy
    Stateful         model(x, state) -> (logits, state); the state is handed to the next batch

Every model is seeded, so torch's side (torch_side.py) starts from the same weights by
building the same model and copying them.
"""
from __future__ import annotations

import numpy

from minirnn.core.grad_mode import no_grad
from minirnn.models import CharLoopModel, CharRNN
from minirnn.ops import cross_entropy, log_softmax_forward, nll_loss
from minirnn.optim import Adam

from .table import N_FAC, N_HIDDEN, Row


# -- how a batch goes through each kind of model: a training step's loss and backward, and the
# -- log-probabilities for the evaluation; state is what a stateful model carries between batches --------
class LastPrediction:
    @staticmethod
    def train(model, x, y, state):
        loss, d_logp = nll_loss(model(x), y)
        model.backward(d_logp)
        return loss, None

    @staticmethod
    def log_probabilities(model, x, state):
        return model(x), None


class EveryStep:
    @staticmethod
    def train(model, x, y, state):
        logits, _ = model(x)
        loss, d_logits = cross_entropy(logits, y)
        model.backward(d_logits)
        return loss, None

    @staticmethod
    def log_probabilities(model, x, state):
        return log_softmax_forward(model(x)[0])[0], None


class Stateful:
    @staticmethod
    def train(model, x, y, state):
        logits, state = model(x, state)              # from the state the previous batch left
        loss, d_logits = cross_entropy(logits, y)
        model.backward(d_logits)                     # BPTT within the chunk: the gradient stops at state
        return loss, state

    @staticmethod
    def log_probabilities(model, x, state):
        logits, state = model(x, state)
        return log_softmax_forward(logits)[0], state


class LastOfEveryStep:
    """A model that predicts at every step, trained and measured on its last step's prediction alone."""

    @staticmethod
    def train(model, x, y, state):
        logits, _ = model(x)
        loss, d_last = cross_entropy(logits[-1], y)
        d_logits = numpy.zeros_like(logits)
        d_logits[-1] = d_last
        model.backward(d_logits)
        return loss, None

    @staticmethod
    def log_probabilities(model, x, state):
        return log_softmax_forward(model(x)[0][-1])[0], None


def sum_nll(logp, y) -> float:
    """sum_n -log p[n, y[n]] over every target (logp (..., V), y (...))."""
    rows = logp.reshape(-1, logp.shape[-1])
    return -float(rows[numpy.arange(rows.shape[0]), y.reshape(-1)].sum(dtype=numpy.float64))


# -- each row's model ---------------------------------------------------------------------------------
def char_loop(vocab_size: int, seed: int):
    """Rows 1 and 2: the article's CharLoopModel."""
    return CharLoopModel(vocab_size, N_FAC, N_HIDDEN, seed=seed), LastPrediction


def char_loop_concat(vocab_size: int, seed: int):
    """Row 3: the input joined to the hidden state instead of added to it."""
    from minirnn.models import CharLoopConcatModel
    return CharLoopConcatModel(vocab_size, N_FAC, N_HIDDEN, seed=seed), LastPrediction


def rnn_last(vocab_size: int, seed: int):
    """Row 4: an RNN layer, the prediction from its last output."""
    return CharRNN(vocab_size, emb=N_FAC, hidden=N_HIDDEN, cell="rnn", seed=seed), LastOfEveryStep


def rnn_every(vocab_size: int, seed: int):
    """Row 5: a prediction at every step."""
    return CharRNN(vocab_size, emb=N_FAC, hidden=N_HIDDEN, cell="rnn", seed=seed), EveryStep


def rnn_every_identity(vocab_size: int, seed: int):
    """Row 6: as row 5, with weight_hh the identity at the start."""
    model, forward = rnn_every(vocab_size, seed)
    model.params["rnn.weight_hh_l0"][...] = numpy.eye(N_HIDDEN, dtype=model.dtype)
    return model, forward


def stateful_rnn(vocab_size: int, seed: int):
    """Row 7: the state carried from batch to batch."""
    return CharRNN(vocab_size, emb=N_FAC, hidden=N_HIDDEN, cell="rnn", seed=seed), Stateful


def stateful_lstm(vocab_size: int, seed: int):
    """Row 8: an LSTM."""
    return CharRNN(vocab_size, emb=N_FAC, hidden=N_HIDDEN, cell="lstm", seed=seed), Stateful


def stateful_lstm2(vocab_size: int, seed: int):
    """Row 9: two LSTM layers with dropout 0.25."""
    return CharRNN(vocab_size, emb=N_FAC, hidden=N_HIDDEN, layers=2, cell="lstm", dropout=0.25,
                   seed=seed), Stateful


BUILDERS = {"charloop": char_loop, "concat": char_loop_concat, "rnn_last": rnn_last, "rnn_every": rnn_every,
            "rnn_every_identity": rnn_every_identity, "stateful_rnn": stateful_rnn, "stateful_lstm": stateful_lstm,
            "stateful_lstm2": stateful_lstm2}


class MinirnnSide:
    """The row's model and Adam: fit.py's side for minirnn."""

    def __init__(self, row: Row, vocab_size: int, seed: int):
        self.model, self.kind = BUILDERS[row.model](vocab_size, seed)
        self.optimizer = Adam(self.model, lr=row.phases[0].lr, weight_decay=row.weight_decay)
        self.state = None

    def start_epoch(self) -> None:
        self.state = None

    def train_step(self, x, y, lr: float) -> float:
        self.optimizer.lr = lr
        self.model.zero_grad()
        loss, self.state = self.kind.train(self.model, x, y, self.state)
        self.optimizer.step()
        return loss

    def evaluate(self, batches) -> tuple[float, int]:
        total, count, state = 0.0, 0, None
        with self.model.evaluating(), no_grad():
            for x, y in batches:
                logp, state = self.kind.log_probabilities(self.model, x, state)
                total += sum_nll(logp, y)
                count += y.size
        return total, count
