#!/usr/bin/env python
"""Kill a small training run at many points; check its directory each time, then resume it to the end.

    python scripts/fault_injection.py [--every 1] [--random 20] [--seed 0]

The run is ``python -m minirnn train`` on a small text with a tiny GRU, evaluating
every 2 steps, so that most of its time is spent writing its run directory. It is
killed with SIGKILL in two ways:

- at each file operation of minirnn.tools.train (os.open, write, fsync, chmod, replace,
  link, unlink, close), just before it and just after it: the child counts them
  and kills itself at the k-th, which reaches every gap between two operations of
  a checkpoint write, a metrics append and the commit order (``--every N`` takes
  every N-th operation only);
- ``kill -9`` from outside, after a random delay (``--random N`` times).

After each kill, before anything repairs it, the directory must hold: checkpoints
that all load (last.npz, best.npz, .best.previous.npz), a metrics.jsonl with no
torn or foreign line, and a best.npz that is the best model metrics.jsonl and
last.npz report (or one written ahead of them, for the next open to take back).
Then ``minirnn train --resume`` (a fresh start when no last.npz was committed)
must end with the files of a run that was never killed: the same parameters in
last.npz and best.npz, bit for bit, the same metrics lines, and no temporary.
Prints the kills, the files checked and the mismatches; exits 1 on any mismatch.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                  # run from a clone without installing

from minirnn.checkpoint import CheckpointError, load  # noqa: E402
from minirnn.tools import cli  # noqa: E402
from minirnn.tools.train import rundir  # noqa: E402
from minirnn.tools.train.run_state import check_record  # noqa: E402

TRAIN = ["--cell", "gru", "--emb", "8", "--hidden", "16", "--batch", "4", "--bptt", "16", "--lr", "0.1",
         "--epochs", "0.4", "--eval-every", "2", "--no-progress"]
COMPARED = ("step", "epoch", "train_loss", "val_loss", "val_bpc")     # the metrics that do not depend on time

# The child: count the file operations made by minirnn.tools.train and minirnn.core.atomic (the writes of
# the run's files) and SIGKILL itself at the k-th,
# "before" or "after" it (k = 0: never; the operations, "name:function", are printed at exit).
# No plot: it is not checked.
CHILD = r"""
import atexit, json, os, signal, sys
kill_at, when = int(sys.argv[1]), sys.argv[2]
sys.argv = ["minirnn"] + sys.argv[3:]
sys.modules["matplotlib.backends.backend_agg"] = None
trace = []

def counted(name, function):
    def operation(*args, **kwargs):
        caller = sys._getframe(1)
        if not caller.f_globals.get("__name__", "").startswith(("minirnn.tools.train", "minirnn.core.atomic")):
            return function(*args, **kwargs)
        trace.append(f"{name}:{caller.f_code.co_name}")
        count = len(trace)
        if count == kill_at and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            return function(*args, **kwargs)
        finally:                            # after it, whether it returned or raised (unlink of a missing file)
            if count == kill_at and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
    return operation

for name in ("open", "write", "fsync", "chmod", "replace", "link", "unlink", "close"):
    setattr(os, name, counted(name, getattr(os, name)))
