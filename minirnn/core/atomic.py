"""Files written whole or not at all: a temporary beside the target, renamed over it.

A reader, or a process killed at any instant (``kill -9`` included), sees either
the old file or the new one, never a part of one. What is left of a killed
write is a temporary named ``.<target name>.<random>.tmp`` beside the target;
:func:`remove_temporaries` deletes those of a directory whose writer holds its
lock (see minirnn/tools/train/rundir.py), since no one else can be writing them then. Checkpoints,
the run directory's files, and every file a command writes (pages, plots, figures) go through here.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable

TEMPORARY_SUFFIX = ".tmp"


def atomic_write(path, write: Callable[[IO[bytes]], None]) -> None:
    """Create or replace ``path`` with what ``write(file)`` writes into an open binary file.

    The bytes reach the disk (fsync) before the rename makes them visible, and the
    directory entry after it, so a crash of the machine keeps them too. The
    temporary is removed on any failure, Ctrl-C included; once renamed it is the
    target, and nothing is removed.
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    except OSError as err:                              # say which file could not be written, not the temporary
        raise type(err)(err.errno, err.strerror, str(path)) from None
    renamed = False
    try:
        os.chmod(temporary, 0o666 & ~_umask())          # mkstemp makes it private; these are ordinary files
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        renamed = True
        fsync_directory(path.parent)
    finally:
        if not renamed:
            _remove(temporary)


def fsync_directory(directory) -> None:
    """Make a rename or a new file in ``directory`` durable (where the system allows it)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:                                      # a system that cannot open directories
        return
    try:
        os.fsync(descriptor)
    except OSError:                                      # ... or cannot sync them
        pass
    finally:
        os.close(descriptor)


def remove_temporaries(directory, names) -> list[str]:
    """Delete what killed writes of ``names`` (file names in ``directory``) left behind; returns what went."""
    removed = []
    for name in names:
        for leftover in Path(directory).glob(f".{name}.*{TEMPORARY_SUFFIX}"):
            _remove(leftover)
            removed.append(leftover.name)
    return removed


def _remove(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
