"""A test-only backend that fails where CuPy would, on a machine without a GPU.

minirnn's CuPy path cannot run here, so a host/device mix-up (a NumPy call on a
device array, an implicit conversion, a ``float()`` inside the time loop) would
show only on a user's GPU. This module is a third backend, plugged in with
``minirnn.core.backend.plug_in``, whose arrays hold their data in NumPy but
behave like CuPy arrays at every boundary:

- they refuse implicit conversion to NumPy (``numpy.asarray``, ``numpy.array``,
  ``__array__``), with CuPy's own message;
- they refuse to meet a NumPy array in one operation: as an operand of a ufunc
  or a function, as an index, or as the value of an assignment;
- every copy to the host is allowed, as on CuPy, but recorded: ``.get()`` (which
  ``backend.to_host`` uses), ``float()``, ``int()``, ``bool()``, ``.item()``,
  ``.tolist()``, ``repr()``, and the operations whose result's size depends on the
  data (boolean-mask indexing, ``nonzero``), for which CuPy reads a count back.

Results of operations are arrays of this backend (a reduction gives a 0-d array,
as on CuPy, never a NumPy scalar). The fused CuPy kernels need CUDA; on this
backend each gate math's array-module lines (the NumPy lines of the same math) stand in for them.

Use::

    with plugged_in(), recording() as transfers:
        ...                                 # models built or moved with .to("strict")
    assert [t.kind for t in transfers] == [...]
"""
from __future__ import annotations

import sys
import types
import warnings
import weakref
from contextlib import contextmanager
from typing import NamedTuple

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

from minirnn.core import backend

NAME = "strict"
CUPY_CONVERSION_MESSAGE = ("Implicit conversion to a NumPy array is not allowed. "
                           "Please use `.get()` to construct a NumPy array explicitly.")


class HostTransfer(NamedTuple):
    """One copy from the device to the host: what asked for it, from where."""
    kind: str          # "float()", ".get()", "boolean mask", ...
    where: str         # "minirnn/ops/losses.py:54": the first line outside this module and minirnn's
                       # backend module (whose to_host is only how minirnn spells a copy)
    codes: tuple       # the code objects of the calling stack, innermost first

    def inside(self, function) -> bool:
        """Whether this transfer happened while ``function`` (a Python function) was running."""
        return function.__code__ in self.codes


_log: list | None = None
_owners = weakref.WeakValueDictionary()   # id(NumPy data) -> the Array that owns it, for Array.base


def _record(kind: str) -> None:
    if _log is None:
        return
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in (__file__, backend.__file__):
        frame = frame.f_back
    where = "?" if frame is None else f"{_short(frame.f_code.co_filename)}:{frame.f_lineno}"
    codes = []
    while frame is not None:
        codes.append(frame.f_code)
        frame = frame.f_back
    _log.append(HostTransfer(kind, where, tuple(codes)))


def _short(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    for root in ("minirnn", "tests", "scripts"):
        if root in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(root):])
    return parts[-1]


@contextmanager
def recording():
    """Record every host transfer made inside the block into the list it yields."""
    global _log
    outer, _log = _log, []
    try:
        yield _log
    finally:
        if outer is not None:
            outer.extend(_log)
        _log = outer


class _MemoryPool:
    """cupy.get_default_memory_pool(), roughly: the bytes allocated since the last free_all_blocks().

    CuPy's pool reuses freed blocks, so its total is about the peak; this one counts every
    allocation, an upper bound of it. The benchmark only reports the number.
    """

    def __init__(self):
        self.allocated = 0

    def free_all_blocks(self) -> None:
        self.allocated = 0

    def total_bytes(self) -> int:
        return self.allocated


_pool = _MemoryPool()


# -- the arrays ---------------------------------------------------------------------------------------
def _operand(value):
    """The NumPy data behind a strict array; Python and NumPy scalars pass; a NumPy array is refused."""
    if isinstance(value, Array):
        return value._data
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(value)}: a NumPy array (shape {value.shape}) met a device "
                        "array in one operation; CuPy refuses this: move it with xp.asarray first")
    if isinstance(value, (list, tuple)):
        return type(value)(_operand(v) for v in value)
    if isinstance(value, dict):
        return {k: _operand(v) for k, v in value.items()}
    return value


def _index(index):
    """An index of a strict array: device index arrays are unwrapped, host index arrays refused."""
    parts = index if isinstance(index, tuple) else (index,)
    data = tuple(_operand(part) for part in parts)
    if any(isinstance(part, numpy.ndarray) and part.dtype == bool for part in data):
        _record("boolean mask")      # CuPy reads the number of True entries back to size the result
    return data if isinstance(index, tuple) else data[0]


