"""Checkpoints: one ``.npz`` file of plain arrays, with its JSON metadata stored as one of them.

Layout of the archive (``numpy.savez``, uncompressed, so every member carries a
CRC-32 that is checked on reading):

    __minirnn__        (n,) uint8   UTF-8 JSON: format name and version, the model's
                                    class and config, the optimizer's class,
                                    hyperparameters and step count, and the
                                    caller's ``meta`` (vocabulary, step, RNG states ...)
    param/<name>       the model's parameters under torch's names
    optim/<name>/<slot> the optimizer's per-parameter state
    array/<name>       any further arrays the caller passes (a carried RNN state)

Nothing is ever pickled: :func:`load` reads with ``allow_pickle=False`` and refuses
a damaged, truncated, foreign or pickled file with a ValueError naming it.
:func:`save` writes a temporary file beside the target and renames it over the
target, so a crash leaves either the old checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy

from ..models import CharLoopModel, CharRNN

FORMAT = "minirnn-checkpoint"
VERSION = 1
METADATA_KEY = "__minirnn__"
MODEL_CLASSES = {"CharRNN": CharRNN, "CharLoopModel": CharLoopModel}


@dataclass
class Checkpoint:
    """What :func:`load` returns: host arrays and the decoded metadata."""

    path: str
    model_class: str
    model_config: dict
    params: dict                      # name -> numpy array
    optimizer: dict | None            # {"class", "hyper", "step_count"} or None
    optimizer_arrays: dict            # "param/slot" -> numpy array
    arrays: dict                      # the caller's extra arrays
    meta: dict = field(default_factory=dict)

    def build_model(self, seed: int | None = None):
        """A new model of the stored class and config, holding the stored parameters."""
        try:
            model = MODEL_CLASSES[self.model_class](**self.model_config, seed=seed)
            model.load_state_dict(self.params)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{self.path} holds a {self.model_class} that cannot be rebuilt: {err}") from err
        return model


def save(path, model, optimizer=None, meta: dict | None = None, arrays: dict | None = None) -> None:
    """Write ``model`` (and ``optimizer``'s state, ``meta``, ``arrays``) to ``path`` atomically.

    meta: a JSON-able dict; arrays: name -> array (host or device), stored as given.
    """
    path = Path(path)
    if type(model).__name__ not in MODEL_CLASSES:
        raise TypeError(f"model must be one of {tuple(MODEL_CLASSES)}, got {type(model).__name__}")
    metadata = {"format": FORMAT, "version": VERSION,
                "model": {"class": type(model).__name__, "config": model.config()},
                "optimizer": None, "meta": meta or {}}
    contents = {f"param/{name}": value for name, value in model.state_dict().items()}
    if optimizer is not None:
        optimizer_arrays, metadata["optimizer"] = optimizer.state_dict()
        contents.update({f"optim/{key}": value for key, value in optimizer_arrays.items()})
    for name, value in (arrays or {}).items():
        contents[f"array/{name}"] = value if isinstance(value, numpy.ndarray) else value.get()
    text = json.dumps(metadata, allow_nan=False)      # strict JSON: a NaN in meta is a bug to report here
    contents[METADATA_KEY] = numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8)

    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        os.chmod(temporary, 0o666 & ~_umask())          # mkstemp makes it private; a checkpoint is an ordinary file
        with os.fdopen(handle, "wb") as file:
            numpy.savez(file, **contents)
            file.flush()
            os.fsync(file.fileno())                    # on disk before the rename makes it visible
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save`; never unpickles.

    Raises OSError for a missing or unreadable file, and ValueError naming the file
    for one that is damaged, truncated, pickled, or not a minirnn checkpoint.
    """
    name = str(path)

    def refuse(reason: str) -> ValueError:
        return ValueError(f"{name} is not a usable minirnn checkpoint: {reason}")

    try:
        archive = numpy.load(path, allow_pickle=False)   # a missing or unreadable file: its OSError goes up
    except ValueError as err:   # numpy's answer to anything neither .npz nor .npy: it would unpickle it
        raise refuse(_not_an_archive(path, err)) from None
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise refuse(f"damaged or truncated ({err})") from None
    if not isinstance(archive, numpy.lib.npyio.NpzFile):
        raise refuse("it is a single .npy array, not an .npz archive")
    try:
        with archive:
            contents = {key: archive[key] for key in archive.files}
    except ValueError as err:   # an object array inside: reading it would unpickle
        raise refuse("a member holds pickled objects, which minirnn never loads" if "pickle" in str(err)
                     else f"unreadable ({err})") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, KeyError, OSError) as err:
        raise refuse(f"damaged or truncated ({err})") from None

    raw = contents.pop(METADATA_KEY, None)
    if raw is None:
        raise refuse(f"it has no {METADATA_KEY!r} metadata (another program's .npz?)")
    if raw.dtype != numpy.uint8 or raw.ndim != 1:
        raise refuse(f"its metadata must be a 1-D uint8 array, got {raw.shape} {raw.dtype}")
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise refuse(f"its metadata is not valid JSON ({err})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise refuse(f"its metadata does not say format {FORMAT!r}")
    if metadata.get("version") != VERSION:
        raise refuse(f"format version {metadata.get('version')!r}; this minirnn reads version {VERSION}")
    model = metadata.get("model")
    if not isinstance(model, dict) or model.get("class") not in MODEL_CLASSES \
            or not isinstance(model.get("config"), dict):
        raise refuse(f"its model must be one of {tuple(MODEL_CLASSES)} with a config")

    groups: dict[str, dict] = {"param": {}, "optim": {}, "array": {}}
    for key, value in contents.items():
        group, _, rest = key.partition("/")
        if group not in groups or not rest:
            raise refuse(f"unexpected member {key!r}")
        groups[group][rest] = value
    return Checkpoint(path=name, model_class=model["class"], model_config=model["config"],
                      params=groups["param"], optimizer=metadata.get("optimizer"),
                      optimizer_arrays=groups["optim"], arrays=groups["array"], meta=metadata.get("meta") or {})


def _not_an_archive(path, err: ValueError) -> str:
    """Why numpy could not open a file as an archive: a pickle (which starts with the byte 0x80), or other bytes."""
    with open(path, "rb") as file:
        head = file.read(8)
    if head[:1] == b"\x80":
        return "it holds pickled data, which minirnn never loads"
    return f"it is not an .npz archive (it starts with {head!r})" if "pickle" in str(err) else f"unreadable ({err})"
