"""torch's side of a row: the notebook's models written in torch, trained as minirnn's are.

Only this module imports torch, and only the worker imports this module, in a
process of its own. Each model has the parameter names of the minirnn model of
its row, so that it starts from the same weights: the side builds the row's
minirnn model from the same seed and copies them in. Each model returns
log-probabilities (of the character after each window, or after each step) and
its state.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .minirnn_side import BUILDERS
from .table import N_FAC, N_HIDDEN, Row


class CharLoop(nn.Module):
    """Rows 1, 2: h = tanh(l_hidden(h + relu(l_in(e(c))))) for each character c, from h = 0."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.e = nn.Embedding(vocab_size, N_FAC)
        self.l_in = nn.Linear(N_FAC, N_HIDDEN)
        self.l_hidden = nn.Linear(N_HIDDEN, N_HIDDEN)
        self.l_out = nn.Linear(N_HIDDEN, vocab_size)

    def forward(self, cs, state=None):
        inp = F.relu(self.l_in(self.e(cs)))          # every step's input at once: it does not depend on h
        h = torch.zeros(cs.shape[1], N_HIDDEN)
        for inp_t in inp:
            h = torch.tanh(self.l_hidden(h + inp_t))
        return F.log_softmax(self.l_out(h), dim=-1), None


class CharLoopConcat(nn.Module):
    """Row 3: h = tanh(l_hidden(relu(l_in(cat(h, e(c)))))) for each character c, from h = 0."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.e = nn.Embedding(vocab_size, N_FAC)
        self.l_in = nn.Linear(N_FAC + N_HIDDEN, N_HIDDEN)
        self.l_hidden = nn.Linear(N_HIDDEN, N_HIDDEN)
        self.l_out = nn.Linear(N_HIDDEN, vocab_size)

    def forward(self, cs, state=None):
        h = torch.zeros(cs.shape[1], N_HIDDEN)
        for emb_t in self.e(cs):
            h = torch.tanh(self.l_hidden(F.relu(self.l_in(torch.cat((h, emb_t), 1)))))
        return F.log_softmax(self.l_out(h), dim=-1), None


class CharRnn(nn.Module):
    """Rows 4-9: an embedding, torch's RNN or LSTM, l_out at every step (at the last alone: ``last``)."""

    def __init__(self, vocab_size: int, cell: str = "rnn", layers: int = 1, dropout: float = 0.0, last=False):
        super().__init__()
        self.last = last
        self.e = nn.Embedding(vocab_size, N_FAC)
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM}[cell](N_FAC, N_HIDDEN, layers, dropout=dropout)
        self.l_out = nn.Linear(N_HIDDEN, vocab_size)

    def forward(self, cs, state=None):
        out, state = self.rnn(self.e(cs), state)
        return F.log_softmax(self.l_out(out[-1] if self.last else out), dim=-1), state


MODELS = {"charloop": CharLoop, "concat": CharLoopConcat, "rnn_last": partial(CharRnn, last=True),
          "rnn_every": CharRnn, "rnn_every_identity": CharRnn, "stateful_rnn": CharRnn,
          "stateful_lstm": partial(CharRnn, cell="lstm"),
          "stateful_lstm2": partial(CharRnn, cell="lstm", layers=2, dropout=0.25)}


def copy_weights(source, module: nn.Module) -> None:
    """Copy a minirnn model's parameters into the torch module whose parameters have the same names."""
    theirs = dict(module.named_parameters())
    if set(theirs) != set(source.params):
        raise RuntimeError(f"torch's {type(module).__name__} has the parameters {sorted(theirs)}, but minirnn's "
                           f"{type(source).__name__} has {sorted(source.params)}: the names must agree")
    with torch.no_grad():
        for name, param in theirs.items():
            param.copy_(torch.from_numpy(source.params[name]))


def detached(state):
    """The state without its history, so that the next batch's backward stops at it."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class TorchSide:
    """The row's torch model and torch.optim.Adam: fit.py's side for torch."""

    def __init__(self, row: Row, vocab_size: int, seed: int, threads: int):
        torch.set_num_threads(threads)
        source, _ = BUILDERS[row.model](vocab_size, seed)            # minirnn's model: the same first weights
        self.model = MODELS[row.model](vocab_size)
        copy_weights(source, self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=row.phases[0].lr,
                                          weight_decay=row.weight_decay)
        self.stateful = row.stateful
        self.state = None

    def start_epoch(self) -> None:
        self.state = None

    def train_step(self, x, y, lr: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad()
        logp, state = self.model(torch.from_numpy(x), self.state)
        loss = F.nll_loss(logp.reshape(-1, logp.shape[-1]), torch.from_numpy(y).reshape(-1))
        loss.backward()
        self.optimizer.step()
        if self.stateful:
            self.state = detached(state)
        return loss.item()

    def evaluate(self, batches) -> tuple[float, int]:
        total, count, state = 0.0, 0, None
        self.model.eval()
        try:
            with torch.no_grad():
                for x, y in batches:
                    logp, new_state = self.model(torch.from_numpy(x), state)
                    total += F.nll_loss(logp.reshape(-1, logp.shape[-1]), torch.from_numpy(y).reshape(-1),
                                        reduction="sum").item()
                    count += y.size
                    if self.stateful:
                        state = new_state
        finally:
            self.model.train()
        return total, count
