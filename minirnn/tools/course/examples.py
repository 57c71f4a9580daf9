"""Each row's examples: the text made into the batches both libraries train on, the same in every process.

Everything here is NumPy on the host and depends on the text, the row and the
seed alone, so the minirnn process and the torch process of a row see the same
vocabulary, the same split and the same batches in the same order:

- rows 1-6 (windows): the text with "\\0" in front of its sorted characters (85
  symbols), cut into windows; a random 20% of the windows for validation (row 1:
  none), each epoch's training windows in an order drawn from (seed, epoch);
- rows 7-9 (streams): the lowercased text, its first 80% for training as 64
  contiguous streams in chunks of 8 (stateful truncated BPTT), its last 20% for
  validation; characters seen fewer than 3 times in the training text are one
  unknown symbol.

Batches are time-major, as the models take them: inputs (T, B), targets (B,) for
a prediction per window or (T, B) for one per step.

The quick setting trains on QUICK_BATCHES // epochs batches of each epoch and
validates on the first QUICK_VAL_BATCHES validation batches: about a hundred
training steps per row, to see that everything runs, not what it reaches.
"""
from __future__ import annotations

import math

import numpy

from minirnn.data import UNKNOWN, StreamBatcher, Vocab, random_split, split, windows

from .table import VAL_FRACTION, Row

QUICK_BATCHES = 100           # training batches per row in the quick setting, spread over its epochs
QUICK_VAL_BATCHES = 1         # validation batches per evaluation in the quick setting
EVAL_WINDOWS = 4096           # windows per validation batch: no backward, so larger batches fit
EVAL_BPTT = 64                # steps per validation chunk: the state carries, so longer chunks give the same loss
MIN_COUNT = 3                 # rows 7-9: characters seen fewer times are the unknown symbol
WINDOWS = {"every3": (3, 3, True), "windows": (8, 1, True), "pieces": (8, 8, False)}   # length, stride, last only


def vocabulary(row: Row, text: str) -> Vocab:
    """The row's vocabulary: the whole text's characters after "\\0" (rows 1-6), or the lowercased training
    text's characters seen at least MIN_COUNT times, with "\\0" and the unknown symbol (rows 7-9)."""
    if row.data == "streams":
        train_text = text[:len(text) - int(len(text) * VAL_FRACTION)]
        return Vocab.from_text(train_text, padding=True, lower=True, min_count=MIN_COUNT, unknown=UNKNOWN)
    return Vocab.from_text(text, padding=True)


def prepare(row: Row, text: str, seed: int, quick: bool):
    """The row's examples: WindowExamples (rows 1-6) or StreamExamples (rows 7-9)."""
    vocab = vocabulary(row, text)
    ids = vocab.encode(text)
    if row.data == "streams":
        return StreamExamples(vocab, ids, row, quick)
    return WindowExamples(vocab, ids, row, seed, quick)


class WindowExamples:
    """Windows of the text and their targets, a random VAL_FRACTION of them held out (none for row 1)."""

    stateful = False

    def __init__(self, vocab: Vocab, ids: numpy.ndarray, row: Row, seed: int, quick: bool):
        length, stride, last_only = WINDOWS[row.data]
        inputs, targets = windows(ids, length, stride)
        if last_only:
            targets = targets[:, -1]                     # the character after each window
        if row.measure == "train":                       # row 1: every window trains
            train_index, val_index = numpy.arange(len(inputs)), numpy.arange(0)
        else:
            train_index, val_index = random_split(len(inputs), VAL_FRACTION, seed)
        self.vocab, self.batch, self.seed = vocab, row.batch, seed
        self.train_inputs, self.train_targets = inputs[train_index], targets[train_index]   # (N, T), (N,) or (N, T)
        self.val_inputs, self.val_targets = inputs[val_index], targets[val_index]
        full = math.ceil(len(train_index) / self.batch)
        self.batches_per_epoch = min(full, max(1, QUICK_BATCHES // row.epochs)) if quick else full
        self.val_batches = math.ceil(len(val_index) / EVAL_WINDOWS)
        if quick:
            self.val_batches = min(self.val_batches, QUICK_VAL_BATCHES)

    def epoch(self, number: int):
        """Epoch ``number``'s training batches, (inputs (T, B), targets (B,) or (T, B)), in an order drawn
        from (seed, number)."""
        order = numpy.random.default_rng([self.seed, number]).permutation(len(self.train_inputs))
        for k in range(self.batches_per_epoch):
            chosen = order[k * self.batch:(k + 1) * self.batch]
            yield self.train_inputs[chosen].T, self.train_targets[chosen].T

    def validation(self):
        """The validation batches in order, EVAL_WINDOWS windows each."""
        for k in range(self.val_batches):
            rows = slice(k * EVAL_WINDOWS, (k + 1) * EVAL_WINDOWS)
            yield self.val_inputs[rows].T, self.val_targets[rows].T


class StreamExamples:
    """Contiguous streams of the training text in chunks (stateful), and of the validation text in longer ones."""

    stateful = True

    def __init__(self, vocab: Vocab, ids: numpy.ndarray, row: Row, quick: bool):
        train_ids, val_ids = split(ids, VAL_FRACTION)
        self.vocab = vocab
        self.train = StreamBatcher(train_ids, row.batch, row.bptt)
        self.val = StreamBatcher(val_ids, row.batch, EVAL_BPTT)
        self.batches_per_epoch = len(self.train)
        self.val_batches = len(self.val)
        self.quick = quick
        if quick:
            self.batches_per_epoch = min(self.batches_per_epoch, max(1, QUICK_BATCHES // row.epochs))
            self.val_batches = min(self.val_batches, QUICK_VAL_BATCHES)

    def epoch(self, number: int):
        """The training chunks in text order, chunk k of every stream in batch k: (inputs (T, B), targets (T, B)).

        An epoch of the quick setting takes the chunks after the previous epoch's, so that
        its few batches see the whole text over the epochs rather than its start again and again.
        """
        first = number * self.batches_per_epoch % len(self.train) if self.quick else 0
        for k in range(self.batches_per_epoch):
            yield self.train[(first + k) % len(self.train)]

    def validation(self):
        for k in range(self.val_batches):
            yield self.val[k]
