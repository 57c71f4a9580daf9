"""The text a character model learns from: a file read whole, the default corpus, and its split.

The text is turned into one long array of character ids (vocab.py); its last
``val_fraction`` is the validation text and the rest the training text.
"""
from __future__ import annotations

import math
import os
import stat
import sysconfig
from pathlib import Path

import numpy

from ..core import validate

DEFAULT_CORPUS_BYTES = 2_000_000


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
    the last file is cut there (at a character boundary), or all the modules
    when they hold fewer (about 4.7 MB on Python 3.11). The same Python
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