atexit.register(lambda: sys.stderr.write("operations: " + json.dumps(trace) + "\n"))
import runpy
runpy.run_module("minirnn", run_name="__main__", alter_sys=True)
"""


def make_text(path: Path) -> Path:
    """About 4 kB of Python-like lines, the same every time."""
    words = "def class return self import for while if else elif try except with lambda yield pass".split()
    generator = random.Random(0)
    lines = [" ".join(generator.choice(words) for _ in range(generator.randint(2, 5))) + ":" for _ in range(240)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def child(text: Path, out: Path, kill_at: int = 0, when: str = "before", extra=()) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(kill_at), when, "train", "--text", str(text),
                             "--out", str(out), *TRAIN, *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def reference(text: Path, out: Path) -> tuple[list, float]:
    """Run to the end without a kill: (the file operations it made, "name:function" each; its seconds)."""
    started = time.perf_counter()
    process = child(text, out)
    _, err = process.communicate(timeout=300)
    if process.returncode != 0:
        raise RuntimeError(f"the reference run failed:\n{err}")
    return json.loads(err.rsplit("operations: ", 1)[1]), time.perf_counter() - started


def check_killed(out: Path) -> tuple[int, list, set]:
    """(files checked, problems, situations found) of a directory just after a kill, before anything repairs it."""
    problems, checked = [], 0
    saved = {}
    for name in (rundir.LAST, rundir.BEST, rundir.PREVIOUS_BEST):
        if (out / name).exists():
            checked += 1
            try:
                saved[name] = load(out / name).meta["run"]
            except CheckpointError as err:
                problems.append(f"{name} does not load: {err}")
    records = []
    if (out / rundir.METRICS).exists():
        checked += 1
        raw = (out / rundir.METRICS).read_bytes()
        if raw and not raw.endswith(b"\n"):
            problems.append("metrics.jsonl ends in a torn line")
        for line in raw.splitlines():
            try:
                records.append(check_record(json.loads(line)))
            except ValueError:
                problems.append(f"metrics.jsonl has a line that is not a metrics record: {line[:60]!r}")
    last, best = saved.get(rundir.LAST), saved.get(rundir.BEST)
    if last is not None and last["best_step"] is not None and best is None:
        problems.append(f"last.npz records a best model at step {last['best_step']}, and there is no best.npz")
    if best is not None and last is not None and best["step"] <= last["step"]:      # committed: must agree
        reported = [r for r in records if r["step"] <= last["step"]]
        lowest = min(reported, key=lambda r: r["val_loss"]) if reported else None
        if best["step"] != last["best_step"] or lowest is None or lowest["step"] != best["step"]:
            problems.append(f"best.npz holds step {best['step']}; last.npz says the best is step "
                            f"{last['best_step']}, metrics.jsonl step {lowest and lowest['step']}")
    if best is not None and last is not None and best["step"] < (last["best_step"] or 0):
        problems.append(f"best.npz (step {best['step']}) is older than last.npz's best (step {last['best_step']})")
    situations = {name for name, found in (
        ("no last.npz", last is None),
        ("a temporary file", any(p.name.endswith(".tmp") for p in out.iterdir())),
        ("a previous best.npz kept", rundir.PREVIOUS_BEST in saved),
        ("best.npz ahead of last.npz", best is not None and last is not None and best["step"] > last["step"]),
        ("metrics.jsonl ahead of last.npz", last is not None and any(r["step"] > last["step"] for r in records)),
    ) if found}
    return checked, problems, situations


def finish(text: Path, out: Path) -> None:
    """Resume the killed run to its end in this process (a fresh start when nothing was committed)."""
    argv = ["train", "--resume", "--out", str(out), "--no-progress"] if (out / rundir.LAST).exists() \
        else ["train", "--text", str(text), "--out", str(out), *TRAIN]
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(argv)
    if status != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {status}:\n{err.getvalue()}")


def compare(out: Path, expected: Path) -> list:
    """What differs between a resumed run's directory and the uninterrupted one's."""
    problems = []
    for name in (rundir.LAST, rundir.BEST):
        mine, theirs = load(out / name), load(expected / name)
        if mine.meta["run"]["step"] != theirs.meta["run"]["step"]:
            problems.append(f"{name} holds step {mine.meta['run']['step']}, not {theirs.meta['run']['step']}")
        for key, value in theirs.params.items():
            if not (mine.params[key] == value).all():
                problems.append(f"{name}: {key} differs from the uninterrupted run's")
    ours, theirs = (rundir.read_metrics(d / rundir.METRICS)[0] for d in (out, expected))
    if [[r[k] for k in COMPARED] for r in ours] != [[r[k] for k in COMPARED] for r in theirs]:
        problems.append("metrics.jsonl differs from the uninterrupted run's")
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name == rundir.PREVIOUS_BEST]
    if leftovers:
        problems.append(f"left behind: {leftovers}")
    return problems


def kill_and_check(text: Path, expected: Path, work: Path, how: str, kill_at: int = 0, when: str = "before",
                   delay: float = 0.0) -> tuple[bool, int, list, set]:
    """One kill: (whether it was killed, files checked, problems, situations it left)."""
    out = work / f"run-{how}-{kill_at}-{when}-{delay:.3f}"
    if how == "operation":
        process = child(text, out, kill_at, when)
        process.communicate(timeout=300)
    else:
        process = child(text, out)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=300)
    killed = process.returncode == -signal.SIGKILL
    checked, problems, situations = check_killed(out) if out.exists() else (0, [], {"no last.npz"})
    try:
        finish(text, out)
        problems += compare(out, expected)
    except (RuntimeError, ValueError, OSError) as err:     # a resume that fails is a mismatch to report
        problems.append(f"could not be finished: {err}")
    shutil.rmtree(out)
    return killed, checked, problems, situations


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, metavar="N", help="kill at every N-th file operation")
    parser.add_argument("--random", type=int, default=20, metavar="N", help="kills after a random delay")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random delays")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="minirnn-faults-") as work:
        work = Path(work)
        text = make_text(work / "text.txt")
        expected = work / "expected"
        operations, seconds = reference(text, expected)
        print(f"uninterrupted run: {len(operations)} file operations, {seconds:.1f} s; "
              f"{len(rundir.read_metrics(expected / rundir.METRICS)[0])} evaluations")
        plan = [("operation", k, when, 0.0) for k in range(1, len(operations) + 1, args.every)
                for when in ("before", "after")]
        delays = random.Random(args.seed)
        plan += [("random", 0, "before", delays.uniform(0.2, seconds)) for _ in range(args.random)]
        kills = files = mismatches = missed = 0
        found: dict[str, int] = {}
        for how, kill_at, when, delay in plan:
            killed, checked, problems, situations = kill_and_check(text, expected, work, how, kill_at, when, delay)
            kills += killed
            missed += how == "operation" and not killed
            files += checked
            mismatches += bool(problems)
            for situation in situations:
                found[situation] = found.get(situation, 0) + 1
            for problem in problems:
                print(f"  {how} {kill_at} {when} {delay:.3f}: {problem}")
        print(f"kills: {kills} ({len(plan) - args.random} planned at file operations, {missed} of them not "
              f"reached; {args.random} at random times, some after the end), files checked: {files}, "
              f"mismatches: {mismatches}")
        print("directories found after a kill with: " + ", ".join(f"{k} {v}" for k, v in sorted(found.items())))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
