"""What every minirnn model shares: parameters and gradients side by side, and moving them around.

A model keeps ``params`` and ``grads``, two dicts with the same keys (torch's
parameter names) holding the live arrays. An optimizer changes ``params`` in
place; ``backward`` adds into ``grads``; ``zero_grad`` clears them. Models built
from other models (children) show the children's arrays under a dotted prefix,
``rnn.weight_ih_l0``, as torch's state_dict does.
"""
from __future__ import annotations

import contextvars
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


def float_dtype(value) -> numpy.dtype:
    """float32 or float64 from a name or a NumPy dtype; anything else is refused by name."""
    try:
        name = numpy.dtype(value).name
    except TypeError:
        name = value
    return numpy.dtype(validate.choice("dtype", name, DTYPES))


class Module:
    """Base class: parameter bookkeeping, state dicts, dtype and backend moves, train/eval.

    Subclasses register parameters with :meth:`add_param` (and children with
    :meth:`add_child`), store their forward cache with :meth:`save_cache` and
    fetch it once in backward with :meth:`take_cache`.
    """

    def __init__(self, dtype="float32", seed: int | None = None):
        self.dtype = float_dtype(dtype)
        self.backend = backend.default_backend()
        self.xp = backend.namespace(self.backend)
        seed = None if seed is None else validate.non_negative_int("seed", seed)
        self.rng = backend.rng(seed)   # parameter init, then dropout masks
        self.training = True
        self._params: dict = {}
        self._grads: dict = {}
        self._children: dict[str, Module] = {}
        self._cache = None

    # -- parameters ---------------------------------------------------------------
    def add_param(self, name: str, value) -> None:
        """Register a parameter (already on this model's backend and dtype) and a zero gradient for it."""
        self._params[name] = value
        self._grads[name] = value if _SHAPES_ONLY.get() else self.xp.zeros_like(value)

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
        if _SHAPES_ONLY.get():
            return ParamShape(tuple(shape), self.dtype)
        return backend.uniform(self.rng, -bound, bound, shape, self.dtype, self.backend)

    def init_normal(self, shape):
        """N(0, 1) values on this model's backend and dtype (torch's Embedding init)."""
        if _SHAPES_ONLY.get():
            return ParamShape(tuple(shape), self.dtype)
        return backend.normal(self.rng, shape, self.dtype, self.backend)

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
            module._cache = None
        return self

    def to(self, name: str) -> "Module":
        """Move parameters and gradients to backend "numpy" or "cupy" (returns the model)."""
        xp = backend.namespace(validate.choice("backend", name, backend.BACKENDS))
        for module in self._modules():
            module.backend, module.xp = name, xp
            for store in (module._params, module._grads):
                for key in store:
                    store[key] = backend.to_backend(store[key], name)
            module._cache = None
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
        """Keep what backward needs. Inside ``no_grad()`` nothing is kept, and the cache of
        an earlier forward stays for its backward (an evaluation in between changes nothing)."""
        if is_grad_enabled():
            self._cache = cache

    def take_cache(self):
        """The last forward's cache, handed out once: a second backward is an error."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs a forward first: call forward (outside no_grad()) "
                "before each backward; a forward's cache is used by one backward only")
        cache, self._cache = self._cache, None
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
        """What pickle and copy.deepcopy keep: everything but the array module, which the backend's name restores."""
        state = dict(self.__dict__)
        state.pop("xp", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.xp = backend.namespace(self.backend)
