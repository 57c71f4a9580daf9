"""Text corpora by name: found in the data directory, or downloaded into it once, checked by SHA-256.

The data directory is the one the environment variable ``MINIRNN_DATA`` names,
else ``$XDG_CACHE_HOME/minirnn`` (``~/.cache/minirnn``). A corpus file found
there is used once its SHA-256 is the expected one. A missing one is
downloaded when allowed: its hash is computed as the bytes arrive, and the
file appears only whole and right (written atomically), so an interrupted or
corrupted download leaves nothing behind. When it cannot be had, the error is
one line that says where to put the file.

The one corpus today is the course's: ``nietzsche``, the collected works of
Nietzsche in English (600,893 characters).
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core import validate
from ..core.atomic import atomic_write
from .text import read_text

DATA_ENV = "MINIRNN_DATA"
CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Corpus:
    """Where a corpus comes from and how to know it: its file name, URL, SHA-256 and size in bytes."""

    filename: str
    url: str
    sha256: str
    size: int


CORPORA = {
    "nietzsche": Corpus(filename="nietzsche.txt", url="https://s3.amazonaws.com/text-datasets/nietzsche.txt",
                        sha256="23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647", size=600_901),
}

Progress = Callable[[int, int], None]      # progress(bytes received so far, bytes expected in all)


def data_directory() -> Path:
    """Where corpora are kept: $MINIRNN_DATA, else $XDG_CACHE_HOME/minirnn, else ~/.cache/minirnn."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "minirnn"


def corpus_path(name: str, *, directory=None, download: bool = True, progress: Progress | None = None) -> Path:
    """The path of corpus ``name`` in ``directory`` (default: :func:`data_directory`), checked.

    A file already there must have the corpus's SHA-256 (else a ValueError). A missing
    one is downloaded when ``download`` is true, with ``progress(received, total)``
    called as the bytes arrive; otherwise, or when the download fails, a
    FileNotFoundError says, in one line, where to put the file.
    """
    corpus = CORPORA[validate.choice("corpus", name, tuple(CORPORA))]
    directory = data_directory() if directory is None else Path(directory)
    path = directory / corpus.filename
    if path.is_file():
        found = sha256_of(path)
        if found != corpus.sha256:
            raise ValueError(f"{path} is not the {name} corpus: its sha256 is {found}, expected {corpus.sha256}; "
                             "delete it to download it again, or put the right file there")
        return path
    put_it_there = (f"download {corpus.url} to {path} (or set {DATA_ENV} to the directory that holds "
                    f"{corpus.filename})")
    if not download:
        raise FileNotFoundError(f"the {name} corpus is not in {directory}: {put_it_there}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fetch(corpus, path, progress)
    except OSError as err:          # offline, refused, not found, timed out, or the directory is not writable
        raise FileNotFoundError(f"the {name} corpus is not in {directory} and could not be downloaded "
                                f"({_reason(err)}): {put_it_there}") from None
    return path


def load_corpus(name: str, *, directory=None, download: bool = True, progress: Progress | None = None) -> str:
    """The text of corpus ``name``: :func:`corpus_path`'s file, read whole."""
    return read_text(corpus_path(name, directory=directory, download=download, progress=progress))


def fetch(corpus: Corpus, path: Path, progress: Progress | None = None) -> None:
    """Download ``corpus.url`` to ``path``, atomically, only if its bytes have the expected SHA-256.

    A mismatch (or more bytes than the corpus has) raises ValueError and leaves no file.
    """
    with urllib.request.urlopen(corpus.url, timeout=TIMEOUT_SECONDS) as response:
        total = int(response.headers.get("Content-Length") or corpus.size)

        def write(file) -> None:
            digest, received = hashlib.sha256(), 0
            while chunk := response.read(CHUNK_BYTES):
                received += len(chunk)
                if received > corpus.size:      # a wrong file: stop reading it
                    raise ValueError(f"{corpus.url} sent more than the corpus's {corpus.size} bytes: "
                                     "it is not the file expected")
                digest.update(chunk)
                file.write(chunk)
                if progress is not None:
                    progress(received, total)
            if digest.hexdigest() != corpus.sha256:
                raise ValueError(f"{corpus.url} sent {received} bytes whose sha256 is {digest.hexdigest()}, "
                                 f"expected {corpus.sha256}: not saved")
        atomic_write(path, write)


def sha256_of(path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(err: OSError) -> str:
    """Why a download failed, in a few words: "Connection refused", "Name or service not known", "Not Found"."""
    reason = getattr(err, "reason", None) or err
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return " ".join(str(reason).split())
