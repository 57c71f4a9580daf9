"""The files a command writes: checked before any work starts, written so that nothing is lost.

A command never replaces a file it was not asked to replace: an output that
exists already is refused unless the user passes ``--force``, and never may it
be one of the command's own inputs, or the same file as another output. Each
file is then written whole or not at all (minirnn.core.atomic.atomic_write): a
crash leaves the old file or the new one, never half of one.
"""
from __future__ import annotations

import os
from pathlib import Path

from minirnn.core.atomic import probe_directory


def check_outputs(outputs: dict, force: bool, inputs: dict | None = None) -> None:
    """Check, before any work starts, that a command can write the files it will write.

    outputs: name -> path, the name as the user knows it (the flag, ``--out``);
    inputs: name -> path (or None) of the files the command reads. Refused with a
    ValueError naming the output: a directory that does not exist or where no file
    can be made (tried by making one), a directory, device, FIFO or socket in the
    file's place (even with ``force``), an input, another output, or an existing
    file without ``force``.
    """
    claimed = {Path(path).resolve(): name for name, path in (inputs or {}).items() if path is not None}
    for name, path in outputs.items():
        path = Path(path)
        directory = path.parent
        if not directory.is_dir():
            raise ValueError(f"{name}: {path} cannot be written, there is no directory {str(directory)!r}")
        if path.is_dir():
            raise ValueError(f"{name}: {path} is a directory; give the name of a file")
        if path.exists() and not path.is_file():       # not even with --force: a rename would replace a device
            raise ValueError(f"{name}: {path} is not a regular file (a device, a FIFO or a socket); give the "
                             "name of a file")
        if path.resolve() in claimed:
            raise ValueError(f"{name} and {claimed[path.resolve()]} name the same file, {path}")
        if os.path.lexists(path) and not force:
            raise ValueError(f"{name}: {path} already exists; pass --force to replace it")
        if not os.access(directory, os.W_OK):
            raise ValueError(f"{name}: {path} cannot be written, the directory {str(directory)!r} is read-only")
        try:
            probe_directory(path)                      # what the permission bits do not tell (/proc, say)
        except OSError as err:
            raise ValueError(f"{name}: {path} cannot be written: {err.strerror}") from None
        claimed[path.resolve()] = name
