"""What every minirnn model shares: parameters and gradients side by side, and moving them around.

A model keeps ``params`` and ``grads``, two mappings with the same keys (torch's
parameter names) holding the live arrays. An optimizer changes ``params`` in
place; ``backward`` adds into ``grads``; ``zero_grad`` clears them. Models built
from other models (children) show the children's arrays under a dotted prefix,
``rnn.weight_ih_l0``, as torch's state_dict does. As in torch, each parameter is
also an attribute (``lstm.weight_ih_l0``, ``model.rnn.weight_hh_l0``), and
``named_parameters()`` lists them in torch's order.

Threads: the cache a forward keeps for its backward belongs to the thread that ran
the forward, so each thread's backward answers its own thread's forward; the
backwards of several threads add into the one ``grads``, under the model's lock.
"""
from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Mapping
from contextlib import contextmanager
from typing import NamedTuple

import numpy

from . import backend, validate
from .grad_mode import is_grad_enabled

DTYPES = ("float32", "float64")
_SHAPES_ONLY = contextvars.ContextVar("minirnn_shapes_only", default=False)


class ParamShape(NamedTuple):
    """A parameter's shape and dtype, without its values: what a model built in :func:`shapes_only` holds."""
    shape: tuple
    dtype: numpy.dtype


@contextmanager
def shapes_only():
    """``with shapes_only():`` models built inside hold no values: each parameter (and its gradient)
    is a :class:`ParamShape`, which costs nothing at any size. The constructors validate their arguments
    as always, so what a config implies (its parameters' names and shapes) is known before a model
    that large is built; minirnn.checkpoint reads it so. Such a model is for its shapes alone: it
    cannot run."""
    token = _SHAPES_ONLY.set(True)
    try:
        yield
    finally:
        _SHAPES_ONLY.reset(token)

# A NumPy array carries no gradient (torch's Parameter.grad does), so each module records here the
# parameter arrays it holds: an optimizer given bare arrays (a dict, named_parameters()) finds each
# one's module, and through it the gradient kept beside it. Keyed by id(array), which a later
# array may reuse once this one is gone: an entry counts only while its module holds that array.
_OWNERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()    # id(parameter) -> Module


def parameter_owner(array) -> tuple | None:
    """(module, name) for an array that a Module holds as its parameter ``name``; None for any other."""
    module = _OWNERS.get(id(array))
    if module is not None:
        for name, value in module._params.items():
            if value is array:
                return module, name
    return None


class LiveArrays(Mapping):
    """Name -> live array (``params``, ``grads``): read and write the arrays in place, but the
    mapping itself refuses a new entry, which would change this copy of it and not the model."""

    def __init__(self, arrays: dict, what: str, advice: str):
        self._arrays, self._what, self._advice = arrays, what, advice

    def __getitem__(self, name):
        return self._arrays[name]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __setitem__(self, name, value):
        if name in self._arrays and value is self._arrays[name]:
            return          # grads[name] += g: the array was changed in place, and Python stores it back
        raise TypeError(f"{self._what}[{name!r}] = ... would change a copy of the mapping and not the model: "
                        f"{self._advice.format(name=name)}")

    def __delitem__(self, name):
        raise TypeError(f"{self._what} cannot lose an entry: the model's parameters are fixed by its constructor")

    def __repr__(self) -> str:
        return repr(self._arrays)


def float_dtype(value) -> numpy.dtype:
    """float32 or float64 from a name or a NumPy dtype; anything else is refused by name.

    None is refused too: NumPy reads it as float64, which nobody who wrote it meant.
    """
    try:
        name = None if value is None else numpy.dtype(value).name
    except TypeError:
        name = value
    return numpy.dtype(validate.choice("dtype", name, DTYPES))


