"""The batchers: they cut an id array into training examples.

- :class:`StreamBatcher` for stateful truncated BPTT (CharRNN): the text is
  cut into B contiguous streams, one per batch row, and batch k holds the k-th
  chunk of ``bptt`` characters of every stream, so each row continues exactly
  where it stopped in batch k-1. The caller hands h_n back as the next h0; the
  gradient is cut between chunks because each chunk's backward ends at its h0.
- :class:`WindowBatcher` for CharLoopModel: every window of n characters with
  the character after it as the target, in a shuffled order per epoch.

Everything here is host-side NumPy; the training loop moves batches to the
model's backend.
"""
from __future__ import annotations

import math

import numpy

from ..core import validate


class StreamBatcher:
    """Contiguous streams for stateful truncated BPTT.

    ids (N,) are cut into ``batch`` streams of L = (N - 1) // batch characters
    each (the last few characters that do not fill a stream are left out).
    Stream b is ids[b L : (b+1) L] with targets shifted by one. Batch k is the
    chunk [k bptt, (k+1) bptt) of every stream (the last chunk may be shorter),
    so row b of batch k+1 continues row b of batch k.
    """

    def __init__(self, ids: numpy.ndarray, batch: int, bptt: int):
        self.batch = validate.positive_int("batch", batch)
        self.bptt = validate.positive_int("bptt", bptt)
        need = batch * bptt + 1
        if len(ids) < need:
            raise ValueError(f"text of {len(ids)} characters is too short for one batch of {batch} streams "
                             f"x {bptt} steps: it needs at least {need} characters (batch x bptt + 1)")
        self.stream_length = (len(ids) - 1) // batch
        used = batch * self.stream_length
        # (L, B) time-major, as the models take it: column b is stream b.
        self.inputs = ids[:used].reshape(batch, self.stream_length).T.copy()
        self.targets = ids[1:used + 1].reshape(batch, self.stream_length).T.copy()

    def __len__(self) -> int:
        """Batches per epoch."""
        return math.ceil(self.stream_length / self.bptt)

    @property
    def tokens(self) -> int:
        """Targets per epoch."""
        return self.batch * self.stream_length

    def __getitem__(self, k: int) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Batch k: (inputs (T, B), targets (T, B)) int64, T = bptt (less for the last one)."""
        if not 0 <= k < len(self):
            raise IndexError(f"batch index must be in [0, {len(self)}), got {k}")
        rows = slice(k * self.bptt, (k + 1) * self.bptt)
        return self.inputs[rows], self.targets[rows]


def validation_streams(ids: numpy.ndarray, batch: int, bptt: int) -> StreamBatcher:
    """Streams over validation text: ``batch`` of them, or as many as fit a whole bptt chunk (at least one).

    A validation text shorter than batch x bptt + 1 gets fewer streams instead of an
    error; one of fewer than bptt + 1 characters becomes one shorter stream.
    """
    if len(ids) < 2:
        raise ValueError(f"validation text must have at least 2 characters, got {len(ids)}")
    streams = max(1, min(batch, (len(ids) - 1) // bptt))
    return StreamBatcher(ids, streams, min(bptt, (len(ids) - 1) // streams))


class WindowBatcher:
    """Windows of n characters and the character after each, for CharLoopModel.

    Window i is ids[i : i+n] with target ids[i+n], for i in [0, N - n). With a
    seed, each epoch visits the windows in its own random order, drawn from
    (seed, epoch) alone, so any epoch can be replayed exactly (resume); without
    one, in text order (validation).
    """

    def __init__(self, ids: numpy.ndarray, n: int, batch: int, seed: int | None = None):
        self.n = validate.positive_int("window", n)
        self.batch = validate.positive_int("batch", batch)
        self.seed = seed
        self.ids = ids
        self.n_windows = len(ids) - n
        if self.n_windows < batch:
            raise ValueError(f"text of {len(ids)} characters is too short for one batch of {batch} windows "
                             f"of {n} characters: it needs at least {n + batch} characters (window + batch)")

    def __len__(self) -> int:
        """Batches per epoch (the last may be smaller)."""
        return math.ceil(self.n_windows / self.batch)

    @property
    def tokens(self) -> int:
        return self.n_windows

    def order(self, epoch: int) -> numpy.ndarray:
        """The window start positions in the order epoch ``epoch`` visits them."""
        if self.seed is None:
            return numpy.arange(self.n_windows)
        return numpy.random.default_rng([self.seed, epoch]).permutation(self.n_windows)

    def batch_at(self, order: numpy.ndarray, k: int) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Batch k of an epoch's order: (windows (n, B), targets (B,)) int64, time-major."""
        starts = order[k * self.batch:(k + 1) * self.batch]
        windows = self.ids[starts[None, :] + numpy.arange(self.n)[:, None]]   # (n, B)
        return windows, self.ids[starts + self.n]
