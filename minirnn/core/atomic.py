"""Files written whole or not at all: a temporary beside the target, renamed over it.

A reader, or a process killed at any instant (``kill -9`` included), sees either
the old file or the new one, never a part of one. What is left of a killed
write is a temporary named ``.<target name>.<random>.tmp`` beside the target;
:func:`remove_temporaries` deletes those of a directory whose writer holds its
lock (see minirnn/tools/train/rundir.py), since no one else can be writing them then. Checkpoints,
the run directory's files, and every file a command writes (pages, plots, figures) go through here.

A rename replaces whatever has the target's name, so the target is looked at first:
a symbolic link is written through (the file it points at is replaced, beside
itself, and the link stays); anything but a regular file (a directory, a device,
a FIFO, a socket) is refused, since a rename would put a plain file in its place;
and a replaced file keeps its permission bits.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Callable

TEMPORARY_SUFFIX = ".tmp"
KINDS = {stat.S_IFDIR: "directory", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
         stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}


def atomic_write(path, write: Callable[[IO[bytes]], None]) -> None:
    """Create or replace the file at ``path`` with what ``write(file)`` writes into an open binary file.

    A symbolic link is followed to the file it names, which is created or replaced
    (the link stays); anything else that is not a regular file is refused with a
    ValueError naming ``path``. A new file gets the mode open() would give it, a
    replaced one keeps its own. The bytes reach the disk (fsync) before the rename
    makes them visible, and the directory entry after it, so a crash of the machine
    keeps them too. The temporary is removed on any failure, Ctrl-C included; once
    renamed it is the target, and nothing is removed.
    """
    given = str(path)
    path = Path(os.path.realpath(path))              # the temporary goes beside the file, not beside a link
    mode = _mode_to_keep(path, given)
    handle, temporary = _temporary_beside(path, given)
    renamed = False
    try:
        os.chmod(temporary, mode)                       # mkstemp makes it private; these are ordinary files
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


def _mode_to_keep(path: Path, given: str) -> int:
    """The permission bits the file at ``path`` (given as ``given``) will have: its own if it is a
    regular file, 0666 less the umask if there is none; anything else is refused."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return 0o666 & ~_umask()
    except OSError as err:                              # a loop of links, a path through a file, ...
        raise type(err)(err.errno, err.strerror, given) from None
    if not stat.S_ISREG(status.st_mode):
        kind = KINDS.get(stat.S_IFMT(status.st_mode), "special file")
        raise ValueError(f"{given} is a {kind}, not a regular file; give the path of a file to write")
    return stat.S_IMODE(status.st_mode)


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


def _temporary_beside(path: Path, given: str) -> tuple[int, str]:
    """(descriptor, name) of a new private temporary in ``path``'s directory; an OSError names ``given``."""
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    except OSError as err:                              # say which file could not be written, not the temporary
        raise type(err)(err.errno, err.strerror, given) from None


def probe_directory(path) -> None:
    """Make and delete the temporary that atomic_write(path) would make, so that a directory where no
    file can be created (read-only, /proc, out of inodes) is found before the work whose result would
    go there. Raises OSError naming ``path``, as atomic_write would."""
    handle, temporary = _temporary_beside(Path(os.path.realpath(path)), str(path))
    os.close(handle)
    _remove(temporary)


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
