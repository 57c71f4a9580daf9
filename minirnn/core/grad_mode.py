"""``no_grad()``: run forwards that keep no backward cache (evaluation, sampling)."""
from __future__ import annotations

from contextlib import contextmanager

_enabled = True


def is_grad_enabled() -> bool:
    """Whether a forward run now stores what its backward will need."""
    return _enabled


@contextmanager
def no_grad():
    """Inside this block, forwards store no cache: less memory, and backward() is refused.

    >>> with minirnn.no_grad():
    ...     output, h_n = rnn(x)
    """
    global _enabled
    outer, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = outer
