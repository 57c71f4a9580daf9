"""Checkpoints: one ``.npz`` file of plain arrays, with its JSON metadata stored as one of them.

Layout of the archive (``numpy.savez``: stored, uncompressed members, each with
a CRC-32 that is checked on reading):

    __minirnn__         (n,) uint8  UTF-8 JSON: format name and version, the model's
                                    class and config, the optimizer's class,
                                    settings and step count, and the caller's
                                    ``meta`` (vocabulary, step, RNG states ...)
    param/<name>        the model's parameters under torch's names
    optim/<name>/<slot> the optimizer's per-parameter state
    array/<name>        any further arrays the caller passes (a carried RNN state)

:func:`save` writes a temporary file beside the target and renames it over the
target (core/atomic.py), so a crash leaves the old checkpoint or the new one, never half
of one.

:func:`load` checks the whole file before it returns anything, and refuses any
file that fails with one error, :class:`CheckpointError` ("<path> is not a usable
minirnn checkpoint: <why>"):

- the file: a regular file (not a FIFO or a device, which would block or never
  end); a zip archive whose members are stored uncompressed and unencrypted, so
  that together they cannot be larger than the file (no zip bomb), and are .npy
  arrays of plain numbers (nothing is ever unpickled);
- the metadata: strict JSON (no NaN), at most MAX_METADATA_BYTES and MAX_JSON_DEPTH
  deep; the model's class one of minirnn.models.MODELS, and its config the arguments
  of its constructor, each checked by the constructor itself;
- the arrays: exactly those the config implies, each with the shape and dtype it
  implies, compared before any model is built (the shapes come from a model built
  without values, core.module.shapes_only: a config cannot make the loader allocate
  more than the file holds), all finite; the optimizer state complete for
  its step count, its settings in range (optim.check_state); a vocabulary, when
  there is one, of exactly the model's vocab_size characters.

The caller's ``meta`` beyond the vocabulary is the caller's to check (the trainer
checks its run state, run_state.py).
"""
from __future__ import annotations

import inspect
import io
import json
import math
import os
import stat
import tokenize
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy

from . import optim
from .core import backend, validate
from .core.atomic import atomic_write
from .core.module import DTYPES, shapes_only
from .data import Vocab
from .models import MODELS

FORMAT = "minirnn-checkpoint"
VERSION = 1
METADATA_KEY = "__minirnn__"
MODEL_CLASSES = {model.__name__: model for model in MODELS.values()}   # the file names a model by its class
MAX_MEMBERS = 10_000                # arrays in one file (a CharRNN has 4 per layer, and 3 more)
MAX_METADATA_BYTES = 16 * 2**20     # room for a vocabulary of every Unicode character, escaped
MAX_JSON_DEPTH = 12                 # the metadata needs 6 levels (meta, rng_states, module, state, ...)
ALLOWED_FLAGS = 0x0808              # zip flag bits numpy may set: a data descriptor, UTF-8 names

# What the zip and .npy readers raise on bytes that are not a sound archive (an unsupported
# method or encryption, a wrong offset, an unparsable header); each becomes a CheckpointError.
DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError, ValueError, KeyError,
           IndexError, OverflowError, NotImplementedError, RuntimeError, tokenize.TokenError, SyntaxError)


class CheckpointError(ValueError):
    """A file that is not a usable minirnn checkpoint; the message names the file and says why."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path} is not a usable minirnn checkpoint: {reason}")
        self.path, self.reason = str(path), reason


@contextmanager
def refused_as(path):
    """Inside: a ValueError raised by a check of the file at ``path`` becomes its CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except ValueError as err:
        raise CheckpointError(path, str(err)) from None


@dataclass
class Checkpoint:
    """What :func:`load` returns: host arrays and the decoded metadata, all checked."""

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
        model = MODEL_CLASSES[self.model_class](**self.model_config, seed=seed)
        model.load_state_dict(self.params)
        return model

    def vocab(self) -> Vocab:
        """The stored vocabulary (CheckpointError when the file has none)."""
        if "vocab" not in self.meta:
            raise CheckpointError(self.path, "it holds no vocabulary (it was not written by minirnn train)")
        return Vocab.from_json(self.meta["vocab"])


