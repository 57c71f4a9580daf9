"""What differs between the two kinds of model in training: their data, their training step, their evaluation.

CharRNN, by stateful truncated BPTT (one training step):

    logits, state = model(x, state)             x (T, B): chunk k of every stream; state from chunk k-1
    loss, d_logits = cross_entropy(logits, y)   mean over the T*B targets
    model.backward(d_logits)                    BPTT within the chunk only: the gradient stops at state

CharLoopModel, on windows of ``window`` characters, each predicting the next one:

    logp = model(windows)                       windows (n, B), in this epoch's shuffled order
    loss, d_logp = nll_loss(logp, y)            y (B,): the character after each window

The trainer does the rest of a training step (clipping, the update) the same way for both.
Evaluation runs the validation text as stateful streams (CharRNN) or all its
windows in order (CharLoopModel) and returns the summed loss in nats and the count.
"""
from __future__ import annotations

from minirnn.cell_kinds import default_kind
from minirnn.core import backend
from minirnn.data import StreamBatcher, WindowBatcher, validation_streams
from minirnn.ops import cross_entropy, log_softmax_forward, nll_loss

EVAL_BATCH_WINDOWS = 1024   # CharLoopModel validation windows per forward: no backward, so memory is small


class CharRNNTask:
    """CharRNN's data (contiguous streams), step and evaluation; it carries the RNN state between steps."""

    def __init__(self, config, train_ids, val_ids):
        need = config.batch * config.bptt + 1
        if len(train_ids) < need:
            raise ValueError(f"the training text ({len(train_ids)} characters: the text less its last "
                             f"--val-fraction {config.val_fraction}) is too short for one batch of --batch "
                             f"{config.batch} streams x --bptt {config.bptt} steps, which needs {need}; lower "
                             "--val-fraction, --batch or --bptt, or give a longer --text")
        self.config = config
        self.train = StreamBatcher(train_ids, config.batch, config.bptt)
        self.val = validation_streams(val_ids, config.batch, config.bptt)
        self.state = None                   # the RNN state carried from the previous chunk

    @staticmethod
    def model_config(config, vocab_size: int) -> dict:
        return dict(vocab_size=vocab_size, emb=config.emb, hidden=config.hidden, layers=config.layers,
                    cell=config.cell, dropout=float(config.dropout), dtype=config.dtype)

    def forward_loss(self, model, epoch: int, batch_index: int):
        """(loss, d_logits, targets counted, the state to carry once the step is taken)."""
        xp = model.xp
        if batch_index == 0:
            self.state = None               # each epoch starts every stream from a zero state
        x, y = self.train[batch_index]
        logits, state = model(xp.asarray(x), self.state)
        loss, d_logits = cross_entropy(logits, xp.asarray(y))
        return loss, d_logits, y.size, state

    def carry(self, state) -> None:
        self.state = state

    def evaluate(self, model) -> tuple[float, int]:
        xp, total, count, state = model.xp, 0.0, 0, None
        for k in range(len(self.val)):
            x, y = self.val[k]
            logits, state = model(xp.asarray(x), state)
            total += sum_nll(log_softmax_forward(logits)[0], xp.asarray(y))
            count += y.size
        return total, count

    def state_arrays(self) -> dict:
        """The carried state for a checkpoint: state0 (h), and state1 (c) for the LSTM; none at first."""
        if self.state is None:
            return {}
        states = self.state if isinstance(self.state, tuple) else (self.state,)
        return {f"state{i}": s for i, s in enumerate(states)}

    def check_state_arrays(self, arrays: dict, step: int) -> None:
        """Refuse a stored carried state that is not this run's (ValueError): after the first step every
        stream carries one, h (and c for the LSTM), each (layers, batch, hidden)."""
        config = self.config
        n_states = len(default_kind(config.cell).state_names)           # h, and c for the LSTM
        names = set() if step == 0 else {f"state{i}" for i in range(n_states)}
        shape = (config.layers, config.batch, config.hidden)
        if set(arrays) != names or any(a.shape != shape or a.dtype != config.dtype for a in arrays.values()):
            got = ", ".join(f"{k} {a.shape} {a.dtype}" for k, a in arrays.items()) or "none"
            raise ValueError(f"its carried state at step {step} must be {sorted(names)}, each {shape} "
                             f"{config.dtype}; got {got}")

    def restore(self, arrays: dict, xp) -> None:
        states = tuple(xp.asarray(arrays[f"state{i}"]) for i in range(len(arrays)))
        self.state = None if not states else states if len(states) > 1 else states[0]


