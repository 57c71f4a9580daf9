"""The cell check of a learner's file, run in a child process with a time limit.

A learner's code can do what no check in the same process survives: loop forever
(``while True: pass``, at import or in a step) or end the process (``os._exit(0)``,
which would exit 0 with no report, read by a script as a pass). So
:func:`check_cell_file` runs :func:`minirnn.gradcheck.check_cell` on "FILE.py:NAME"
in a child Python, which writes its report into a file when it has one and exits.
Only a finished report is a verdict: a child still running at the time limit is
killed, and one that ends without a report is an error that says which.

What the learner's code prints shows as it comes (the child shares this process's
stdout and stderr); an error it makes is raised here as the check would raise it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core import validate

DEFAULT_TIME_LIMIT = 180.0          # seconds: the check itself takes about one
# The child: it imports from where this process imports (its sys.path, given entry by entry before the
# arguments of _child), so the learner's code finds what it would find here, and minirnn is this one.
CHILD = ("import sys; count = int(sys.argv[1]); sys.path[:] = sys.argv[2:2 + count]; "
         "from minirnn.gradcheck.isolated import _child; _child(*sys.argv[2 + count:])")
ERRORS = {error.__name__: error for error in (ValueError, TypeError, OSError)}   # what a check raises for a user


@dataclass
class CellFileReport:
    """What :func:`check_cell_file` returns: the verdict and the report's text (``CellReport.format``)."""
    passed: bool
    text: str

    def __str__(self) -> str:
        return self.text


def check_cell_file(spec: str, kind: str | None = None, *, seed: int = 0, verbose: bool = False,
                    time_limit: float = DEFAULT_TIME_LIMIT) -> CellFileReport:
    """Check the cell "FILE.py:NAME" (see :func:`minirnn.gradcheck.check_cell`) in a child process.

    verbose: the report's row per step (``CellReport.format``); time_limit: seconds, a finite number
    > 0, for the whole check, the file's import included. Raises what the check raises (ValueError,
    TypeError, OSError) for a cell it cannot check, TimeoutError when the time limit is reached, and
    RuntimeError when the child ends without a report.
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be 'FILE.py:NAME', got {validate.describe(spec)}")
    seed = validate.non_negative_int("seed", seed)
    time_limit = validate.finite_number("time_limit", time_limit, positive=True)
    with tempfile.TemporaryDirectory(prefix="minirnn-cellcheck-") as folder:
        report_path = Path(folder) / "report.json"
        # A session of its own, so that the child and anything it starts end together at the time limit.
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(len(sys.path)), *sys.path, str(report_path), spec,
                                  kind or "", str(seed), "verbose" if verbose else ""], start_new_session=True)
        try:
            status = child.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{spec}: the cell check did not finish within time_limit {time_limit:g} s; the "
                               "cell's code may never end (a loop at import or in a step)") from None
        finally:
            _end(child)
        report = _read(report_path) if status == 0 else None
    if report is None:
        how = f"killed by signal {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
        raise RuntimeError(f"{spec}: the cell check ended without a report ({how}): the cell's code ended the "
                           "process, so nothing was checked")
    if "error" in report:
        raise ERRORS[report["error"]](report["message"])
    return CellFileReport(report["passed"], report["text"])


def _end(child: subprocess.Popen) -> None:
    """Kill the child's session, whatever is left of it, and reap the child."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):       # ended, and its session with it
        pass
    child.wait()


def _read(path: Path) -> dict | None:
    """The child's report, or None when it wrote none (or not the whole of one)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _child(report_path: str, spec: str, kind: str, seed: str, verbose: str) -> None:
    """In the child: check the cell, write the report (or the error a user can fix), and exit at once,
    before any thread or exit handler of the learner's code can keep the process alive."""
    from .cellcheck import check_cell
    try:
        report = check_cell(spec, kind or None, seed=int(seed))
        result = {"passed": report.passed, "text": report.format(verbose=bool(verbose))}
    except tuple(ERRORS.values()) as err:
        result = {"error": next(name for name, error in ERRORS.items() if isinstance(err, error)),
                  "message": str(err)}
    except KeyboardInterrupt:          # no Ctrl-C reaches this process (a session of its own): the code raised it
        result = {"error": "ValueError", "message": f"{spec}: the cell's code raised KeyboardInterrupt"}
    Path(report_path).write_text(json.dumps(result), encoding="utf-8")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()             # what the cell's code printed
        except (AttributeError, OSError, ValueError):    # None, or closed by the cell's code: nothing to show
            pass
    os._exit(0)
