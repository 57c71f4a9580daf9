"""Text for character models: reading it, the default corpus, the vocabulary, and the batchers.

The text is turned into one long array of character ids. Its last
``val_fraction`` is the validation text, the rest the training text. Two
batchers cut an id array into training examples:

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

import json
import math
import os
import stat
import sysconfig
from pathlib import Path

import numpy

from .core import validate

DEFAULT_CORPUS_BYTES = 2_000_000


# -- reading text ---------------------------------------------------------------------
def read_text(path) -> str:
    """The contents of a UTF-8 text file; a clear ValueError for an empty or non-UTF-8 file.

    A missing or unreadable file raises the OSError that names it. Anything but a
    regular file (a FIFO, which would block, or a device such as /dev/zero, which
    never ends) is refused before a byte of it is read.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))   # a FIFO must not block the open
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):   # a directory too: fdopen would name it by number
            raise ValueError(f"text file {str(path)!r} is not a regular file")
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            raw = file.read()
    finally:
        os.close(descriptor)
    if not raw:
        raise ValueError(f"text file {str(path)!r} is empty: a character model needs text to learn from")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"text file {str(path)!r} is not UTF-8: byte 0x{raw[err.start]:02x} at offset "
                         f"{err.start} cannot be decoded ({err.reason})") from None


def stdlib_sources() -> list[Path]:
    """The top-level ``*.py`` modules of the running Python's standard library, sorted by file name."""
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"), key=lambda p: p.name)


def default_corpus(corpus_bytes: int = DEFAULT_CORPUS_BYTES) -> str:
    """Python source code to train on, with nothing to download.

    The running Python's top-level standard-library modules (``Lib/*.py``, the
    packages such as ``asyncio/`` left out), in sorted file-name order, each
    followed by a newline, until ``corpus_bytes`` bytes of UTF-8 are gathered;
    the last file is cut there (at a character boundary). The same Python
    version always gives the same text. About 2 MB by default, which reaches
    from ``__future__.py`` to ``io.py`` on Python 3.11.
    """
    corpus_bytes = validate.positive_int("corpus_bytes", corpus_bytes)
    parts, gathered = [], 0
    for path in stdlib_sources():
        try:
            source = path.read_bytes()
            source.decode("utf-8")
        except (OSError, UnicodeDecodeError):   # an unreadable module does not stop the corpus
            continue
        parts.append(source + b"\n")
        gathered += len(source) + 1
        if gathered >= corpus_bytes:
            break
    if not parts:
        raise ValueError(f"no standard-library sources (*.py) found in {sysconfig.get_paths()['stdlib']!r} "
                         "for the default corpus; give a text file with --text")
    # Cutting bytes may split a multi-byte character: the partial one is dropped.
    return b"".join(parts)[:corpus_bytes].decode("utf-8", errors="ignore")


# -- the vocabulary -------------------------------------------------------------------
class Vocab:
    """Characters <-> ids: id k is the k-th character in sorted order.

    Stored with a model as JSON (``to_json()`` / ``Vocab.from_json(d)``).
    """

    def __init__(self, chars):
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError(f"vocab must be a non-empty sequence of single characters, got {chars[:5]!r}...")
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        """Every character that occurs in ``text``."""
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def encode(self, text: str, name: str = "text") -> numpy.ndarray:
        """text -> (len(text),) int64 ids; a ValueError names the argument and the characters the vocabulary lacks."""
        try:
            return numpy.fromiter((self.index[c] for c in text), dtype=numpy.int64, count=len(text))
        except KeyError:
            unknown = "".join(sorted(set(text) - set(self.index)))
            raise ValueError(f"{name} must use only the vocabulary's characters, got some not in the vocabulary: "
                             f"{unknown[:20]!r}") from None

    def decode(self, ids) -> str:
        """ids (any iterable of ints in [0, len)) -> text."""
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> dict:
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        if not isinstance(data, dict) or not isinstance(data.get("chars"), str):
            raise ValueError(f"vocab must be stored as {{'chars': str}}, got {json.dumps(data)[:60]}")
        return cls(data["chars"])


def split(ids: numpy.ndarray, val_fraction: float, name: str = "val_fraction") -> tuple[numpy.ndarray, numpy.ndarray]:
    """(train, val): the last ``val_fraction`` of the ids is the validation text.

    val_fraction in (0, 1); both parts keep at least two characters (one input, one
    target). name: what errors call val_fraction (the trainer says --val-fraction).
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {val_fraction!r}")
    n_val = int(len(ids) * val_fraction)
    if n_val < 2 or len(ids) - n_val < 2:
        need = math.ceil(2 / min(val_fraction, 1 - val_fraction))
        raise ValueError(f"{name} {val_fraction} of a text of {len(ids)} characters leaves {len(ids) - n_val} "
                         f"for training and {n_val} for validation; each needs at least 2, so the text at least "
                         f"{need} characters")
    return ids[:-n_val], ids[-n_val:]


# -- batchers -------------------------------------------------------------------------
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
