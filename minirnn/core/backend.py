"""The one place that knows which array library minirnn computes with.

minirnn runs on NumPy (the default) or on CuPy (a GPU). Everything else in the
package writes its math against an array namespace ``xp`` that it takes from
its input arrays (:func:`array_module`) or from a model's backend
(:func:`namespace`), so the same lines run on both. The few operations whose
spelling differs between the two libraries live here and nowhere else:
scatter-add (the embedding gradient), random numbers, and copies to the host.

The default backend is ``"numpy"``, or the value of the environment variable
``MINIRNN_BACKEND`` when it is set; :func:`use_backend` changes it for models
built afterwards. A model keeps the backend it was built on until ``to()``
moves it.

A third backend can be plugged in with :func:`plug_in`: the tests use it for a
CPU stand-in that refuses what CuPy refuses (tests/strict_backend.py).
"""
from __future__ import annotations

import os
from types import ModuleType

import numpy

BACKENDS = ("numpy", "cupy")   # grows with plug_in

_default = None  # resolved lazily so that importing minirnn never imports cupy
_plugged: dict[str, tuple[ModuleType, type]] = {}   # name -> (namespace, array type), see plug_in


def _load_cupy() -> ModuleType:
    """Import CuPy and make sure a GPU answers; raise a RuntimeError saying which part is missing."""
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(
            "backend 'cupy' needs CuPy, which is not installed: "
            "pip install 'minirnn[gpu-cuda12]' or 'minirnn[gpu-cuda13]' (the CUDA version of the driver)") from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # the CUDA runtime raises its own error types
        raise RuntimeError(f"backend 'cupy' needs a GPU, but CUDA found none ({err})") from err
    if count == 0:
        raise RuntimeError("backend 'cupy' needs a GPU, but CUDA found none")
    return cupy


def namespace(name: str) -> ModuleType:
    """The array module for a backend name: ``numpy`` or ``cupy``."""
    if name == "numpy":
        return numpy
    if name == "cupy":
        return _load_cupy()
    if name in _plugged:
        return _plugged[name][0]
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


def use_backend(name: str) -> None:
    """Make ``name`` ("numpy" or "cupy") the backend of models built from now on."""
    global _default
    namespace(name)  # fail now, with the reason, rather than at the first model
    _default = name


def default_backend() -> str:
    """The backend new models are built on: set by :func:`use_backend`, else ``MINIRNN_BACKEND``, else numpy."""
    global _default
    if _default is None:
        name = os.environ.get("MINIRNN_BACKEND", "numpy").strip().lower() or "numpy"
        if name not in BACKENDS:
            raise ValueError(f"MINIRNN_BACKEND must be one of {BACKENDS}, got {name!r}")
        namespace(name)
        _default = name
    return _default


def gpu_available() -> bool:
    """True when CuPy is installed and sees a GPU (the GPU tests ask this)."""
    try:
        _load_cupy()
    except RuntimeError:
        return False
    return True


def plug_in(xp: ModuleType, array_type: type) -> None:
    """Add a backend named ``xp.__name__`` whose arrays are ``array_type`` (for tests).

    It must behave as CuPy does where minirnn relies on it: ``xp`` offers the NumPy
    functions minirnn calls, ``add.at(target, indices, values)`` among them,
    and its arrays copy to the host with ``.get()``. The fused kernels are CuPy's
    alone, so on a plugged-in backend the cells run their array-module lines.
    :func:`unplug` removes it.
    """
    global BACKENDS
    _plugged[xp.__name__] = (xp, array_type)
    BACKENDS = tuple(dict.fromkeys(BACKENDS + (xp.__name__,)))


def unplug(name: str) -> None:
    """Remove a backend added by :func:`plug_in`."""
    global BACKENDS, _default
    _plugged.pop(name, None)
    BACKENDS = tuple(b for b in BACKENDS if b != name)
    if _default == name:
        _default = None


