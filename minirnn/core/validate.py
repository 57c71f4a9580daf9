"""Validation of the public entry points' arguments.

Every public function validates its arguments once, here, and says what it expected
and what it got (``x must be (T, B, 10) float array, got (5, 3, 9) int64``);
the math behind it then trusts its inputs.
"""
from __future__ import annotations

import math
import numbers

import numpy

from . import backend


def describe(value) -> str:
    """How an argument looks, for an error message: '(5, 3, 9) float32' or its type."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{tuple(value.shape)} {value.dtype}"
    return type(value).__name__


def _pattern(shape, actual=None) -> str:
    """('T', 'B', 10) -> '(T, B, 10)', a single size as '(4,)', any leading sizes as '(..., 10)';
    a list of shapes, the alternatives: the one with as many sizes as ``actual`` (the shape that
    came) when there is one, else all of them, '(T, B, 10) or (T, 10)'."""
    if isinstance(shape, list):
        same_rank = [one for one in shape if actual is not None and len(one) == len(actual)]
        return _pattern(same_rank[0]) if len(same_rank) == 1 else " or ".join(_pattern(one) for one in shape)
    sizes = ["..." if d is Ellipsis else str(d) for d in shape]
    return "(" + ", ".join(sizes) + ("," if len(shape) == 1 and shape[0] is not Ellipsis else "") + ")"


def _matches(actual, expected) -> bool:
    if isinstance(expected, list):                 # alternatives: any one of them
        return any(_matches(actual, one) for one in expected)
    if expected[:1] == (Ellipsis,):                # (..., 10): any number of leading sizes, then 10
        expected = expected[1:]
        if len(actual) < len(expected):
            return False
        actual = actual[len(actual) - len(expected):]
    return len(actual) == len(expected) and all(
        isinstance(e, str) or e == a for a, e in zip(actual, expected))


def is_torch_tensor(value) -> bool:
    """Whether ``value`` is a torch.Tensor (an nn.Parameter too), told from its class, without importing torch."""
    return any(cls.__name__ == "Tensor" and cls.__module__.split(".")[0] == "torch" for cls in type(value).__mro__)


def refuse_torch(name: str, value, fix: str | None = None) -> None:
    """Refuse a torch tensor in one sentence that says how to pass it: ``name.numpy()``, with
    ``.detach()`` when it requires grad and ``.cpu()`` when it is on a GPU. ``fix``: the
    expression to suggest instead, with ``{numpy}`` where that chain goes."""
    if not is_torch_tensor(value):
        return
    chain = (".detach()" if value.requires_grad else "") + (".cpu()" if value.device.type != "cpu" else "")
    chain += ".numpy()"
    what = "a torch tensor that requires grad" if value.requires_grad else "a torch tensor"
    suggestion = fix.format(numpy=chain) if fix else name + chain
    raise TypeError(f"{name} is {what}, and minirnn computes on NumPy arrays: pass {suggestion}")


def check_backend(name: str, value, backend_name: str) -> None:
    """Refuse an array from the other backend with a message that says how to fix it."""
    got = backend.backend_name(value)
    if got in backend.BACKENDS and got != backend_name:
        raise TypeError(
            f"{name} is a {got} array but the model's parameters are on {backend_name}; "
            f"move the model with .to({got!r}) or the array to {backend_name}")


def float_array(name: str, value, shape, xp, dtype):
    """Validate a float input of the given shape and ``dtype`` (the model's) on ``xp``; return it.

    shape: a tuple whose entries are ints (must match) or names such as 'T' (any
    size), optionally led by ``...`` (any number of leading sizes); or a list of
    such tuples, any one of which may match (an error names the one of the
    value's rank). Floats of another precision are refused, as torch refuses
    them, rather than copied in silence on every call; so are integers, bools,
    non-arrays and torch tensors.
    """
    refuse_torch(name, value)
    check_backend(name, value, xp.__name__)
    if not hasattr(value, "dtype") or value.dtype.kind != "f" or not _matches(value.shape, shape):
        raise (ValueError if hasattr(value, "dtype") and value.dtype.kind == "f" else TypeError)(
            f"{name} must be {_pattern(shape, getattr(value, 'shape', None))} float array, got {describe(value)}")
    if value.dtype != dtype:
        dtype = numpy.dtype(dtype).name
        other = f", or build the model with dtype='{value.dtype}'" if value.dtype.name in ("float32", "float64") else ""
        raise TypeError(f"{name} must be {dtype} like the model, got {describe(value)}: convert it with "
                        f".astype('{dtype}'){other}")
    return value


def id_array(name: str, value, shape, vocab_size: int | None, xp, ignore_index: int | None = None):
    """Validate an integer array of ids in [0, vocab_size) (``ignore_index`` also allowed).

    vocab_size None checks the shape and type only, for a caller whose embedding checks the range.
    """
    refuse_torch(name, value)
    check_backend(name, value, xp.__name__)
    if not hasattr(value, "dtype") or value.dtype.kind not in "iu" or not _matches(value.shape, shape):
        raise (ValueError if hasattr(value, "dtype") and value.dtype.kind in "iu" else TypeError)(
            f"{name} must be {_pattern(shape)} integer array, got {describe(value)}")
    if value.size and vocab_size is not None:
        # Ignored entries count as id 0, always valid; both bounds come to the host in one copy,
        # since on a GPU each copy waits for the work queued before it.
        counted = value if ignore_index is None else xp.where(value == ignore_index, 0, value)
        low, high = (int(bound) for bound in backend.to_host(xp.stack([counted.min(), counted.max()])))
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"{name} must hold ids in [0, {vocab_size}), got {bad}")
    return value


def positive_int(name: str, value) -> int:
    """An int >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    """An int >= 0 (bools refused): a count that may be zero, or a seed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def finite_number(name: str, value, positive: bool = False) -> float:
    """A finite real number >= 0 (> 0 with positive=True); bools refused."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) \
        and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def probability(name: str, value) -> float:
    """A float in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def boolean(name: str, value) -> bool:
    """True or False (NumPy's bools too); 0, 1, "yes" and other stand-ins refused."""
    if not isinstance(value, (bool, numpy.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value, options) -> str:
    """One of a fixed set of strings."""
    if value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def state_arrays(names: tuple, value, shape, xp, dtype) -> tuple:
    """Validate a recurrent state given by the user: one array per name, or None for zeros.

    names: ("h0",) for RNN and GRU, whose state is one array; ("h0", "c0") for the
    LSTM, whose state is a pair (either element may be None). Returns one checked
    array (or None) per name.
    """
    if len(names) == 1:
        values = (value,)
    elif value is None:
        values = (None,) * len(names)
    elif isinstance(value, (tuple, list)) and len(value) == len(names):
        values = tuple(value)
    else:
        refuse_torch(f"({', '.join(names)})", value, "(" + ", ".join(n + "{numpy}" for n in names) + ")")
        raise TypeError(f"({', '.join(names)}) must be a pair of arrays (either may be None) or None, "
                        f"got {describe(value)}")
    return tuple(None if v is None else float_array(name, v, shape, xp, dtype) for name, v in zip(names, values))
