"""Work buffers a module keeps from one forward to the next, one set per thread and grad mode.

Fresh arrays of several MiB cost more than their size suggests (the kernel hands them over one
zeroed page at a time), so a layer's time loop writes into buffers it keeps. Each thread has its
own, so that two threads running one model never write into one array; the buffers of threads
that have ended are dropped when a new thread comes. A forward under no_grad() gets buffers of its
own, so that evaluating between a training forward and its backward cannot overwrite what that
backward reads.
"""
from __future__ import annotations

import threading

from .grad_mode import is_grad_enabled


class Workspaces:
    """The buffers of one module: ``get(part)`` is a dict this thread's forwards of ``part`` reuse."""

    def __init__(self):
        self._by_thread: dict[int, dict] = {}

    def get(self, part) -> dict:
        """The dict of buffers for ``part`` (any hashable: a layer and direction) in this thread and grad mode."""
        thread = threading.current_thread().ident
        if thread not in self._by_thread:
            alive = {t.ident for t in threading.enumerate()}
            for ended in [ident for ident in list(self._by_thread) if ident not in alive]:
                self._by_thread.pop(ended, None)
        return self._by_thread.setdefault(thread, {}).setdefault((part, is_grad_enabled()), {})

    def clear(self) -> None:
        """Free every buffer; the next forward makes them again."""
        self._by_thread.clear()