# -- writing ----------------------------------------------------------------------------
def _check_holds_model(optimizer, model) -> None:
    """Refuse an optimizer that does not hold exactly ``model``'s parameters under its names: its
    state would belong to another model, or be keyed by names this model does not have."""
    held, params = dict(optimizer.named_parameters()), model.params
    build = f"build it as {type(optimizer).__name__}(model)"
    if list(held) != list(params):
        names = list(held)[:3] + (["..."] if len(held) > 3 else [])
        raise ValueError(f"the optimizer saved with a model must hold the model's parameters under its names "
                         f"({build}), not {', '.join(names)}")
    if any(held[name] is not params[name] for name in held):
        raise ValueError(f"the optimizer saved with a model must hold that model's parameters, not another's ({build})")


def save(path, model, optimizer=None, meta: dict | None = None, arrays: dict | None = None) -> None:
    """Write ``model`` (and ``optimizer``'s state, ``meta``, ``arrays``) to ``path`` atomically.

    meta: a JSON-able dict; arrays: name -> array (host or device) of plain numbers (bool, integer
    or float), stored as given. What :func:`load` would refuse is refused here, before the file is
    touched: an object or other non-numeric array, a NaN or Inf in any array, the model's included.
    """
    if type(model).__name__ not in MODEL_CLASSES:
        raise TypeError(f"model must be one of {tuple(MODEL_CLASSES)}, got {type(model).__name__}")
    metadata = {"format": FORMAT, "version": VERSION,
                "model": {"class": type(model).__name__, "config": model.config()},
                "optimizer": None, "meta": meta or {}}
    contents = {f"param/{name}": value for name, value in model.state_dict().items()}
    if optimizer is not None:
        _check_holds_model(optimizer, model)
        optimizer_arrays, metadata["optimizer"] = optimizer.state_dict()
        contents.update({f"optim/{key}": value for key, value in optimizer_arrays.items()})
    for name, value in (arrays or {}).items():
        contents[f"array/{name}"] = _plain_numbers(f"arrays[{name!r}]", value)
    for key, value in contents.items():
        if value.dtype.kind == "f" and not numpy.isfinite(value).all():
            raise ValueError(f"{key} holds NaN or Inf, which a checkpoint cannot hold (load would refuse it)")
    try:
        text = json.dumps(metadata, allow_nan=False)  # strict JSON: a NaN in meta is a bug to report here
    except (TypeError, ValueError) as err:            # a set, an object, a NaN
        raise type(err)(f"meta must hold JSON values (strings, finite numbers, lists, dicts): {err}") from None
    contents[METADATA_KEY] = numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8)
    atomic_write(path, lambda file: numpy.savez(file, **contents))


def _plain_numbers(what: str, value) -> numpy.ndarray:
    """A caller's array on the host, if it holds what :func:`_read_npy` reads back: bools, integers, floats."""
    if backend.backend_name(value) not in backend.BACKENDS:
        raise TypeError(f"{what} must be a NumPy or CuPy array, got {validate.describe(value)}")
    host = value if isinstance(value, numpy.ndarray) else value.get()
    if host.dtype.hasobject or host.dtype.kind not in "biuf" or host.dtype.fields is not None:
        raise ValueError(f"{what} must hold plain numbers (bool, integer or float), got {validate.describe(host)}; "
                         "a checkpoint never holds pickled objects")
    return host