def _plugged_name(array) -> str | None:
    return next((name for name, (_, array_type) in _plugged.items() if isinstance(array, array_type)), None)


def array_module(array) -> ModuleType:
    """The array module an array belongs to (the get_array_module pattern)."""
    if isinstance(array, numpy.ndarray) or numpy.isscalar(array):
        return numpy
    if type(array).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    plugged = _plugged_name(array)
    return numpy if plugged is None else _plugged[plugged][0]


def backend_name(array) -> str:
    """"numpy" or "cupy" (or a plugged-in backend's name) for an array, or a plain type name for anything else."""
    if isinstance(array, numpy.ndarray):
        return "numpy"
    if type(array).__module__.split(".")[0] == "cupy":
        return "cupy"
    return _plugged_name(array) or type(array).__name__


def to_host(array) -> numpy.ndarray:
    """A NumPy copy of an array from any backend (a fresh array, never a view)."""
    if isinstance(array, numpy.ndarray):
        return array.copy()
    return array.get()


def host_array(value) -> numpy.ndarray:
    """``value`` as a NumPy array: a device array is copied to the host, a NumPy array or a list is used as it is."""
    if backend_name(value) in BACKENDS and not isinstance(value, numpy.ndarray):
        return to_host(value)
    return numpy.asarray(value)


def to_backend(array, name: str):
    """A copy of a host or device array on backend ``name``."""
    if name == "numpy":
        return to_host(array)
    return namespace(name).array(array)


# scatter_add sums each index's rows with one call per index when its run of rows holds at least this
# many elements on average; shorter runs are summed together by one reduceat (measured on NumPy 2.4).
LONG_RUN_ELEMENTS = 4096


def scatter_add(target, indices, values) -> None:
    """``target[indices[k]] += values[k]`` with repeated indices summed (the embedding gradient).

    Plain ``target[indices] += values`` would keep only one of the repeated rows.
    indices: (N,) ints; values: (N, ...) with target's trailing shape.
    """
    if isinstance(target, numpy.ndarray):
        # numpy.add.at does this one row at a time, 1.5-6x slower than summing the rows of
        # each index first: sort the rows by index, add up each run, then add once per index.
        if len(indices) == 0:
            return
        order = numpy.argsort(indices, kind="stable")
        sorted_indices, sorted_values = indices[order], values[order]
        bounds = numpy.flatnonzero(numpy.r_[True, sorted_indices[1:] != sorted_indices[:-1], True])
        run_starts = bounds[:-1]
        if len(run_starts) * LONG_RUN_ELEMENTS <= sorted_values.size:
            # Few, long runs (a character vocabulary's ids in a large batch): one sum over each run's
            # rows, a contiguous block, is 2-4x faster than reduceat, which walks each column down a run.
            for start, end in zip(run_starts.tolist(), bounds[1:].tolist()):
                target[sorted_indices[start]] += sorted_values[start:end].sum(axis=0)
        else:
            target[sorted_indices[run_starts]] += numpy.add.reduceat(sorted_values, run_starts, axis=0)
    else:
        array_module(target).add.at(target, indices, values)   # on CuPy, one kernel of atomic adds


def rng(seed: int | None = None) -> numpy.random.Generator:
    """A host random generator. Parameters are drawn on the host and then moved,
    so a seed gives the same model on every backend."""
    return numpy.random.default_rng(seed)


def uniform(generator: numpy.random.Generator, low: float, high: float, shape, dtype, name: str):
    """Uniform(low, high) numbers drawn on the host and placed on backend ``name``."""
    values = generator.uniform(low, high, size=shape).astype(dtype)
    return values if name == "numpy" else namespace(name).asarray(values)


def normal(generator: numpy.random.Generator, shape, dtype, name: str):
    """Standard normal numbers drawn on the host and placed on backend ``name``."""
    values = generator.standard_normal(size=shape).astype(dtype)
    return values if name == "numpy" else namespace(name).asarray(values)