class CharLoopTask:
    """CharLoopModel's data (windows), step and evaluation; each epoch visits the windows in its own order."""

    def __init__(self, config, train_ids, val_ids):
        need = config.window + config.batch
        if len(train_ids) < need:
            raise ValueError(f"the training text ({len(train_ids)} characters: the text less its last "
                             f"--val-fraction {config.val_fraction}) is too short for one batch of --batch "
                             f"{config.batch} windows of --window {config.window}, which needs {need}; lower "
                             "--val-fraction, --batch or --window, or give a longer --text")
        if len(val_ids) <= config.window:
            raise ValueError(f"the validation text ({len(val_ids)} characters: the last --val-fraction "
                             f"{config.val_fraction}) is shorter than one --window of {config.window} characters "
                             "and its target; raise --val-fraction, lower --window, or give a longer --text")
        self.train = WindowBatcher(train_ids, config.window, config.batch, seed=config.seed)
        # All the validation windows, in text order, in batches as large as memory comfortably allows.
        self.val = WindowBatcher(val_ids, config.window, min(EVAL_BATCH_WINDOWS, len(val_ids) - config.window))
        self.order, self.order_epoch = None, None

    @staticmethod
    def model_config(config, vocab_size: int) -> dict:
        return dict(vocab_size=vocab_size, n_fac=config.emb, n_hidden=config.hidden, dtype=config.dtype)

    def forward_loss(self, model, epoch: int, batch_index: int):
        """(loss, d_logp, targets counted, None: nothing is carried between steps)."""
        xp = model.xp
        if self.order_epoch != epoch:       # this epoch's window order, from (seed, epoch) alone
            self.order, self.order_epoch = self.train.order(epoch), epoch
        x, y = self.train.batch_at(self.order, batch_index)
        loss, d_logp = nll_loss(model(xp.asarray(x)), xp.asarray(y))
        return loss, d_logp, y.size, None

    def carry(self, state) -> None:
        pass

    def evaluate(self, model) -> tuple[float, int]:
        xp, total, count, order = model.xp, 0.0, 0, self.val.order(0)
        for k in range(len(self.val)):
            x, y = self.val.batch_at(order, k)
            total += sum_nll(model(xp.asarray(x)), xp.asarray(y))
            count += y.size
        return total, count

    def state_arrays(self) -> dict:
        return {}

    def check_state_arrays(self, arrays: dict, step: int) -> None:
        if arrays:
            raise ValueError(f"it holds arrays {sorted(arrays)}, but CharLoopModel carries no state")

    def restore(self, arrays: dict, xp) -> None:
        pass


TASKS = {"charrnn": CharRNNTask, "charloop": CharLoopTask}


def model_config(config, vocab_size: int) -> dict:
    """The constructor arguments of the model that the training settings ``config`` build."""
    return TASKS[config.model].model_config(config, vocab_size)


def sum_nll(logp, target) -> float:
    """sum_n -log p[n, target[n]] over every position (logp (..., V), target (...))."""
    xp = backend.array_module(logp)
    rows = logp.reshape(-1, logp.shape[-1])
    return -float(rows[xp.arange(rows.shape[0]), target.reshape(-1)].astype("float64").sum())
