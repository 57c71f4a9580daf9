"""What every minirnn model shares: parameters and gradients side by side, and moving them around.

A model keeps ``params`` and ``grads``, two dicts with the same keys (torch's
parameter names) holding the live arrays. An optimizer changes ``params`` in
place; ``backward`` adds into ``grads``; ``zero_grad`` clears them. Models built
from other models (children) show the children's arrays under a dotted prefix,
``rnn.weight_ih_l0``, as torch's state_dict does.

Threads: the cache a forward keeps for its backward belongs to the thread that ran
the forward, so each thread's backward answers its own thread's forward; the
backwards of several threads add into the one ``grads``, under the model's lock.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy

from . import backend, validate
from .grad_mode import is_grad_enabled

DTYPES = ("float32", "float64")


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
    :meth:`add_child`), store their forward cache with :meth:`save_cache`, fetch
    it once in backward with :meth:`take_cache`, and add their parameter
    gradients with :meth:`add_grads`.
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
        self._local_state()

    # -- parameters ---------------------------------------------------------------
    def add_param(self, name: str, value) -> None:
        """Register a parameter (already on this model's backend and dtype) and a zero gradient for it."""
        self._params[name] = value
        self._grads[name] = self._allocated(value.shape, lambda: self.xp.zeros_like(value))

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

    def add_child(self, name: str, child: "Module") -> "Module":
        self._children[name] = child
        return child

    @property
    def params(self) -> dict:
        """Name -> live parameter array, the children's under 'child.' prefixes."""
        merged = dict(self._params)
        for prefix, child in self._children.items():
            merged.update({f"{prefix}.{k}": v for k, v in child.params.items()})
        return merged

    @property
    def grads(self) -> dict:
        """Name -> gradient array, with the same keys as :attr:`params`."""
        merged = dict(self._grads)
        for prefix, child in self._children.items():
            merged.update({f"{prefix}.{k}": v for k, v in child.grads.items()})
        return merged

    def zero_grad(self) -> None:
        """Set every gradient to zero (backward adds into them)."""
        for grad in self.grads.values():
            grad.fill(0)

    def init_uniform(self, bound: float, shape):
        """Uniform(-bound, bound) values on this model's backend and dtype (torch's RNN and Linear init)."""
        return self._allocated(shape, lambda: backend.uniform(self.rng, -bound, bound, shape, self.dtype,
                                                              self.backend))

    def init_normal(self, shape):
        """Standard normal values on this model's backend and dtype (torch's Embedding init)."""
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
        optimizer holding them sees the new values.
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

    def take_cache(self):
        """The calling thread's last forward's cache, handed out once: a second backward is an error."""
        cache = getattr(self._caches, "cache", None)
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs a forward first: call forward (outside no_grad()) "
                "before each backward, in the same thread; a forward's cache is used by one backward only")
        self._caches.cache = None
        return cache

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
        self._local_state()