def _wrap(result):
    """Results of device operations stay on the device: arrays and NumPy scalars become strict arrays."""
    if isinstance(result, numpy.ndarray):
        return Array(result)
    if isinstance(result, numpy.generic):
        return Array(numpy.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


class Array(NDArrayOperatorsMixin):
    """A 'device' array: NumPy data behind CuPy's boundaries. Operators come from the mixin (via ufuncs)."""

    __slots__ = ("_data", "__weakref__")
    __hash__ = None

    def __init__(self, data: numpy.ndarray):
        self._data = data
        if data.base is None:
            _pool.allocated += data.nbytes
            _owners[id(data)] = self

    @property
    def base(self):
        """The array whose memory this one views, as CuPy's and NumPy's ``base`` (None for an owner)."""
        return None if self._data.base is None else _owners.get(id(self._data.base))

    # -- what CuPy refuses ----------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(CUPY_CONVERSION_MESSAGE)

    # -- copies to the host: allowed, recorded ---------------------------------------------------
    def get(self) -> numpy.ndarray:
        _record(".get()")
        return self._data.copy()

    def item(self):
        _record(".item()")
        return self._data.item()

    def tolist(self):
        _record(".tolist()")
        return self._data.tolist()

    def __float__(self):
        _record("float()")
        return float(self._data)

    def __int__(self):
        _record("int()")
        return int(self._data)

    def __index__(self):
        _record("operator.index()")
        return self._data.__index__()

    def __bool__(self):
        _record("bool()")
        return bool(self._data)

    def __repr__(self):
        _record("repr()")
        return f"strict.{self._data!r}"

    def __format__(self, spec):
        _record("format()")
        return format(self._data, spec)

    __str__ = __repr__

    # -- what stays on the device -----------------------------------------------------------------
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    itemsize = property(lambda self: self._data.itemsize)
    nbytes = property(lambda self: self._data.nbytes)
    strides = property(lambda self: self._data.strides)
    flags = property(lambda self: self._data.flags)
    T = property(lambda self: Array(self._data.T))

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (Array(row) for row in self._data)

    def __getitem__(self, index):
        return _wrap(self._data[_index(index)])

    def __setitem__(self, index, value):
        self._data[_index(index)] = _operand(value)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*_operand(inputs), **_operand(kwargs))
        if out is not None:                        # the caller's own arrays, as NumPy returns them
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        own = getattr(strict, func.__name__, None) if func.__module__ == "numpy" else None
        return NotImplemented if own is None else own(*args, **kwargs)

    def __getattr__(self, name):
        if name not in _METHODS:
            raise AttributeError(f"'strict.Array' object has no attribute {name!r}")
        return types.MethodType(_method(name), self)


def _method(name: str):
    """NumPy's ndarray method ``name``, run on the data of a strict array."""
    def run(self, *args, **kwargs):
        if name in _SIZED_BY_DATA:
            _record(f".{name}()")
        result = getattr(self._data, name)(*_operand(args), **_operand(kwargs))
        return self if name == "fill" else _wrap(result)
    run.__name__ = run.__qualname__ = name
    return run


# NumPy array methods that CuPy arrays have too and minirnn may call.
_METHODS = {"reshape", "transpose", "copy", "astype", "fill", "sum", "max", "min", "mean", "ravel", "squeeze",
            "swapaxes", "any", "all", "argmax", "argmin", "cumsum", "clip", "dot", "view", "flatten", "std",
            "var", "prod", "round", "take", "repeat", "nonzero", "conj"}
_SIZED_BY_DATA = {"nonzero"}
_SIZED_BY_DATA_FUNCTIONS = {"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract"}


# -- the namespace: NumPy's functions, on strict arrays -------------------------------------------------
def _device_function(func):
    def run(*args, **kwargs):
        out = kwargs.get("out")
        result = func(*_operand(args), **_operand(kwargs))
        if func.__name__ in _SIZED_BY_DATA_FUNCTIONS:
            _record(f"{func.__name__}()")
        if out is not None:
            return out
        return None if func.__name__ == "copyto" else _wrap(result)
    run.__name__ = run.__qualname__ = func.__name__
    run.__module__ = NAME               # as CuPy's functions say "cupy"
    return run


def _upload(func):
    """asarray, array: host data is copied to the 'device' (as cupy.asarray does); device arrays pass."""
    def run(value, dtype=None, **kwargs):
        if isinstance(value, Array):
            if func is numpy.asarray and (dtype is None or numpy.dtype(dtype) == value.dtype):
                return value
            return Array(numpy.array(value._data, dtype=dtype, **kwargs))
        return Array(numpy.array(_operand(value) if isinstance(value, (list, tuple)) else value,
                                 dtype=dtype, **kwargs))
    run.__name__ = func.__name__
    return run


def add_at(target, indices, values) -> None:
    """cupy.add.at: target[indices[k]] += values[k], repeated indices summed, in place on the device."""
    numpy.add.at(target._data, _operand(indices), _operand(values))


class _Stream:
    def synchronize(self) -> None:
        """Nothing runs asynchronously here."""


def _build_namespace() -> types.ModuleType:
    xp = types.ModuleType(NAME, "A CuPy stand-in: NumPy's functions on strict arrays (tests/strict_backend.py).")
    for name in dir(numpy):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = getattr(numpy, name, None)
        if name.startswith("_") or value is None or isinstance(value, types.ModuleType):
            continue
        if callable(value) and not isinstance(value, type) and hasattr(value, "__name__"):   # functions, ufuncs
            setattr(xp, name, _device_function(value))
        else:
            setattr(xp, name, value)     # dtypes, scalar types, constants
    xp.asarray, xp.array = _upload(numpy.asarray), _upload(numpy.array)
    xp.ndarray = Array
    xp.add.at = add_at                   # the ufunc method the embedding's gradient uses
    xp.cuda = types.SimpleNamespace(get_current_stream=_Stream)
    xp.get_default_memory_pool = lambda: _pool
    return xp


strict = _build_namespace()


@contextmanager
def plugged_in():
    """The stand-in as a minirnn backend named "strict" for the duration of the block."""
    backend.plug_in(strict, Array)
    try:
        yield strict
    finally:
        backend.unplug(NAME)
