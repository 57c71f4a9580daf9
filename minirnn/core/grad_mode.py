"""``no_grad()``: run forwards that keep no backward cache (evaluation, sampling).

The switch is a context variable, so it belongs to the thread (or asyncio task)
that sets it: one thread evaluating under ``no_grad()`` leaves another thread's
forward and backward as they were, as torch's grad mode does.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager

_enabled = contextvars.ContextVar("minirnn_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """Whether a forward run now, in this thread, stores what its backward will need."""
    return _enabled.get()


@contextmanager
def no_grad():
    """Inside this block, forwards of this thread store no cache: less memory, and backward() is refused.

    >>> with minirnn.no_grad():
    ...     output, h_n = rnn(x)
    """
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)