def _in_bytes(size: float) -> str:
    """A number of bytes as people read it: '3.6 TiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024:
            break
        size /= 1024
    return f"{size:.1f} {unit}" if unit != "B" else f"{size:.0f} B"


class Module:
    """Base class: parameter bookkeeping, state dicts, dtype and backend moves, train/eval.

    Subclasses register parameters with :meth:`add_param` (and children with
    :meth:`add_child`, or by assigning a Module to an attribute), store their
    forward cache with :meth:`save_cache`, read it in backward with :meth:`last_cache`
    and let it go with :meth:`release_cache` once backward's arguments are accepted,
    and add their parameter gradients with :meth:`add_grads`.
    A model of several modules is one Module with them as children; an optimizer
    also takes a list of modules (``Adam([emb, lstm, head])``).
    """

    def __init__(self, dtype="float32", seed: int | None = None):
        self.dtype = float_dtype("float32" if dtype is None else dtype)   # None: the default, as torch's dtype=None
        self.backend = backend.default_backend()
        self.xp = backend.namespace(self.backend)
        seed = None if seed is None else validate.non_negative_int("seed", seed)
        self.rng = backend.rng(seed)   # parameter init, then dropout masks
        self.training = True
        self._params: dict = {}
        self._grads: dict = {}
        self._children: dict[str, Module] = {}
        self._left_out: dict[str, str] = {}    # parameter name -> why this module has none (torch's None parameters)
        self._local_state()

    # -- parameters ---------------------------------------------------------------
    def add_param(self, name: str, value) -> None:
        """Register a parameter (already on this model's backend and dtype) and a zero gradient for it."""
        self._params[name] = value
        self._grads[name] = value if _SHAPES_ONLY.get() else \
            self._allocated(value.shape, lambda: self.xp.zeros_like(value))
        _OWNERS[id(value)] = self

    def _local_state(self) -> None:
        """What belongs to this process and its threads, never copied: each thread's forward cache, the lock."""
        self._caches = threading.local()       # .cache: the calling thread's last forward cache (or None)
        self._grads_lock = threading.Lock()

    def add_grads(self, grads) -> None:
        """Add (name, gradient) pairs into :attr:`grads` (a None gradient adds nothing).

        Under the model's lock: two threads' ``+=`` into one array could each read it
        before the other wrote it back, and one of the two gradients would be lost.
        """
        store = self.grads if self._children else self._grads
        with self._grads_lock:
            for name, grad in grads:
                if grad is not None:
                    store[name] += grad

    def leave_out_param(self, name: str, because: str) -> None:
        """Record a parameter this module was built without (``bias_ih_l0`` when ``because`` is
        "bias=False"): reading it, or assigning it, which nothing would read, says so."""
        self._left_out[name] = because

    def add_child(self, name: str, child: "Module") -> "Module":
        """Register ``child`` under ``name`` (assigning a Module to an attribute does the same)."""
        self._children[name] = child
        return child

    def _record_params(self) -> None:
        """Record this module's parameter arrays as its own, after they were made anew (astype, to, a copy)."""
        for value in self._params.values():
            _OWNERS[id(value)] = self

    @property
    def params(self) -> Mapping:
        """Name -> live parameter array, the children's under 'child.' prefixes.

        Change a parameter in place (``params[name][...] = value``, ``param -= lr * grad``), by
        attribute (``lstm.weight_hh_l0 = value``) or with :meth:`load_state_dict`; the mapping
        refuses ``params[name] = value``, which would not reach the model.
        """
        merged = dict(self._params)
        for prefix, child in self._children.items():
            merged.update({f"{prefix}.{k}": v for k, v in child.params.items()})
        return LiveArrays(merged, "params", "write into the array, params[{name!r}][...] = value, or assign the "
                                            "parameter's attribute, or use load_state_dict")

    @property
    def grads(self) -> Mapping:
        """Name -> gradient array, with the same keys as :attr:`params` (read-only as a mapping, as params is)."""
        merged = dict(self._grads)
        for prefix, child in self._children.items():
            merged.update({f"{prefix}.{k}": v for k, v in child.grads.items()})
        return LiveArrays(merged, "grads", "write into the array, grads[{name!r}][...] = value "
                                           "(backward adds into it, zero_grad() clears it)")

    def named_parameters(self):
        """(name, live array) for every parameter, the children's under dotted prefixes, in torch's order:
        the module's own in the order they were made (for RNN, LSTM and GRU: per layer, per direction,
        weight_ih, weight_hh, bias_ih, bias_hh), then each child's in turn."""
        yield from self.params.items()

    def parameters(self):
        """The live parameter arrays, in :meth:`named_parameters`'s order."""
        for _, value in self.named_parameters():
            yield value

    # -- parameters and children as attributes, as in torch -----------------------------
    def __getattr__(self, name: str):
        """``lstm.weight_ih_l0``: the live parameter array; ``model.rnn``: the child (only called when
        ordinary lookup finds nothing)."""
        for store in (self.__dict__.get("_params", {}), self.__dict__.get("_children", {})):
            if name in store:
                return store[name]
        left_out = self.__dict__.get("_left_out", {})
        why = f": it was built with {left_out[name]}" if name in left_out else ""
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}{why}")

    def __setattr__(self, name: str, value) -> None:
        """``lstm.weight_hh_l0 = array`` copies the array into the live parameter, once its shape,
        dtype and backend are the parameter's, so that an optimizer holding the parameter sees it;
        a Module assigned to an attribute becomes a child, as in torch."""
        if name in self.__dict__.get("_params", {}):
            self._assign_param(name, value)
            return
        if name in self.__dict__.get("_left_out", {}):
            raise AttributeError(f"{type(self).__name__} has no parameter {name!r} to assign: it was built with "
                                 f"{self._left_out[name]}")
        if isinstance(value, Module):
            if "_children" not in self.__dict__:
                raise AttributeError(f"cannot assign the module {name!r} before Module.__init__() has run: "
                                     "call super().__init__() first")
            self._children[name] = value
        object.__setattr__(self, name, value)

    def _assign_param(self, name: str, value) -> None:
        live, what = self._params[name], f"{type(self).__name__}.{name}"
        validate.refuse_torch(what, value)
        validate.check_backend(what, value, self.backend)
        if getattr(value, "shape", None) != live.shape or getattr(value, "dtype", None) != live.dtype:
            wrong_type = getattr(value, "dtype", None) != live.dtype
            raise (TypeError if wrong_type else ValueError)(
                f"{what} must be a {tuple(live.shape)} {live.dtype} array (it is copied into the live "
                f"parameter), got {validate.describe(value)}")
        live[...] = value

    def zero_grad(self) -> None:
        """Set every gradient to zero (backward adds into them)."""
        for grad in self.grads.values():
            grad.fill(0)

    def child_seed(self) -> int:
        """A seed for a part of this model, drawn from the model's generator: the parts' weights (and
        their dropout masks) then follow from the model's one seed."""
        return int(self.rng.integers(2**63))

    def init_uniform(self, bound: float, shape):
        """Uniform(-bound, bound) values on this model's backend and dtype (torch's RNN and Linear init)."""
        if _SHAPES_ONLY.get():
            return ParamShape(tuple(shape), self.dtype)
        return self._allocated(shape, lambda: backend.uniform(self.rng, -bound, bound, shape, self.dtype,
                                                              self.backend))

    def init_normal(self, shape):
        """N(0, 1) values on this model's backend and dtype (torch's Embedding init)."""
        if _SHAPES_ONLY.get():
            return ParamShape(tuple(shape), self.dtype)
        return self._allocated(shape, lambda: backend.normal(self.rng, shape, self.dtype, self.backend))

    def _allocated(self, shape, make):
        """``make()``, a new array of ``shape``; sizes beyond this machine's memory are a MemoryError naming the
        model's sizes (NumPy says "array is too big", a ValueError, beyond the address space)."""
        try:
            return make()
        except (MemoryError, ValueError):
            try:
                model = repr(self)                      # the constructor call, with its sizes
            except AttributeError:                      # a config() that reads what __init__ has not set yet
                model = type(self).__name__
            size = float(numpy.prod(shape, dtype=numpy.float64)) * self.dtype.itemsize
            raise MemoryError(f"{model}: a parameter of shape {tuple(shape)} {self.dtype.name} takes "
                              f"{_in_bytes(size)}, more than this machine's memory") from None

    def dropout_mask(self, shape, p: float):
        """Inverted dropout: 1 / (1 - p) with probability 1 - p, else 0; None outside training or at p = 0.

        Scaling the kept units by 1 / (1 - p) keeps every unit's expected value, so
        evaluation needs no mask and no rescaling. Drawn from this model's ``rng``.
        """
        if not self.training or p == 0.0:
            return None
        keep = backend.uniform(self.rng, 0.0, 1.0, shape, self.dtype, self.backend) >= p
        return keep.astype(self.dtype) * self.dtype.type(1.0 / (1.0 - p))

    # -- state dicts ----------------------------------------------------------------
    def state_dict(self) -> dict:
        """Host NumPy copies of every parameter, keyed by torch's names."""
        return {name: backend.to_host(value) for name, value in self.params.items()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays (NumPy, CuPy, or anything NumPy can convert) into the live parameters.

        All or nothing: every entry is checked first (names match exactly, shapes
        agree, values are finite real numbers, also after conversion to the
        model's dtype), and only then is any parameter written, so a refused state
        leaves the model as it was. The parameter arrays keep their identity, so an
        optimizer holding them sees the new values. torch tensors are refused by
        name: pass ``{name: value.numpy() for name, value in state.items()}``.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict of arrays, got {type(state).__name__}")
        params = self.params
        missing = sorted(set(params) - set(state), key=str)
        unexpected = sorted(set(state) - set(params), key=str)
        if missing or unexpected:
            raise ValueError(f"state_dict keys do not match the model: missing {missing}, unexpected {unexpected}")
        checked = {name: self._checked_value(name, value, params[name].shape) for name, value in state.items()}
        for name, value in checked.items():
            params[name][...] = self.xp.asarray(value)

    def _checked_value(self, name: str, value, shape) -> numpy.ndarray:
        """``state[name]`` as a host array of the model's dtype, or a ValueError saying what is wrong with it."""
        validate.refuse_torch(f"state_dict[{name!r}]", value, "{{name: value{numpy} for name, value in state.items()}}")
        try:
            value = backend.host_array(value)
        except (TypeError, ValueError) as err:        # ragged nested lists and the like
            raise ValueError(f"state_dict[{name!r}] must be an array of shape {tuple(shape)}, got "
                             f"{type(value).__name__} ({err})") from None
        if value.dtype.kind not in "fiu":              # object arrays (of None ...), bools, complex, strings
            raise ValueError(f"state_dict[{name!r}] must hold real numbers, got {validate.describe(value)}")
        if value.shape != tuple(shape):
            raise ValueError(f"state_dict[{name!r}] must have shape {tuple(shape)}, got {validate.describe(value)}")
        with numpy.errstate(over="ignore"):            # a float64 beyond float32's range becomes inf: refused below
            value = value.astype(self.dtype)
        if not numpy.isfinite(value).all():
            raise ValueError(f"state_dict[{name!r}] must hold finite {self.dtype.name} numbers, got NaN or Inf")
        return value

    # -- moves ----------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """(prefix, module) for this model ("") and every child below it ("rnn", ...)."""
        yield prefix, self
        for name, child in self._children.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def _modules(self):
        return (module for _, module in self.named_modules())

    def rng_state(self) -> dict:
        """The state of every random generator in the model (JSON-friendly), keyed by module prefix.

        Restoring it with :meth:`set_rng_state` makes the next forwards draw the
        same dropout masks: a resumed run, or a gradient check, depends on that.
        """
        return {prefix: module.rng.bit_generator.state for prefix, module in self.named_modules()}

    def set_rng_state(self, state: dict) -> None:
        """Restore what :meth:`rng_state` returned. A module the state does not name keeps its
        generator, so that a run saved before a model had some part (CharRNN's embedding and head,
        which draw nothing after their initial weights) still resumes."""
        for prefix, module in self.named_modules():
            if prefix in state:
                module.rng.bit_generator.state = state[prefix]

    def astype(self, dtype) -> "Module":
        """Convert parameters and gradients to float32 or float64 (in place on the model; returns it)."""
        dtype = float_dtype(dtype)
        for module in self._modules():
            module.dtype = dtype
            for store in (module._params, module._grads):
                for name in store:
                    store[name] = store[name].astype(dtype)
            module._record_params()
            module._caches = threading.local()        # a cache of the old dtype would not fit the new parameters
        return self

    def to(self, name: str) -> "Module":
        """Move parameters and gradients to backend "numpy" or "cupy" (returns the model)."""
        xp = backend.namespace(validate.choice("backend", name, backend.BACKENDS))
        for module in self._modules():
            module.backend, module.xp = name, xp
            for store in (module._params, module._grads):
                for key in store:
                    store[key] = backend.to_backend(store[key], name)
            module._record_params()
            module._caches = threading.local()        # nor one of the old backend
        return self

    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active) or, with mode=False, evaluation mode."""
        for module in self._modules():
            module.training = bool(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @contextmanager
    def evaluating(self):
        """``with model.evaluating():`` evaluation mode inside the block, the model's mode restored after it."""
        was_training = self.training
        self.eval()
        try:
            yield self
        finally:
            self.train(was_training)

    # -- the forward cache ------------------------------------------------------------
    def save_cache(self, cache) -> None:
        """Keep what backward needs, for the calling thread. Inside ``no_grad()`` nothing is kept, and
        the cache of an earlier forward stays for its backward (an evaluation in between changes nothing)."""
        if is_grad_enabled():
            self._caches.cache = cache

    def last_cache(self):
        """The calling thread's last forward's cache, left in place while backward checks its arguments."""
        cache = getattr(self._caches, "cache", None)
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs a forward first: call forward (outside no_grad()) "
                "before each backward, in the same thread; a forward's cache is used by one backward only")
        return cache

    def release_cache(self) -> None:
        """Called by backward once its arguments are accepted, before it adds any gradient: a forward
        serves one backward, and a refused argument leaves the cache for a corrected call."""
        self._caches.cache = None

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        """The constructor call when the class has :meth:`config`; else its parameters and children, as torch's."""
        if type(self).config is not Module.config:
            args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
            return f"{type(self).__name__}({args})"
        lines = [f"  {name}: {tuple(value.shape)} {value.dtype}" for name, value in self._params.items()]
        lines += [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._children.items()]
        return f"{type(self).__name__}(" + "".join(f"\n{line}" for line in lines) + ("\n)" if lines else ")")

    def config(self) -> dict:
        """The constructor arguments that rebuild this model (JSON-friendly); a checkpoint stores them."""
        raise NotImplementedError(f"{type(self).__name__} has no config(): define it to save the model in a "
                                  "checkpoint (the constructor arguments that rebuild it)")

    # -- copies ---------------------------------------------------------------------
    def __getstate__(self) -> dict:
        """What pickle and copy.deepcopy keep: everything but the array module, which the backend's name
        restores, and the threads' caches and the lock, which a copy makes afresh."""
        state = dict(self.__dict__)
        for name in ("xp", "_caches", "_grads_lock"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.xp = backend.namespace(self.backend)
        self._record_params()
        self._local_state()
