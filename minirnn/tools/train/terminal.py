"""What a training session shows and hears at the terminal: its progress, and Ctrl-C.

Progress goes to stderr: a tqdm bar when stderr is a terminal and tqdm is installed
(it is optional: ``pip install tqdm``); otherwise (a log file, a pipe, CI, or no tqdm)
a plain line every PLAIN_EVERY_SECONDS, since a bar's carriage returns would fill a
file; nothing with ``progress=False`` (``--no-progress``).
"""
from __future__ import annotations

import importlib.util
import signal
import sys
import threading
import time

PLAIN_EVERY_SECONDS = 30.0


def progress_display(enabled: bool, total_steps: int | None, initial_step: int, log, stream=None):
    """The display for this session: a Bar, Lines or Silent (see the module docstring)."""
    stream = stream or sys.stderr
    if not enabled:
        return Silent(log)
    if stream.isatty() and importlib.util.find_spec("tqdm") is not None:
        return Bar(log, total_steps, initial_step, stream)
    return Lines(log, total_steps)


class Silent:
    """No progress; messages (the evaluations) go to ``log``."""

    def __init__(self, log):
        self.log = log

    def update(self, step: int, loss: float, tokens_per_sec: float) -> None:
        pass

    def message(self, text: str) -> None:
        self.log(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class Lines(Silent):
    """A plain line now and then: 'step 1200/3000 (40%): loss 1.734, 45,210 tokens/s'."""

    def __init__(self, log, total_steps: int | None, every: float = PLAIN_EVERY_SECONDS, clock=time.monotonic):
        super().__init__(log)
        self.total_steps, self.every, self.clock = total_steps, every, clock
        self.last_shown = clock()

    def update(self, step, loss, tokens_per_sec):
        if self.clock() - self.last_shown < self.every:
            return
        self.last_shown = self.clock()
        of = f"/{self.total_steps} ({100 * step / self.total_steps:.0f}%)" if self.total_steps else ""
        self.log(f"step {step}{of}: loss {loss:.3f}, {tokens_per_sec:,.0f} tokens/s")


class Bar(Silent):
    """A tqdm bar counting steps, with the loss and the speed beside it; messages printed above it."""

    def __init__(self, log, total_steps: int | None, initial_step: int, stream):
        super().__init__(log)
        from tqdm import tqdm
        self.stream = stream
        self.bar = tqdm(total=total_steps, initial=initial_step, unit="step", file=stream, dynamic_ncols=True)

    def update(self, step, loss, tokens_per_sec):
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_sec:,.0f}", refresh=False)

    def message(self, text):
        self.bar.write(text, file=self.stream)

    def __exit__(self, *exc):
        self.bar.close()


class StopOnInterrupt:
    """While training: a first Ctrl-C sets ``requested``, so that the loop stops after the step under way
    and the run evaluates and saves as at its end; a second one raises KeyboardInterrupt at once.

    The handler only sets a flag, so a step is never cut in half between the gradient and the
    update. Signal handlers belong to the main thread; elsewhere Ctrl-C keeps its usual meaning.
    """

    def __init__(self):
        self.requested = False
        self.previous = None

    def _on_interrupt(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: finishing this step, then evaluating and saving (Ctrl-C again to quit now)",
              file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