# -- reading ----------------------------------------------------------------------------
def load(path) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save` (see the module docstring); never unpickles.

    Raises OSError for a missing or unreadable file, and CheckpointError (a
    ValueError) naming the file for anything else that makes it unusable.
    """
    name = str(path)
    with _open_regular_file(path) as file:
        try:
            members = _read_members(name, file)
        except CheckpointError:
            raise
        except DAMAGED as err:
            raise CheckpointError(name, _unreadable(file, err)) from None
    with refused_as(name):                             # a setting out of range, said by the check that saw it
        return _checked(name, members)


def _unreadable(file, err: Exception) -> str:
    """Why the bytes are not an archive: damage to one, a pickle, or something else altogether."""
    file.seek(0)
    head = file.read(8)
    if head.startswith(b"PK"):
        return f"damaged or truncated ({type(err).__name__}: {err})"
    if head[:1] == b"\x80":
        return "it holds pickled data, which minirnn never loads"
    return f"it is not an .npz archive (it starts with {head!r})"


def _open_regular_file(path):
    """Open ``path`` for reading, refusing what is not a regular file before reading a byte of it."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))   # a FIFO must not block the open
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise CheckpointError(path, "it is not a regular file")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _read_members(name: str, file) -> dict:
    """member name -> array, after checking that the directory bounds what the members can cost."""
    file_size = os.fstat(file.fileno()).st_size
    archive = zipfile.ZipFile(file)
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(name, f"it has {len(infos)} members; a checkpoint has at most {MAX_MEMBERS}")
    if len(set(names)) != len(names):
        raise CheckpointError(name, "a member name occurs twice")
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & ~ALLOWED_FLAGS \
                or info.compress_size != info.file_size or not info.filename.endswith(".npy"):
            raise CheckpointError(name, f"member {info.filename!r} is compressed, encrypted or not an .npy "
                                        "array; minirnn writes plain stored arrays only")
    if sum(info.file_size for info in infos) > file_size:
        raise CheckpointError(name, "its members claim more bytes than the file holds")
    return {info.filename[:-len(".npy")]: _read_npy(name, info.filename, archive.read(info)) for info in infos}


def _read_npy(name: str, member: str, raw: bytes) -> numpy.ndarray:
    """One .npy member (its CRC already checked by the zip reader) as a writable array of plain numbers."""
    stream = io.BytesIO(raw)
    version = numpy.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise CheckpointError(name, f"member {member!r} is .npy version {version}")
    read_header = numpy.lib.format.read_array_header_1_0 if version == (1, 0) \
        else numpy.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise CheckpointError(name, f"member {member!r} holds {dtype} values; minirnn stores plain numbers only "
                                    "(never pickled objects)")
    count = math.prod(shape)
    if stream.tell() + count * dtype.itemsize != len(raw):
        raise CheckpointError(name, f"member {member!r}: its header says {shape} {dtype}, which does not fill "
                                    "its bytes")
    values = numpy.frombuffer(raw, dtype=dtype, count=count, offset=stream.tell())
    return values.reshape(shape, order="F" if fortran_order else "C").copy()


def _checked(name: str, members: dict) -> Checkpoint:
    """The metadata and arrays checked against each other and the config (see the module docstring)."""
    metadata = _metadata(members.pop(METADATA_KEY, None))
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"its metadata does not say format {FORMAT!r}")
    if metadata.get("version") != VERSION:
        raise ValueError(f"format version {metadata.get('version')!r}; this minirnn reads version {VERSION}")
    expected_keys = {"format", "version", "model", "optimizer", "meta"}
    if set(metadata) != expected_keys:
        raise ValueError(f"its metadata must have the keys {sorted(expected_keys)}, got {sorted(metadata)}")
    model, meta = metadata["model"], metadata["meta"]
    if not isinstance(model, dict) or set(model) != {"class", "config"} or model["class"] not in tuple(MODEL_CLASSES):
        raise ValueError(f"its model class must be one of {tuple(MODEL_CLASSES)}, with a config")
    if not isinstance(meta, dict):
        raise ValueError(f"its meta must be a JSON object, got {type(meta).__name__}")

    groups: dict[str, dict] = {"param": {}, "optim": {}, "array": {}}
    for key, value in members.items():
        group, _, rest = key.partition("/")
        if group not in groups or not rest:
            raise ValueError(f"unexpected member {key!r}")
        groups[group][rest] = value
    params, optimizer_arrays, arrays = groups["param"], groups["optim"], groups["array"]

    config = _checked_model_config(model["class"], model["config"], len(params))
    shapes = parameter_shapes(model["class"], config)
    _check_arrays("param/", params, shapes, numpy.dtype(config["dtype"]))
    if metadata["optimizer"] is not None:
        optim.check_state(metadata["optimizer"], optimizer_arrays, shapes)
        _check_arrays("optim/", optimizer_arrays, {key: value.shape for key, value in optimizer_arrays.items()},
                      numpy.dtype(config["dtype"]))
    elif optimizer_arrays:
        raise ValueError("it has optimizer arrays but no optimizer")
    for key, value in arrays.items():
        if value.dtype.kind == "f" and not numpy.isfinite(value).all():
            raise ValueError(f"array/{key} holds NaN or Inf")
    if "vocab" in meta:
        vocab = meta["vocab"]
        sound = isinstance(vocab, dict) and isinstance(vocab.get("chars"), str) \
            and len(vocab["chars"]) == config["vocab_size"]           # checked before a dict of them is built
        try:
            sound = sound and "".join(Vocab.from_json(vocab).chars) == vocab["chars"]
        except ValueError:
            sound = False
        if not sound:
            raise ValueError(f"its vocabulary must be {{'chars': the model's vocab_size={config['vocab_size']} "
                             "distinct characters in sorted order}, with optional 'lower' (a bool) and 'unknown' "
                             "(one of those characters)")
    if "window" in meta:
        validate.positive_int("meta window", meta["window"])
    return Checkpoint(path=name, model_class=model["class"], model_config=config, params=params,
                      optimizer=metadata["optimizer"], optimizer_arrays=optimizer_arrays, arrays=arrays, meta=meta)


def _metadata(raw) -> dict:
    """The metadata member decoded as strict, bounded JSON."""
    if raw is None:
        raise ValueError(f"it has no {METADATA_KEY!r} metadata (another program's .npz?)")
    if raw.dtype != numpy.uint8 or raw.ndim != 1 or raw.size > MAX_METADATA_BYTES:
        raise ValueError(f"its metadata must be at most {MAX_METADATA_BYTES} bytes of UTF-8 (a 1-D uint8 array), "
                         f"got {raw.shape} {raw.dtype}")

    def refuse_constant(constant):
        raise ValueError(f"its metadata holds {constant}, which strict JSON does not have")

    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"), parse_constant=refuse_constant,
                              parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"its metadata is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as err:                     # UnicodeDecodeError and JSONDecodeError among them
        raise ValueError(f"its metadata is not valid JSON ({err})") from None
    if _depth(metadata) > MAX_JSON_DEPTH:
        raise ValueError(f"its metadata is nested deeper than {MAX_JSON_DEPTH} levels")
    return metadata


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):                 # 1e999 reads as Inf
        raise ValueError(f"its metadata holds {text}, which is not a finite number")
    return value


def _depth(value) -> int:
    """How deeply lists and objects nest in a decoded JSON value (iteratively: no recursion to exhaust)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _checked_model_config(model_class: str, config, n_params: int) -> dict:
    """The stored constructor arguments: exactly the constructor's, the dtype by name, and no more layers than
    arrays. Their values are the constructor's to check (:func:`parameter_shapes`)."""
    expected = set(inspect.signature(MODEL_CLASSES[model_class]).parameters) - {"seed"}
    if not isinstance(config, dict) or set(config) != expected:
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"its {model_class} config must have the keys {sorted(expected)}, got {got}")
    validate.choice("dtype", config["dtype"], DTYPES)     # a name, as save writes it (not any numpy spelling)
    for key in ("layers", "num_layers"):                   # before building a model of that many layers
        if isinstance(config.get(key), int) and config[key] > n_params:
            raise ValueError(f"its config says {config[key]} layers, but it holds {n_params} parameter arrays")
    return config


def parameter_shapes(model_class: str, config: dict) -> dict:
    """name -> shape of every parameter a model of this class and config has.

    The constructor runs, and checks every setting, but draws no values (core.module.shapes_only),
    so that a file's arrays are compared with what its config implies before a model of that size
    is built. Raises ValueError for a setting the constructor refuses.
    """
    with shapes_only():
        model = MODEL_CLASSES[model_class](**config)
    return {name: value.shape for name, value in model.params.items()}


def _check_arrays(prefix: str, arrays: dict, shapes: dict, dtype: numpy.dtype) -> None:
    """Exactly the named arrays, each of its shape and ``dtype``, all finite."""
    missing, unexpected = sorted(set(shapes) - set(arrays)), sorted(set(arrays) - set(shapes))
    if missing or unexpected:
        raise ValueError(f"its arrays do not match its config: missing {[prefix + k for k in missing[:4]]}, "
                         f"unexpected {[prefix + k for k in unexpected[:4]]}")
    for key, value in arrays.items():
        if value.shape != tuple(shapes[key]) or value.dtype != dtype:
            raise ValueError(f"{prefix}{key} is {validate.describe(value)}; its config implies "
                             f"{tuple(shapes[key])} {dtype}")
        if not numpy.isfinite(value).all():
            raise ValueError(f"{prefix}{key} holds NaN or Inf")
