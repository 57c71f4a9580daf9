"""minirnn's side of a row: each row's model, built by one small function, and its training step.

A builder returns the model and the kind of model it is, which says how a batch goes through it:

    Window     CharLoopModel, CharLoopConcatModel: model(x) -> log p (B, V) of the character after each window
    Sequence   CharSeqRNN: model(x, state) -> (log p, state), log p (B, V) after the last step or (T, B, V)
               after every step; the state goes on to the next batch in the stateful rows

Every model is seeded, so torch's side (torch_side.py) starts from the same weights by
building the same model and copying them.
"""
from __future__ import annotations

import numpy

from minirnn.core.grad_mode import no_grad
from minirnn.models import CharLoopConcatModel, CharLoopModel, CharSeqRNN
from minirnn.ops import nll_loss
from minirnn.optim import Adam

from .table import N_FAC, N_HIDDEN, Row


# -- how a batch goes through each kind of model: the log-probabilities of the next characters and the
# -- state to hand on (None for a model that keeps none) -------------------------------------------------
class Window:
    @staticmethod
    def forward(model, x, state):
        return model(x), None


class Sequence:
    @staticmethod
    def forward(model, x, state):
        return model(x, state)


def sum_nll(logp, y) -> float:
    """sum_n -log p[n, y[n]] over every target (logp (..., V), y (...))."""
    rows = logp.reshape(-1, logp.shape[-1])
    return -float(rows[numpy.arange(rows.shape[0]), y.reshape(-1)].sum(dtype=numpy.float64))


# -- each row's model ---------------------------------------------------------------------------------
def char_loop(vocab_size: int, seed: int):
    """Rows 1 and 2: the article's CharLoopModel."""
    return CharLoopModel(vocab_size, N_FAC, N_HIDDEN, seed=seed), Window


def char_loop_concat(vocab_size: int, seed: int):
    """Row 3: the input joined to the hidden state instead of added to it."""
    return CharLoopConcatModel(vocab_size, N_FAC, N_HIDDEN, seed=seed), Window


def rnn_last(vocab_size: int, seed: int):
    """Row 4: an RNN layer, the prediction from its last output."""
    return CharSeqRNN(vocab_size, N_FAC, N_HIDDEN, every_step=False, seed=seed), Sequence


def rnn_every(vocab_size: int, seed: int):
    """Rows 5 and 7: a prediction at every step (row 7 hands the state on)."""
    return CharSeqRNN(vocab_size, N_FAC, N_HIDDEN, seed=seed), Sequence


def rnn_every_identity(vocab_size: int, seed: int):
    """Row 6: as row 5, with weight_hh the identity at the start."""
    return CharSeqRNN(vocab_size, N_FAC, N_HIDDEN, identity_init=True, seed=seed), Sequence


def stateful_lstm(vocab_size: int, seed: int):
    """Row 8: an LSTM."""
    return CharSeqRNN(vocab_size, N_FAC, N_HIDDEN, cell="lstm", seed=seed), Sequence


def stateful_lstm2(vocab_size: int, seed: int):
    """Row 9: two LSTM layers with dropout 0.25 between them."""
    return CharSeqRNN(vocab_size, N_FAC, N_HIDDEN, cell="lstm", num_layers=2, dropout=0.25, seed=seed), Sequence


BUILDERS = {"charloop": char_loop, "concat": char_loop_concat, "rnn_last": rnn_last, "rnn_every": rnn_every,
            "rnn_every_identity": rnn_every_identity, "stateful_rnn": rnn_every, "stateful_lstm": stateful_lstm,
            "stateful_lstm2": stateful_lstm2}


class MinirnnSide:
    """The row's model and Adam: fit.py's side for minirnn."""

    def __init__(self, row: Row, vocab_size: int, seed: int):
        self.model, self.kind = BUILDERS[row.model](vocab_size, seed)
        self.optimizer = Adam(self.model, lr=row.phases[0].lr, weight_decay=row.weight_decay)
        self.stateful = row.stateful
        self.state = None

    def start_epoch(self) -> None:
        self.state = None

    def train_step(self, x, y, lr: float) -> float:
        self.optimizer.lr = lr
        self.model.zero_grad()
        logp, state = self.kind.forward(self.model, x, self.state)
        loss, d_logp = nll_loss(logp, y)
        self.model.backward(d_logp)                # the backward of a batch stops at the state it was given
        self.optimizer.step()
        if self.stateful:
            self.state = state
        return loss

    def evaluate(self, batches) -> tuple[float, int]:
        total, count, state = 0.0, 0, None
        with self.model.evaluating(), no_grad():
            for x, y in batches:
                logp, next_state = self.kind.forward(self.model, x, state)
                total += sum_nll(logp, y)
                count += y.size
                if self.stateful:
                    state = next_state
        return total, count
