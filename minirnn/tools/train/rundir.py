"""The run directory: its files, the order they are written in, and its lock.

    last.npz       the run's state after its latest evaluation: the commit point
    best.npz       the same, for the evaluation with the lowest validation loss
    metrics.jsonl  one JSON line per evaluation
    loss.png       the losses against the step
    metrics.jsonl.rejected  damaged lines found in metrics.jsonl, set aside (only if there were any)

``last.npz`` is the truth: the directory holds what it has committed. A new run
commits its step-0 state before it trains (so a directory it cannot write fails
at once, not after the training time). Each evaluation then writes, in this order:

    1. best.npz, if the evaluation improved on the best (the previous best.npz is
       kept as .best.previous.npz, a hard link, until step 4)
    2. its line, appended to metrics.jsonl (one write)
    3. last.npz, which now records this evaluation: committed
    4. .best.previous.npz removed

Every file is replaced by an atomic rename (core/atomic.py). Killed at any instant,
best.npz is therefore never older than what metrics.jsonl and last.npz say the
best is, and metrics.jsonl is at most one line ahead of last.npz. The next run to
open the directory (``--resume``) puts it back to exactly what last.npz committed,
before anything else: it removes temporaries of killed writes, drops the metrics
lines after last.npz's step (the resumed run writes them again) and sets aside
those that are damaged (torn, foreign, out of order) in metrics.jsonl.rejected,
puts back the previous best.npz when the new one was never committed, and adds
last.npz's own metrics line if it is missing. A resumed run then redoes the lost
steps and writes the same files. A run that had ended draws its loss.png again,
in case it was killed before drawing it.

The lock is ``flock`` on the directory itself, which cannot be deleted while it holds
the run's files: a second writer is refused at once, naming the directory, and the
kernel releases the lock when its holder dies, however it dies. A directory deleted
(or replaced) under a run anyway stops the run before its next file write (a write
already under way can still land in the new directory: the writes go by path).
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import stat
from pathlib import Path
from typing import NamedTuple

from minirnn.checkpoint import CheckpointError
from minirnn.core.atomic import atomic_write, fsync_directory, remove_temporaries

from .run_state import RunState, SavedRun, check_record, read_run

LAST, BEST, METRICS, PLOT = "last.npz", "best.npz", "metrics.jsonl", "loss.png"
REJECTED = "metrics.jsonl.rejected"
PREVIOUS_BEST = ".best.previous.npz"
LN2 = math.log(2.0)


class RunDirectory:
    """One run's directory, locked by this process from :meth:`create` or :meth:`reopen` until :meth:`close`."""

    def __init__(self, path, log):
        self.path = Path(path)
        self.log = log
        self._lock_descriptor = None

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -- opening and closing ------------------------------------------------------------
    def create(self) -> None:
        """Lock a directory for a new run; refused if it holds one. :meth:`begin` then commits step 0."""
        self._lock()
        present = [name for name in (LAST, BEST, METRICS, PLOT) if (self / name).exists()]
        if present:          # loss.png too: a file of that name is the user's (their text, even) or a run's
            raise ValueError(f"--out {self.path} already holds a run's files ({', '.join(present)}): pass "
                             "--resume to continue its run, or choose another --out")

    def begin(self, save) -> None:
        """Commit a new run's step-0 state, so that it can be resumed from its first step on.

        save(path): writes the run's checkpoint to ``path``.
        """
        save(self / LAST)

    def reopen(self) -> SavedRun:
        """Lock the directory of a run, put it back to what last.npz committed, and return last.npz, checked."""
        self._lock()
        if not (self / LAST).exists():
            raise ValueError(f"there is no run to resume in --out {self.path} (it has no {LAST}); start one "
                             "without --resume")
        saved = read_run(self / LAST)
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise PermissionError(f"--out {self.path} is not writable, so the run cannot go on there")
        self._repair_metrics(saved.state)
        self._repair_best(saved.state)
        return saved

    def close(self) -> None:
        """Release the lock."""
        if self._lock_descriptor is not None:
            os.close(self._lock_descriptor)
            self._lock_descriptor = None

    def _lock(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as err:
            raise OSError(f"cannot write the run directory --out {self.path}: {err.strerror or err}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise BlockingIOError(f"--out {self.path} is in use by another minirnn train (it holds the "
                                  "directory's lock); wait for it to end, or choose another --out") from None
        self._lock_descriptor = descriptor
        removed = remove_temporaries(self.path, (LAST, BEST, METRICS, PLOT, PREVIOUS_BEST, REJECTED))
        if removed:
            self.log(f"{self.path}: removed {len(removed)} temporary file(s) left by a write that was killed")

    # -- one evaluation -------------------------------------------------------------------
    def commit(self, save, record: dict, improved: bool) -> None:
        """Write one evaluation's files in the order the module docstring gives.

        save(path): writes the run's checkpoint to ``path``; record: its metrics line.
        """
        # Before each write, that the directory is still the one locked: the writes go by its path.
        self._check_still_locked()
        if improved:
            self._keep_previous_best()
            save(self / BEST)
            self._check_still_locked()
        self._append_metrics(record)
        self._check_still_locked()
        save(self / LAST)
        _remove(self / PREVIOUS_BEST)

    def _check_still_locked(self) -> None:
        """Refuse to write into a directory that is no longer the one locked: deleted, or put in its place."""
        locked, there = os.fstat(self._lock_descriptor), None
        try:
            there = os.stat(self.path)
        except FileNotFoundError:
            pass
        if there is None or (there.st_dev, there.st_ino) != (locked.st_dev, locked.st_ino):
            raise RuntimeError(f"--out {self.path} was deleted or replaced while this run wrote into it; the run "
                               "stopped rather than write into another directory")

    def _keep_previous_best(self) -> None:
        if not (self / BEST).exists():
            return
        _remove(self / PREVIOUS_BEST)
        try:
            os.link(self / BEST, self / PREVIOUS_BEST)     # a second name for the same bytes: instant
        except OSError:                                    # a file system without hard links
            atomic_write(self / PREVIOUS_BEST, lambda file: file.write((self / BEST).read_bytes()))

    def _append_metrics(self, record: dict) -> None:
        """One line, in one write, synced: a kill leaves it whole or absent."""
        line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
        # Non-blocking, so that a FIFO in its place is refused rather than waited on for a reader.
        descriptor = os.open(self / METRICS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666)
        try:
            _check_regular(self / METRICS, descriptor)
            if os.write(descriptor, line) != len(line):
                raise OSError(f"could not append to {self / METRICS} (is the disk full?)")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    # -- putting the directory back to its last commit --------------------------------------
    def _repair_metrics(self, state: RunState) -> None:
        records, later, damaged = read_metrics(self / METRICS, up_to_step=state.step)
        restored = state.record is not None and (not records or records[-1]["step"] < state.step)
        if restored:
            records.append(state.record)
        if damaged:                      # set aside before metrics.jsonl loses them: a kill between keeps them twice
            kept = (self / REJECTED).read_bytes() if (self / REJECTED).exists() else b""
            atomic_write(self / REJECTED, lambda file: file.write(kept + b"".join(line + b"\n" for line in damaged)))
        if later or damaged or restored:
            text = "".join(json.dumps(record) + "\n" for record in records)
            atomic_write(self / METRICS, lambda file: file.write(text.encode("utf-8")))
            self.log(f"{self / METRICS}: kept the {len(records)} lines of the evaluations up to step {state.step} "
                     f"(last.npz); dropped {later} later line(s)"
                     + (f", set aside {len(damaged)} torn, foreign or out-of-order line(s) in {self / REJECTED}"
                        if damaged else "")
                     + (", restored the last one" if restored else ""))

    def _repair_best(self, state: RunState) -> None:
        best_step = _step_of(self / BEST)
        if best_step is not None and best_step > state.step:      # written, but its evaluation never committed
            if (self / PREVIOUS_BEST).exists():
                os.replace(self / PREVIOUS_BEST, self / BEST)
            else:
                _remove(self / BEST)
            fsync_directory(self.path)
            self.log(f"{self / BEST}: put back the best model of step {state.best_step} (last.npz); the one of "
                     f"step {best_step} was never committed")
            best_step = _step_of(self / BEST)
        _remove(self / PREVIOUS_BEST)
        if best_step == state.best_step:
            return
        if state.best_step == state.step:                         # last.npz is the best model
            atomic_write(self / BEST, lambda file: file.write((self / LAST).read_bytes()))
            self.log(f"{self / BEST}: restored from {LAST}, which holds the best model (step {state.step})")
        else:
            self.log(f"warning: {self / BEST} is not the best model of step {state.best_step} that last.npz "
                     "records; the next better evaluation will replace it")

    # -- the loss curve -------------------------------------------------------------------------
    def plot(self, hint: bool = True) -> None:
        """loss.png from metrics.jsonl when matplotlib is installed; otherwise a one-line hint (if ``hint``)."""
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            if hint:
                self.log("loss curve: install matplotlib (pip install 'minirnn[plot]') to get loss.png")
            return
        records = read_metrics(self / METRICS).records
        steps = [r["step"] for r in records]
        figure = Figure(figsize=(6, 4))
        FigureCanvasAgg(figure)        # an off-screen canvas: no display and no global pyplot state
        axes = figure.add_subplot()
        axes.plot(steps, [r["train_loss"] / LN2 for r in records], marker=".", label="train")
        axes.plot(steps, [r["val_bpc"] for r in records], marker=".", label="validation")
        axes.set_xlabel("step")
        axes.set_ylabel("bits per character")
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        atomic_write(self / PLOT, lambda file: figure.savefig(file, format="png", dpi=100))


class Metrics(NamedTuple):
    """What :func:`read_metrics` finds in metrics.jsonl."""
    records: list          # the sound lines, as dicts, in increasing step order
    later: int             # sound lines after the step asked for (written ahead of last.npz)
    damaged: list          # the other lines as they were (bytes without their newline): torn, foreign, out of order


def read_metrics(path, up_to_step: int | None = None) -> Metrics:
    """The metrics lines of ``path``, sorted into sound ones up to ``up_to_step``, later ones and damaged ones.

    A line is damaged when it is torn (no newline at its end), not a metrics record,
    or out of step order; a missing file has no lines.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)     # a FIFO must not block the open
    except FileNotFoundError:
        return Metrics([], 0, [])
    with os.fdopen(descriptor, "rb") as file:
        _check_regular(path, descriptor)
        raw = file.read()
    lines = raw.split(b"\n")
    records, later, damaged = [], 0, []
    for line in lines[:-1]:
        try:
            record = check_record(json.loads(line))
        except (ValueError, RecursionError):
            damaged.append(line)
            continue
        if records and record["step"] <= records[-1]["step"]:
            damaged.append(line)
        elif up_to_step is not None and record["step"] > up_to_step:
            later += 1
        else:
            records.append(record)
    if lines[-1] != b"":                                   # the last piece has no newline: torn
        damaged.append(lines[-1])
    return Metrics(records, later, damaged)


def _check_regular(path, descriptor: int) -> None:
    """Refuse what is open at ``descriptor`` unless it is a regular file (a FIFO or a device never ends)."""
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        raise ValueError(f"{path} is not a regular file; a run directory holds files only")


def _step_of(path: Path) -> int | None:
    """The step of the run checkpoint at ``path``; None when there is none, or it cannot be read."""
    if not path.exists():
        return None
    try:
        return read_run(path).state.step
    except (CheckpointError, OSError):
        return None


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
