#!/usr/bin/env python
"""A hostile audit: what a careless or hostile user can hand minirnn, over its four surfaces, and what comes of it.

    python scripts/audit.py [--surface api|cli|threads|cell ...] [--verbose]

The surfaces: the library's API (called in this process); the command line (in this process,
and as programs started with closed standard streams, FIFOs and links in place of files, two at
once, killed); one model in several threads; and ``gradcheck --cell`` on learners' files that
loop, exit, crash or lie. Each probe is judged one of

    ok         refused with one clear error, or did the right thing
    traceback  an error a user should never see: a traceback, an exception of no documented kind,
               an exit status that means a crash
    silent     went on where it should have refused, gave a wrong result, or hung (every probe
               runs under a time limit)
    lost       something that was there before is gone or damaged (a checkpoint that no longer
               loads, a run's line deleted)
    replaced   a file that is not the command's own was replaced: a FIFO, a device, a link, a mode

Everything happens under one temporary directory. Devices are only read (/dev/zero); where a
writer could meet a device, a FIFO stands in for it, or a file whose stat says "character
device" (in this process). Prints every probe that is not ok, then the counts by surface in the
form tried / traceback / silent misbehaviour / data lost / files replaced; exits 1 when any
count but "tried" is not 0.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import io
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                  # run from a clone without installing

import numpy  # noqa: E402

import minirnn  # noqa: E402
from minirnn import checkpoint, optim  # noqa: E402
from minirnn.core import atomic  # noqa: E402
from minirnn.data import Vocab, read_text, split  # noqa: E402
from minirnn.gradcheck import check_gradients  # noqa: E402
from minirnn.models import CharLoopModel, CharRNN  # noqa: E402
from minirnn.sample import generate  # noqa: E402
from minirnn.tools import cli  # noqa: E402
from minirnn.tools.train import rundir  # noqa: E402

OK, TRACEBACK, SILENT, LOST, REPLACED = "ok", "traceback", "silent", "lost", "replaced"
KINDS = (TRACEBACK, SILENT, LOST, REPLACED)
SURFACES = {"api": "API", "cli": "CLI", "threads": "threads", "cell": "gradcheck --cell"}
DOCUMENTED = (ValueError, TypeError, OSError, MemoryError, RuntimeError)   # what the library raises for a user
TEXT = "".join(f"def f{i}(x):\n    return x * {i} + 1  # a line of text\n" for i in range(120))
PROGRAM_SECONDS = 120                          # no program a probe starts may run longer


class Probe(NamedTuple):
    surface: str                               # a key of SURFACES
    name: str
    run: Callable[[Path], tuple]               # (verdict, detail), given a fresh directory of its own


class Hang(BaseException):
    """Raised in a probe that ran past its time limit (a BaseException, so that the code under test keeps it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang in this (the main) thread when the block runs longer than ``seconds`` (or than the limit of
    an enclosing block, which is put back after this one)."""
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    seconds = min(seconds, outer) if outer else seconds

    def expired(signum, frame):
        raise Hang(f"still running after {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expired)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3))


@contextlib.contextmanager
def working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# -- judging ----------------------------------------------------------------------------------------------
def refused(call, naming: str | None = None, errors=DOCUMENTED) -> tuple:
    """OK when ``call()`` raises one of ``errors`` whose message names ``naming``; SILENT when it returns."""
    try:
        result = call()
    except errors as err:
        if naming is not None and naming not in str(err):
            return TRACEBACK, f"{type(err).__name__} does not name {naming!r}: {err}"
        return OK, f"{type(err).__name__}: {err}"
    except Exception as err:
        return TRACEBACK, f"{type(err).__name__}: {err}"
    return SILENT, f"no error; returned {_short(result)}"


def runs(call, check: Callable = lambda result: None) -> tuple:
    """OK when ``call()`` returns and ``check(result)`` finds nothing wrong (it returns a complaint or None)."""
    try:
        result = call()
    except Exception as err:
        return TRACEBACK, f"{type(err).__name__}: {err}"
    complaint = check(result)
    return (SILENT, complaint) if complaint else (OK, "")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def state_of(path: Path) -> tuple:
    """What a path is, for telling whether a write replaced it: its kind, link target, mode and bytes' digest."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return ("missing",)
    if stat.S_ISLNK(status.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISREG(status.st_mode):
        return ("file", stat.S_IMODE(status.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return ("special", stat.S_IFMT(status.st_mode), stat.S_IMODE(status.st_mode))


def kept(path: Path, before: tuple, contents_too: bool = True) -> tuple | None:
    """None when ``path`` is what it was; else the verdict: REPLACED (another kind of thing, mode), LOST (bytes)."""
    after = state_of(path)
    if after == before:
        return None
    if after[0] != before[0] or before[0] in ("link", "special") or after[1] != before[1]:
        return REPLACED, f"{path.name} was {before[:2]}, is {after[:2]}"
    if contents_too:
        return LOST, f"{path.name}'s bytes changed"
    return None


# -- the command line: in this process, or as a program -------------------------------------------------------
def command(argv, cwd: Path, seconds: float = PROGRAM_SECONDS) -> tuple:
    """(status, stdout, stderr, escaped) of ``minirnn ARGV`` run in this process; escaped: a traceback or None."""
    out, err = io.StringIO(), io.StringIO()
    escaped, status = None, None
    with working_directory(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with time_limit(seconds):
                status = cli.main([str(a) for a in argv])
        except SystemExit as stop:
            status = stop.code
        except Hang as hang:
            escaped = f"hang: {hang}"
        except BaseException:
            escaped = traceback.format_exc()
    return status, out.getvalue(), err.getvalue(), escaped


def program(argv, cwd: Path, redirection: str = "", seconds: float = PROGRAM_SECONDS, wait: bool = True):
    """``python -m minirnn ARGV`` started by a shell (``redirection``: ">&-", "2>&-", ...); (status, out, err)
    with status None when it was still running after ``seconds``; with wait=False, the Popen."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))))
    # -P (Python 3.11): the current directory is not searched for modules, as for the installed minirnn command;
    # a learner's numpy.py there must not stand in for NumPy.
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    process = subprocess.Popen(["sh", "-c", f'exec "$@" {redirection}', "sh", sys.executable, *safe_path, "-m",
                                "minirnn", *map(str, argv)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    if not wait:
        return process
    return finished(process, seconds)


def finished(process, seconds: float = PROGRAM_SECONDS) -> tuple:
    try:
        out, err = process.communicate(timeout=seconds)
        return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        return None, out.decode(errors="replace"), err.decode(errors="replace")


def judged(status, out: str, err: str, escaped: str | None = None, *, expect, one_line: bool = True) -> tuple:
    """The verdict on a command's end: a traceback or a hang; a status not expected; an error that is not one line
    (the whole of stderr with ``one_line``, else its last line: a run's log comes before it)."""
    expect = {expect} if isinstance(expect, int) else set(expect)
    if escaped is not None:
        return (SILENT, escaped) if escaped.startswith("hang") else (TRACEBACK, escaped.strip().splitlines()[-1])
    if "Traceback (most recent call last)" in err:
        return TRACEBACK, err.strip().splitlines()[-1]
    if status is None:
        return SILENT, "still running at its time limit"
    if status not in expect:
        if status == 1 and 1 not in expect:                 # what Python exits with on an uncaught exception
            return TRACEBACK, f"exit 1: {err.strip()[-200:]}"
        return SILENT, f"exit {status}, expected {sorted(expect)}: {err.strip()[-200:]}"
    if status == 2 and err and (err.count("\n") != 1 if one_line else
                                not err.strip().splitlines()[-1].startswith("minirnn")):
        return TRACEBACK, f"not one line of error: {err[-200:]}"
    return OK, err.strip()[-120:]


def cli_refuses(argv, naming: str | None = None, setup: Callable[[Path], None] | None = None,
                watch: tuple = ()) -> Callable:
    """A probe: ``minirnn ARGV`` (in this process) exits 2 with one line naming ``naming``; the files in
    ``watch`` (names in the probe's directory) are what they were."""
    def run(path: Path):
        if setup:
            setup(path)
        before = {name: state_of(path / name) for name in watch}
        verdict = judged(*command(argv, path), expect=2)
        if verdict[0] == OK and naming is not None and naming not in verdict[1]:
            verdict = TRACEBACK, f"its error does not name {naming!r}: {verdict[1]}"
        for name in watch:
            changed = kept(path / name, before[name])
            if changed:
                return changed
        return verdict
    return run


# -- what the probes share: a text, checkpoints, learners' files ---------------------------------------------
class Shared:
    """Files made once, copied into a probe's directory when it needs them."""

    def __init__(self, root: Path):
        self.root = root
        self.text = root / "text.txt"
        self.text.write_text(TEXT)
        self.vocab = Vocab.from_text(TEXT)
        self.charrnn = root / "charrnn.npz"
        checkpoint.save(self.charrnn, CharRNN(len(self.vocab), emb=4, hidden=6, cell="gru", seed=0),
                        meta={"vocab": self.vocab.to_json()})
        self.charloop = root / "charloop.npz"
        checkpoint.save(self.charloop, CharLoopModel(len(self.vocab), 3, 5, seed=0),
                        meta={"vocab": self.vocab.to_json(), "window": 4})

    def copy(self, name: str, into: Path) -> Path:
        target = into / name
        target.write_bytes((self.root / name).read_bytes())
        return target


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def made(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


# -- API ----------------------------------------------------------------------------------------------------
CLASSES = {           # name -> (constructor from keyword arguments, its size arguments with sound values)
    "RNN": (minirnn.RNN, dict(input_size=3, hidden_size=4)),
    "LSTM": (minirnn.LSTM, dict(input_size=3, hidden_size=4)),
    "GRU": (minirnn.GRU, dict(input_size=3, hidden_size=4)),
    "RNNCell": (minirnn.RNNCell, dict(input_size=3, hidden_size=4)),
    "LSTMCell": (minirnn.LSTMCell, dict(input_size=3, hidden_size=4)),
    "GRUCell": (minirnn.GRUCell, dict(input_size=3, hidden_size=4)),
    "Linear": (minirnn.Linear, dict(in_features=3, out_features=4)),
    "Embedding": (minirnn.Embedding, dict(num_embeddings=5, embedding_dim=4)),
    "CharRNN": (CharRNN, dict(vocab_size=5, emb=3, hidden=4)),
    "CharLoopModel": (CharLoopModel, dict(vocab_size=5, n_fac=3, n_hidden=4)),
}
DTYPES = [(None, "float32"), ("float32", "float32"), ("float64", "float64"), (numpy.float64, "float64"),
          ("f4", "float32"), (numpy.dtype("float32"), "float32"), ("float16", None), ("int32", None),
          (numpy.float16, None), ("", None), (3, None), ("complex128", None), (object, None), (bool, None)]
BAD_SIZES = [0, -1, 1.5, True, "3", None, float("nan")]


def built_with(dtype_name: str):
    def check(model):
        wrong = [name for name, value in model.params.items() if value.dtype != dtype_name]
        if model.dtype != dtype_name or wrong:
            return f"built a {model.dtype} model ({wrong[:2]}), not {dtype_name}"
    return check


def api_probes(shared: Shared):
    for name, (cls, sizes) in CLASSES.items():
        for dtype, expected in DTYPES:
            make = (lambda cls=cls, sizes=sizes, dtype=dtype: cls(**sizes, dtype=dtype))
            yield Probe("api", f"{name}(dtype={dtype!r})",
                        (lambda path, make=make, expected=expected:
                         runs(make, built_with(expected)) if expected else refused(make, "dtype")))
        for argument in sizes:
            for bad in BAD_SIZES:
                make = (lambda cls=cls, sizes=sizes, argument=argument, bad=bad: cls(**{**sizes, argument: bad}))
                yield Probe("api", f"{name}({argument}={bad!r})", lambda path, make=make, a=argument: refused(make, a))
        if name not in ("CharRNN", "CharLoopModel"):
            for size in (10**6, 10**12):
                make = (lambda cls=cls, sizes=sizes, size=size: cls(**{k: size for k in sizes}))
                yield Probe("api", f"{name} of sizes {size}",
                            lambda path, make=make, size=size: refused(make, str(size), errors=(MemoryError,)))
    yield from _schedule_probes()
    yield from _gradient_check_probes()
    yield from _checkpoint_probes(shared)
    yield from _forward_backward_probes()
    yield from _optimizer_probes()
    yield from _data_and_sampling_probes(shared)
    yield from _module_probes()


def _schedule_probes():
    for args, naming in [((-5, 10, 2), "step"), ((0, 10), "step"), ((1, 0), "total_steps"), ((1, -3), "total_steps"),
                         ((1, 10, -1), "warmup_steps"), ((1, 10, 2, 1.5), "min_factor"),
                         ((1, 10, 2, -0.1), "min_factor"), ((1, 10, 2, float("nan")), "min_factor"),
                         ((1.5, 10), "step"), (("1", 10), "step"), ((True, 10), "step"), ((1, 10, 2.5), "warmup_steps")]:
        yield Probe("api", f"warmup_cosine{args}", lambda path, a=args, n=naming: refused(lambda: optim.warmup_cosine(*a), n))
    for args, naming in [((3, 0), "step_size"), ((3, -2), "step_size"), ((0, 2), "step"), ((-1, 2), "step"),
                         ((3, 2.5), "step_size"), ((3, 2, -0.5), "gamma"), ((3, 2, float("nan")), "gamma"),
                         ((3, 2, float("inf")), "gamma"), (("3", 2), "step")]:
        yield Probe("api", f"step_decay{args}", lambda path, a=args, n=naming: refused(lambda: optim.step_decay(*a), n))
    for step in (1, 5, 10, 11, 50):
        yield Probe("api", f"warmup_cosine({step}, 10, 2) in [0, 1]",
                    lambda path, s=step: runs(lambda: optim.warmup_cosine(s, 10, 2),
                                              lambda f: None if 0 <= f <= 1 else f"factor {f}"))


def _gradient_check_probes():
    def check(grads=None, tensors=None, **settings):
        x = numpy.linspace(-1.0, 1.0, 4)
        return lambda: check_gradients(lambda: float((x ** 2).sum()), {"x": 2 * x} if grads is None else grads,
                                       {"x": x} if tensors is None else tensors, **settings)
    cases = [("a tensor without a gradient", check(grads={}), "'x'"),
             ("eps=0", check(eps=0), "eps"), ("eps=-1e-6", check(eps=-1e-6), "eps"),
             ("eps=nan", check(eps=float("nan")), "eps"), ("atol=-1", check(atol=-1.0), "atol"),
             ("rtol=inf", check(rtol=float("inf")), "rtol"), ("max_entries=0", check(max_entries=0), "max_entries"),
             ("a float32 tensor", check(tensors={"x": numpy.zeros(4, numpy.float32)}), "x"),
             ("a list for a tensor", check(tensors={"x": [0.0, 1.0]}), "x"),
             ("a gradient of another shape", check(grads={"x": numpy.zeros(3)}), "x"),
             ("a list for a gradient", check(grads={"x": [0.0] * 4}), "x")]
    for name, call, naming in cases:
        yield Probe("api", f"check_gradients with {name}", lambda path, c=call, n=naming: refused(c, n))

    def restored(size, max_entries, fail_at):
        def run(path):
            x = numpy.linspace(-1.0, 1.0, size)
            before, calls = x.copy(), []

            def loss():
                calls.append(1)
                if len(calls) == fail_at:
                    raise ArithmeticError("the loss failed")
                return float((x ** 2).sum())
            try:
                check_gradients(loss, {"x": 2 * x}, {"x": x}, max_entries=max_entries)
            except ArithmeticError:
                pass
            return (OK, "") if numpy.array_equal(x, before) else (SILENT, "a tensor was left perturbed")
        return run
    for size, max_entries, fail_at in ((4, 400, 2), (4, 400, 3), (40, 5, 12), (40, 5, 13)):
        yield Probe("api", f"check_gradients restores x when the loss raises at call {fail_at} of {size}",
                    restored(size, max_entries, fail_at))


def _checkpoint_probes(shared: Shared):
    model = CharLoopModel(5, 3, 4, seed=0)

    def save_refused(arrays=None, meta=None, naming=None, bad_model=None):
        def run(path):
            target = path / "c.npz"
            target.write_bytes(shared.charloop.read_bytes())        # an earlier checkpoint: it must survive
            before = state_of(target)
            verdict = refused(lambda: checkpoint.save(target, bad_model or model, meta=meta, arrays=arrays), naming)
            return kept(target, before) or verdict
        return run
    nan_model = CharLoopModel(5, 3, 4, seed=0)
    nan_model.params["l_out.bias"][0] = numpy.nan
    for name, kwargs in [
            ("an object array", dict(arrays={"o": numpy.array([None, 1], dtype=object)}, naming="arrays['o']")),
            ("a string array", dict(arrays={"o": numpy.array(["a"])}, naming="arrays['o']")),
            ("a structured array", dict(arrays={"o": numpy.zeros(2, [("a", "f8")])}, naming="arrays['o']")),
            ("a complex array", dict(arrays={"o": numpy.zeros(2, complex)}, naming="arrays['o']")),
            ("a NaN in an array", dict(arrays={"o": numpy.array([numpy.nan])}, naming="array/o")),
            ("a list for an array", dict(arrays={"o": [1, 2]}, naming="arrays['o']")),
            ("None for an array", dict(arrays={"o": None}, naming="arrays['o']")),
            ("a NaN in meta", dict(meta={"x": float("nan")}, naming="meta")),
            ("a set in meta", dict(meta={"x": {1, 2}}, naming="meta")),
            ("a model with a NaN weight", dict(bad_model=nan_model, naming="l_out.bias"))]:
        yield Probe("api", f"checkpoint.save with {name}", save_refused(**kwargs))

    def saved_into(make_target, *, refuse: bool, naming: str | None = None, keeps=lambda path: ()):
        """checkpoint.save at what make_target(path) returns: refused (what is there stays), or written
        through to a file that loads, with ``keeps`` (paths made by make_target) what they were."""
        def run(path):
            target = make_target(path)
            watched = {p: state_of(p) for p in (target, *keeps(path))} if refuse else \
                {p: state_of(p) for p in keeps(path)}
            if refuse:
                verdict = refused(lambda: checkpoint.save(target, model), naming)
                for p, before in watched.items():
                    changed = kept(p, before)
                    if changed:
                        return changed
                return verdict
            verdict = runs(lambda: checkpoint.save(target, model))
            for p, before in watched.items():
                changed = kept(p, before, contents_too=False)
                if changed:
                    return changed
            if verdict[0] == OK:
                loaded = refused(lambda: checkpoint.load(target))
                if loaded[0] != SILENT:
                    return LOST, f"what was saved does not load: {loaded[1]}"
            return verdict
        return run
    yield Probe("api", "checkpoint.save into a directory", saved_into(lambda p: p, refuse=True, naming="directory"))
    yield Probe("api", "checkpoint.save onto a FIFO", saved_into(lambda p: fifo(p / "f"), refuse=True, naming="FIFO"))
    yield Probe("api", "checkpoint.save onto a link to a FIFO (/dev/full's stand-in)",
                saved_into(lambda p: link(p / "full", fifo(p / "pipe")), refuse=True, naming="full",
                           keeps=lambda p: (p / "pipe",)))
    yield Probe("api", "checkpoint.save onto a link loop",
                saved_into(lambda p: link(p / "a", link(p / "b", p / "a")), refuse=True, naming="a"))
    yield Probe("api", "checkpoint.save into a missing directory",
                saved_into(lambda p: p / "nowhere" / "c.npz", refuse=True, naming="c.npz"))

    def existing(mode):
        def make(p):
            target = p / "c.npz"
            target.write_bytes(shared.charloop.read_bytes())
            target.chmod(mode)
            return target
        return make

    def mode_kept(mode):
        def run(path):
            target = existing(mode)(path)
            verdict = runs(lambda: checkpoint.save(target, model))
            now = stat.S_IMODE(target.stat().st_mode)
            return verdict if now == mode else (REPLACED, f"mode {mode:o} became {now:o}")
        return run
    for mode in (0o600, 0o640, 0o444):
        yield Probe("api", f"checkpoint.save over a {mode:o} file keeps its mode", mode_kept(mode))
    yield Probe("api", "checkpoint.save through a link to a file in another directory",
                saved_into(lambda p: link(p / "c.npz", existing(0o644)((p / "elsewhere").mkdir() or p / "elsewhere")),
                           refuse=False, keeps=lambda p: (p / "c.npz",)))
    yield Probe("api", "checkpoint.save through a dangling link",
                saved_into(lambda p: link(p / "c.npz", p / "made.npz"), refuse=False, keeps=lambda p: (p / "c.npz",)))

    def onto_a_device(path):
        """A stand-in character device: a file whose stat says so, which must not be replaced."""
        target = path / "full"
        target.write_bytes(b"a device")
        real_stat = os.stat

        def as_a_device(p, *args, **kwargs):
            status = real_stat(p, *args, **kwargs)
            return status if os.fspath(p) != os.fspath(target) else \
                os.stat_result((stat.S_IFCHR | 0o666, *tuple(status)[1:]))
        atomic.os.stat = as_a_device
        try:
            verdict = refused(lambda: checkpoint.save(target, model), "character device")
        finally:
            atomic.os.stat = real_stat
        return (REPLACED, "the device became a file") if target.read_bytes() != b"a device" else verdict
    yield Probe("api", "checkpoint.save onto a character device", onto_a_device)

    def full_disk(path):
        target = path / "c.npz"
        target.write_bytes(shared.charloop.read_bytes())
        before = state_of(target)
        real = numpy.savez

        def no_space(file, **arrays):
            file.write(b"PK\x03\x04 half an archive")
            raise OSError(28, "No space left on device")
        checkpoint.numpy.savez = no_space
        try:
            verdict = refused(lambda: checkpoint.save(target, model))
        finally:
            checkpoint.numpy.savez = real
        leftovers = [p.name for p in path.iterdir() if p.name != "c.npz"]
        return kept(target, before) or ((LOST, f"left {leftovers}") if leftovers else verdict)
    yield Probe("api", "checkpoint.save on a full disk keeps the old file", full_disk)

    def load_refused(make, naming=None):
        return lambda path: refused(lambda: checkpoint.load(make(path)), naming)
    damaged = shared.charloop.read_bytes()
    for name, make in [
            ("a FIFO", lambda p: fifo(p / "f.npz")), ("a directory", lambda p: p), ("/dev/zero", lambda p: "/dev/zero"),
            ("an empty file", lambda p: made(p / "e.npz", b"")),
            ("half a file", lambda p: made(p / "h.npz", damaged[:len(damaged) // 2])),
            ("a pickle", lambda p: made(p / "p.npz", b"\x80\x04K\x01.")),
            ("a missing file", lambda p: p / "missing.npz"),
            ("flipped bytes", lambda p: made(p / "x.npz", damaged[:200] + bytes(b ^ 0xFF for b in damaged[200:260])
                                            + damaged[260:]))]:
        yield Probe("api", f"checkpoint.load of {name}", load_refused(make))


def _forward_backward_probes():
    rnn = minirnn.GRU(3, 4, num_layers=2)
    x = numpy.zeros((5, 2, 3), numpy.float32)
    cases = [
        ("x of the wrong size", lambda: rnn(numpy.zeros((5, 2, 4), numpy.float32)), "x"),
        ("x of integers", lambda: rnn(numpy.zeros((5, 2, 3), int)), "x"),
        ("x as a list", lambda: rnn([[[0.0] * 3]]), "x"),
        ("x of rank 4", lambda: rnn(numpy.zeros((1, 5, 2, 3))), "x"),
        ("h0 of the wrong shape", lambda: rnn(x, numpy.zeros((1, 2, 4))), "h0"),
        ("lengths of 0", lambda: rnn(x, lengths=[0, 5]), "lengths"),
        ("lengths past T", lambda: rnn(x, lengths=[6, 5]), "lengths"),
        ("lengths of floats", lambda: rnn(x, lengths=[1.5, 2.0]), "lengths"),
        ("too few lengths", lambda: rnn(x, lengths=[5]), "lengths"),
        ("a backward before any forward", lambda: minirnn.GRU(3, 4).backward(numpy.zeros((5, 2, 4))), "forward"),
        ("a second backward", lambda: _twice(minirnn.LSTM(3, 4), x), "forward"),
        ("a backward after a no_grad forward", lambda: _after_no_grad(minirnn.RNN(3, 4), x), "forward"),
        ("d_output of the wrong shape", lambda: _forward_then(minirnn.RNN(3, 4), x, numpy.zeros((4, 2, 4))), "d_output"),
        ("ids outside the vocabulary", lambda: minirnn.Embedding(5, 2)(numpy.array([[7]])), "ids"),
        ("negative ids", lambda: minirnn.Embedding(5, 2)(numpy.array([[-1]])), "ids"),
        ("float ids", lambda: minirnn.Embedding(5, 2)(numpy.array([[1.0]])), "ids"),
        ("a cell's x of another width", lambda: minirnn.LSTMCell(3, 4)(numpy.zeros((2, 5))), "x"),
        ("an LSTM state that is not a pair", lambda: minirnn.LSTM(3, 4)(x, numpy.zeros((1, 2, 4))), "h0"),
        ("cross_entropy of mismatched targets", lambda: minirnn.cross_entropy(numpy.zeros((2, 5)), numpy.array([1])),
         "target"),
        ("cross_entropy of targets outside", lambda: minirnn.cross_entropy(numpy.zeros((2, 5)), numpy.array([1, 9])),
         "target"),
        ("nll_loss of logits of rank 0", lambda: minirnn.nll_loss(numpy.float64(1.0), numpy.array(1)), None),
        ("CharRNN ids outside the vocabulary", lambda: CharRNN(5, 3, 4)(numpy.array([[9]])), "ids"),
        ("CharLoopModel ids of rank 1", lambda: CharLoopModel(5, 3, 4)(numpy.array([1, 2])), "cs"),
    ]
    for name, call, naming in cases:
        yield Probe("api", name, lambda path, c=call, n=naming: refused(c, n))


def _twice(model, x):
    out, _ = model(x)
    model.backward(numpy.ones_like(out))
    return model.backward(numpy.ones_like(out))


def _after_no_grad(model, x):
    with minirnn.no_grad():
        out, _ = model(x)
    return model.backward(numpy.ones_like(out))


def _forward_then(model, x, d_output):
    model(x)
    return model.backward(d_output)


def small_model():
    """A small model for an optimizer to take."""
    return minirnn.Linear(3, 2, seed=0)


def _optimizer_probes():
    cases = [("SGD lr=0", lambda: optim.SGD(small_model(), lr=0), "lr"),
             ("SGD lr=nan", lambda: optim.SGD(small_model(), lr=float("nan")), "lr"),
             ("SGD momentum=1", lambda: optim.SGD(small_model(), momentum=1.0), "momentum"),
             ("Adam betas=(1, 0.9)", lambda: optim.Adam(small_model(), betas=(1.0, 0.9)), "betas"),
             ("Adam eps=0", lambda: optim.Adam(small_model(), eps=0), "eps"),
             ("AdamW weight_decay=-1", lambda: optim.AdamW(small_model(), weight_decay=-1), "weight_decay"),
             ("Adagrad lr=inf", lambda: optim.Adagrad(small_model(), lr=float("inf")), "lr"),
             ("clip_grad_norm max_norm=0", lambda: optim.clip_grad_norm({"a": numpy.ones(2)}, 0), "max_norm"),
             ("clip_grad_norm max_norm=nan", lambda: optim.clip_grad_norm({"a": numpy.ones(2)}, float("nan")),
              "max_norm"),
             ("Adam state of another optimizer", lambda: optim.Adam(small_model()).load_state_dict(
                 *optim.SGD(small_model(), momentum=0.9).state_dict()), None)]
    for name, call, naming in cases:
        yield Probe("api", name, lambda path, c=call, n=naming: refused(c, n))
    # clip_grad_norm with a list or integer gradients: a clear error or the right norm, never a traceback.
    for name, grads in (("a list", [numpy.array([3.0, 4.0])]), ("integer gradients", {"a": numpy.array([3, 4])})):
        yield Probe("api", f"clip_grad_norm with {name}",
                    lambda path, g=grads: _refused_or(lambda: optim.clip_grad_norm(g, 1.0),
                                                      lambda norm: None if norm == 5.0 else f"norm {norm}",
                                                      naming="'a'" if isinstance(g, dict) else "grads"))


def _refused_or(call, check, naming: str | None = None) -> tuple:
    """OK when call() raises a documented error (naming ``naming``), or returns what ``check`` accepts."""
    try:
        result = call()
    except DOCUMENTED as err:
        if naming is not None and naming not in str(err):
            return TRACEBACK, f"{type(err).__name__} does not name {naming!r}: {err}"
        return OK, f"{type(err).__name__}: {err}"
    except Exception as err:
        return TRACEBACK, f"{type(err).__name__}: {err}"
    complaint = check(result)
    return (SILENT, complaint) if complaint else (OK, "")


def _data_and_sampling_probes(shared: Shared):
    model, vocab = CharRNN(len(shared.vocab), 3, 4, seed=0), shared.vocab
    cases = [("Vocab('')", lambda p: Vocab(""), "vocab"), ("Vocab(['ab'])", lambda p: Vocab(["ab"]), "vocab"),
             ("Vocab.from_text('')", lambda p: Vocab.from_text(""), "empty"),
             ("read_text of a FIFO", lambda p: read_text(fifo(p / "f")), "regular"),
             ("read_text of a directory", lambda p: read_text(p), "regular"),
             ("read_text of /dev/zero", lambda p: read_text("/dev/zero"), "regular"),
             ("read_text of an empty file", lambda p: read_text(made(p / "e", b"")), "empty"),
             ("read_text of binary bytes", lambda p: read_text(made(p / "b", b"\xff\xfe\x00")), "UTF-8"),
             ("split at 0", lambda p: split(numpy.arange(10), 0), "val_fraction"),
             ("split at 1", lambda p: split(numpy.arange(10), 1), "val_fraction"),
             ("split at nan", lambda p: split(numpy.arange(10), float("nan")), "val_fraction"),
             ("generate at temperature -1", lambda p: generate(model, vocab, "d", 5, -1.0), "temperature"),
             ("generate at temperature nan", lambda p: generate(model, vocab, "d", 5, float("nan")), "temperature"),
             ("generate with top_k 0", lambda p: generate(model, vocab, "d", 5, top_k=0), "top_k"),
             ("generate of length -1", lambda p: generate(model, vocab, "d", -1), "length"),
             ("generate from a prime outside the vocabulary", lambda p: generate(model, vocab, "\u2603", 5), "prime"),
             ("generate with seed -1", lambda p: generate(model, vocab, "d", 5, seed=-1), "seed"),
             ("generate with another vocabulary", lambda p: generate(model, Vocab("ab"), "a", 5), "vocab"),
             ("generate from a GRU", lambda p: generate(minirnn.GRU(3, 4), vocab, "d", 5), "model")]
    for name, call, naming in cases:
        yield Probe("api", name, lambda path, c=call, n=naming: refused(lambda: c(path), n))


def _module_probes():
    def state(**changes):
        model = minirnn.RNN(3, 4)
        values = {**model.state_dict(), **changes}
        return lambda: model.load_state_dict({k: v for k, v in values.items() if v is not None})
    good = minirnn.RNN(3, 4).state_dict()
    cases = [("load_state_dict missing a key", state(bias_hh_l0=None), "bias_hh_l0"),
             ("load_state_dict with an extra key", state(extra=numpy.zeros(1)), "extra"),
             ("load_state_dict of the wrong shape", state(bias_hh_l0=numpy.zeros(5)), "bias_hh_l0"),
             ("load_state_dict with NaN", state(bias_hh_l0=numpy.full(4, numpy.nan)), "bias_hh_l0"),
             ("load_state_dict of objects", state(bias_hh_l0=numpy.array([None] * 4)), "bias_hh_l0"),
             ("load_state_dict of strings", state(bias_hh_l0=numpy.array(["a"] * 4)), "bias_hh_l0"),
             ("load_state_dict of a ragged list", state(bias_hh_l0=[[1], [1, 2]]), "bias_hh_l0"),
             ("load_state_dict of a float64 beyond float32", state(bias_hh_l0=numpy.full(4, 1e300)), "bias_hh_l0"),
             ("load_state_dict of a list", lambda: minirnn.RNN(3, 4).load_state_dict(list(good.items())), "state"),
             ("astype(None)", lambda: minirnn.RNN(3, 4).astype(None), "dtype"),
             ("astype('float16')", lambda: minirnn.RNN(3, 4).astype("float16"), "dtype"),
             ("to('tpu')", lambda: minirnn.RNN(3, 4).to("tpu"), "backend")]
    for name, call, naming in cases:
        yield Probe("api", name, lambda path, c=call, n=naming: refused(c, n))
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        def torch_state(requires_grad):
            model = minirnn.RNN(3, 4)
            tensors = {k: torch.tensor(v, requires_grad=requires_grad) for k, v in model.state_dict().items()}
            return lambda: model.load_state_dict(tensors)
        yield Probe("api", "load_state_dict of torch tensors",             # loaded, or refused naming the key
                    lambda path: _refused_or(torch_state(False), lambda result: None, naming="weight_ih_l0"))
        yield Probe("api", "load_state_dict of torch tensors that require grad",
                    lambda path: _refused_or(torch_state(True), lambda result: None, naming="weight_ih_l0"))

    def copied(how):
        def run(path):
            model = minirnn.LSTM(3, 4, dtype="float64", seed=0)
            x = numpy.random.default_rng(0).standard_normal((5, 2, 3))
            model(x)                                        # a cache: a copy must not carry it, or fail on it
            duplicate = how(model)
            ok = numpy.array_equal(duplicate(x)[0], model(x)[0])
            duplicate.backward(numpy.ones((5, 2, 4)))
            return (OK, "") if ok else (SILENT, "the copy computes something else")
        return lambda path: runs(lambda: run(path), lambda result: result[1] or None)
    import pickle
    yield Probe("api", "deepcopy of a model with a forward's cache", copied(copy.deepcopy))
    yield Probe("api", "pickle of a model with a forward's cache", copied(lambda m: pickle.loads(pickle.dumps(m))))


# -- CLI ----------------------------------------------------------------------------------------------------
def cli_probes(shared: Shared):
    text = str(shared.text)
    tiny = ["--emb", "4", "--hidden", "8", "--batch", "2", "--bptt", "8", "--no-progress"]

    ck = lambda path: shared.copy("charrnn.npz", path)        # noqa: E731

    train_refusals = [(["--out", ""], "--out"), (["--epochs", "0"], "--epochs"), (["--epochs", "nan"], "--epochs"),
                      (["--epochs", "inf"], "--epochs"), (["--lr", "nan"], "--lr"), (["--lr", "-1"], "--lr"),
                      (["--batch", "0"], "--batch"), (["--hidden", "0"], "--hidden"), (["--bptt", "0"], "--bptt"),
                      (["--val-fraction", "1"], "--val-fraction"), (["--val-fraction", "0"], "--val-fraction"),
                      (["--seed", "-1"], "--seed"), (["--clip", "-1"], "--clip"), (["--dropout", "1"], "--dropout"),
                      (["--minutes", "-1"], "--minutes"), (["--eval-every", "0"], "--eval-every"),
                      (["--corpus-bytes", "0"], "--corpus-bytes"), (["--model", "charloop", "--window", "0"], "--window"),
                      (["--momentum", "0.9"], "--momentum"), (["--warmup", "5"], "--warmup"),
                      (["--schedule", "step", "--step-size", "0"], "--step-size"),
                      (["--schedule", "cosine", "--minutes", "1"], "--schedule"), (["--resume"], "no run to resume"),
                      (["--hidden", str(10**7)], "memory")]
    for argv, naming in train_refusals:
        out = [] if "--out" in argv else ["--out", "run"]
        length = [] if {"--epochs", "--minutes", "--schedule"} & set(argv) else ["--epochs", "0.05"]
        yield Probe("cli", f"train {' '.join(argv)}", cli_refuses(["train", "--text", text, *tiny, *length, *out, *argv],
                                                                  naming))
    for name, make in [("a FIFO", lambda p: fifo(p / "t")), ("/dev/zero", lambda p: None),
                       ("a directory", lambda p: None), ("an empty file", lambda p: (p / "t").write_text("")),
                       ("binary bytes", lambda p: (p / "t").write_bytes(b"\xff\xfe\x00\x01"))]:
        given = "/dev/zero" if name == "/dev/zero" else "." if name == "a directory" else "t"
        yield Probe("cli", f"train --text {name}", cli_refuses(["train", "--text", given, *tiny, "--out", "run"],
                                                              setup=make))
    yield Probe("cli", "train --out a FIFO", cli_refuses(["train", "--text", text, *tiny, "--out", "f"],
                                                         setup=lambda p: fifo(p / "f"), watch=("f",)))
    yield Probe("cli", "train --out a file", cli_refuses(["train", "--text", text, *tiny, "--out", "f"],
                                                         setup=lambda p: (p / "f").write_text("mine"), watch=("f",)))
    yield Probe("cli", "train --out a run's directory without --resume",
                cli_refuses(["train", "--text", text, *tiny, "--out", "."],
                            setup=lambda p: (p / "metrics.jsonl").write_text("mine\n"), watch=("metrics.jsonl",)))

    checkpoint_inputs = [("a FIFO", lambda p: fifo(p / "c.npz"), "c.npz"), ("/dev/zero", None, "/dev/zero"),
                         ("a directory", None, "."), ("a pickle", lambda p: (p / "c.npz").write_bytes(b"\x80\x04N."),
                                                      "c.npz"), ("a missing file", None, "c.npz")]
    for name, make, given in checkpoint_inputs:
        yield Probe("cli", f"sample of {name}", cli_refuses(["sample", given], setup=make))
        yield Probe("cli", f"visualize of {name}", cli_refuses(["visualize", given, "--string", "d", "--out", "p.html"],
                                                               setup=make))
        yield Probe("cli", f"gradient-flow --checkpoint {name}",
                    cli_refuses(["gradient-flow", "--checkpoint", given, "--text", text, "--out", "f.png"], setup=make))
        yield Probe("cli", f"explain of {name}", cli_refuses(["explain", given], setup=make))
    for argv, naming in [(["--length", "-1"], "--length"), (["--temperature", "nan"], "--temperature"),
                         (["--temperature", "-1"], "--temperature"), (["--top-k", "0"], "--top-k"),
                         (["--prime", "\u2603"], "--prime"), (["--seed", "-1"], "--seed")]:
        yield Probe("cli", f"sample {' '.join(argv)}", cli_refuses(["sample", "charrnn.npz", *argv], naming, setup=ck))
    for argv, naming in [(["lstm", "--steps", "0"], "--steps"), (["lstm", "--batch", "0"], "--batch"),
                         (["lstm", "--show-steps", "0"], "--show-steps"), (["lstm", "--hidden-size", "0"], "--hidden-size"),
                         (["rnn", "--emb", "5"], "--emb"), (["charrnn.npz", "--hidden-size", "4"], "--hidden-size"),
                         (["lstm", "--hidden-size", str(10**12)], "memory"), (["rnn", "--threads", "0"], "--threads"),
                         (["rnn", "--threads", "x"], "--threads")]:
        yield Probe("cli", f"explain {' '.join(argv)}", cli_refuses(["explain", *argv], naming, setup=ck))
    for argv, naming in [(["--steps", "0"], "--steps"), (["--batch", "0"], "--batch"), (["--show-steps", "1"], "show"),
                         (["--hidden-size", "0"], "--hidden-size")]:
        yield Probe("cli", f"draw lstm {' '.join(argv)}", cli_refuses(["draw", "lstm", "--out", "figs", *argv], naming))
    for argv, naming in [(["--hidden", "8"], "--hidden"), (["--train-steps", "5"], "--train-steps"),
                         (["--steps", "0"], "--steps"), (["--batch", "0"], "--batch")]:
        yield Probe("cli", f"gradient-flow --checkpoint {' '.join(argv)}",
                    cli_refuses(["gradient-flow", "--checkpoint", "charrnn.npz", "--text", text, "--out", "f.png",
                                 *argv], naming, setup=ck))
    for argv, naming in [(["--unit", "9999"], "--unit"), (["--units", "0"], "--units"), (["--top", "0"], "--top"),
                         (["--max-chars", "0"], "--max-chars"), (["--string", ""], "--string"),
                         (["--out", "charrnn.npz", "--force"], "CHECKPOINT")]:
        base = ["visualize", "charrnn.npz", "--out", "p.html"] if argv[0] != "--string" else \
            ["visualize", "charrnn.npz", "--out", "p.html"]
        argv = argv if argv[0] == "--string" else ["--string", "def f", *argv]
        yield Probe("cli", f"visualize {' '.join(argv)}", cli_refuses([*base, *argv], naming, setup=ck,
                                                                       watch=("charrnn.npz",)))
    for argv, naming in [(["--cases", "0"], "--cases"), (["--cases", str(10**9)], "--cases"), (["--seed", "-1"], "--seed"),
                         (["--kind", "lstm"], "--kind"), (["--time-limit", "5"], "--time-limit"),
                         (["--cell", "x.py:lstm_step", "--model", "lstm"], "--model"),
                         (["--cell", "x.py:lstm_step", "--time-limit", "0"], "--time-limit")]:
        yield Probe("cli", f"gradcheck {' '.join(argv)}", cli_refuses(["gradcheck", *argv], naming))
    for argv, naming in [(["--rounds", "0"], "--rounds"), (["--repeats", "0"], "--repeats"),
                         (["--threads", "0"], "--threads"), (["--cells", "foo"], "--cells")]:
        yield Probe("cli", f"bench {' '.join(argv)}", cli_refuses(["bench", "--no-torch", *argv], naming))

    yield from _cli_output_probes(shared, ck)
    yield from _cli_stream_probes(shared, tiny)
    yield from _cli_run_directory_probes(shared, tiny)


def _cli_output_probes(shared: Shared, ck):
    """--out and --heatmap at what is not a plain new file: refused (even with --force) or written through."""
    commands = {
        "gradient-flow": lambda out: ["gradient-flow", "--checkpoint", "charrnn.npz", "--text", str(shared.text),
                                      "--steps", "4", "--batch", "2", "--out", out],
        "visualize": lambda out: ["visualize", "charrnn.npz", "--string", "def f", "--out", out],
        "visualize --heatmap": lambda out: ["visualize", "charrnn.npz", "--string", "def f", "--out", "p.html",
                                            "--heatmap", out],
    }
    for name, argv in commands.items():
        for force in ([], ["--force"]):
            yield Probe("cli", f"{name} --out a FIFO {' '.join(force)}",
                        cli_refuses([*argv("f"), *force], "f", setup=lambda p: ck(p) and fifo(p / "f"), watch=("f",)))
            yield Probe("cli", f"{name} --out a link to a FIFO {' '.join(force)}",
                        cli_refuses([*argv("full"), *force], "full",
                                    setup=lambda p: ck(p) and link(p / "full", fifo(p / "pipe")),
                                    watch=("full", "pipe")))
            yield Probe("cli", f"{name} --out a directory {' '.join(force)}",
                        cli_refuses([*argv("d"), *force], "d", setup=lambda p: ck(p) and (p / "d").mkdir(),
                                    watch=("d",)))
        yield Probe("cli", f"{name} --out an existing file without --force",
                    cli_refuses(argv("f.png"), "--force", setup=lambda p: ck(p) and (p / "f.png").write_text("mine"),
                                watch=("f.png",)))

        def written_through(path, argv=argv, out="f.html" if name == "visualize" else "f.png"):
            ck(path)
            (path / "elsewhere").mkdir()
            target = path / "elsewhere" / out
            target.write_text("old")
            target.chmod(0o600)
            link(path / out, target)
            verdict = judged(*command([*argv(out), "--force"], path), expect=0)
            if verdict[0] != OK:
                return verdict
            if not (path / out).is_symlink():
                return REPLACED, "the link was replaced by a file"
            if stat.S_IMODE(target.stat().st_mode) != 0o600:
                return REPLACED, f"mode 600 became {stat.S_IMODE(target.stat().st_mode):o}"
            if target.read_text(errors="replace") == "old":
                return SILENT, "nothing was written through the link"
            return verdict
        yield Probe("cli", f"{name} --out a link to a 0600 file --force", written_through)

    def draw_into(setup, expect, naming=None, watch=()):
        def run(path):
            setup(path)
            before = {name: state_of(path / "figs" / name) for name in watch}
            status, out, err, escaped = command(["draw", "rnn", "--figure", "cell", "--format", "svg", "--out", "figs",
                                                 "--force"], path)
            verdict = judged(status, out, err, escaped, expect=expect)
            for name in watch:
                changed = kept(path / "figs" / name, before[name], contents_too=expect != 0)
                if changed:
                    return changed
            return verdict
        return run
    yield Probe("cli", "draw onto a FIFO named cell.svg --force",
                draw_into(lambda p: (p / "figs").mkdir() or fifo(p / "figs" / "cell.svg"), 2, watch=("cell.svg",)))
    def link_named_cell(path):
        (path / "figs").mkdir()
        (path / "mine.svg").write_text("old")
        link(path / "figs" / "cell.svg", path / "mine.svg")
    yield Probe("cli", "draw through a link named cell.svg --force", draw_into(link_named_cell, 0, watch=("cell.svg",)))
    yield Probe("cli", "draw --out a FIFO", cli_refuses(["draw", "rnn", "--out", "f"], "f", setup=lambda p: fifo(p / "f"),
                                                       watch=("f",)))
    yield Probe("cli", "draw --out a file", cli_refuses(["draw", "rnn", "--out", "f"], "f",
                                                       setup=lambda p: (p / "f").write_text("mine"), watch=("f",)))

    def draws_long(steps):
        def run(path):
            started = time.monotonic()
            verdict = judged(*command(["draw", "charrnn", "--steps", str(steps), "--out", "figs", "--format", "svg"],
                                      path, seconds=120), expect=0)
            seconds = time.monotonic() - started
            return verdict if verdict[0] != OK else (OK, f"{seconds:.1f} s")
        return run
    yield Probe("cli", "draw --steps 5000 finishes", draws_long(5000))
    yield Probe("cli", "gradient-flow --steps 2000 finishes",
                lambda path: ck(path) and judged(*command(
                    ["gradient-flow", "--checkpoint", "charrnn.npz", "--text", str(shared.text), "--steps", "3000",
                     "--batch", "2", "--out", "f.png"], path, seconds=120), expect=0))


COMMANDS = {   # a quick run of each command, for the closed-stream probes: argv -> (status with >&-, with 2>&-)
    "sample": (["sample", "charrnn.npz", "--length", "5"], (74, 0)),
    "explain": (["explain", "gru", "--brief"], (74, 0)),
    "gradcheck": (["gradcheck", "--model", "rnncell", "--cases", "1"], (74, 0)),
    "gradcheck --cell": (["gradcheck", "--cell", "cell.py:lstm_step"], (74, 0)),
    "draw": (["draw", "rnn", "--figure", "cell", "--format", "svg", "--out", "figs"], (74, 0)),
    "visualize": (["visualize", "charrnn.npz", "--string", "def f", "--out", "p.html"], (74, 0)),
    "gradient-flow": (["gradient-flow", "--checkpoint", "charrnn.npz", "--steps", "4", "--batch", "2", "--out",
                       "f.png"], (0, 74)),
    "bench": (["bench", "--cells", "foo"], (2, 2)),
    "an error": (["explain", "gru", "--steps", "0"], (2, 2)),
}


def _cli_stream_probes(shared: Shared, tiny):
    import inspect
    import minirnn.reference.lstm
    cell_source = inspect.getsource(minirnn.reference.lstm).replace("from .", "from minirnn.reference.")

    def closed(argv, expect, redirection):
        def run(path):
            shared.copy("charrnn.npz", path)
            (path / "cell.py").write_text(cell_source)
            full = [*argv, "--text", str(shared.text)] if argv[0] == "gradient-flow" else argv
            return judged(*program(full, path, redirection), expect=expect, one_line=False)
        return run
    for name, (argv, statuses) in COMMANDS.items():
        for redirection, status in zip((">&-", "2>&-"), statuses):
            yield Probe("cli", f"{name} {redirection}", closed(argv, status, redirection))
    yield Probe("cli", "explain <&- >&- 2>&-", closed(["explain", "rnn"], 74, "<&- >&- 2>&-"))

    def train_closed(redirection):
        def run(path):
            status, out, err = program(["train", "--text", shared.text, *tiny, "--epochs", "0.1", "--out", "run"], path,
                                       redirection)
            verdict = judged(status, out, err, expect=74, one_line=False)
            run_dir = path / "run"
            polluted = [p.name for p in run_dir.iterdir() if p.is_file() and
                        (b"minirnn train" in p.read_bytes() or b"step " in p.read_bytes()[:64])]
            if polluted:
                return LOST, f"log lines in {polluted}"
            return verdict
        return run
    yield Probe("cli", "train >&-", train_closed(">&-"))
    yield Probe("cli", "train 2>&-", train_closed("2>&-"))
    yield Probe("cli", "train >&- 2>&-", train_closed(">&- 2>&-"))


def _reference_run(shared: Shared, tiny, path: Path, out="ref", epochs="0.3"):
    return program(["train", "--text", shared.text, *tiny, "--epochs", epochs, "--eval-every", "3", "--out", out],
                   path)


def _metrics(run: Path) -> list:
    return [[r[k] for k in ("step", "train_loss", "val_loss")] for r in rundir.read_metrics(run / rundir.METRICS).records]


def _cli_run_directory_probes(shared: Shared, tiny):
    train = ["train", "--text", str(shared.text), *tiny, "--eval-every", "3"]

    def two_at_once(path):
        first, second = (program([*train, "--epochs", "0.3", "--out", "run"], path, wait=False) for _ in range(2))
        results = [finished(first), finished(second)]
        statuses = sorted(r[0] for r in results)
        if statuses != [0, 2]:
            return SILENT, f"exit statuses {statuses}, expected one run (0) and one refusal (2)"
        refusal = next(r for r in results if r[0] == 2)
        return (OK, "") if "in use by another minirnn train" in refusal[2] else (SILENT, refusal[2][-200:])
    yield Probe("cli", "two trains into one --out at once", two_at_once)

    def killed_then_resumed(signal_number, delay):
        def run(path):
            reference = _reference_run(shared, tiny, path)
            if reference[0] != 0:
                return TRACEBACK, f"the reference run failed: {reference[2][-200:]}"
            process = program([*train, "--epochs", "0.3", "--out", "run"], path, wait=False)
            time.sleep(delay)
            try:
                os.killpg(process.pid, signal_number)
            except ProcessLookupError:
                pass
            finished(process)
            status, out, err = program([*train[:1], "--resume", "--out", "run"], path) \
                if (path / "run" / rundir.LAST).exists() else program([*train, "--epochs", "0.3", "--out", "run"], path)
            verdict = judged(status, out, err, expect=0)
            if verdict[0] != OK:
                return verdict
            if _metrics(path / "run") != _metrics(path / "ref"):
                return LOST, "the resumed run's metrics differ from an uninterrupted run's"
            return OK, ""
        return run
    for number, delay in ((signal.SIGKILL, 1.5), (signal.SIGKILL, 2.5), (signal.SIGINT, 2.0), (signal.SIGTERM, 2.0),
                          (signal.SIGHUP, 2.0)):
        yield Probe("cli", f"train stopped by {signal.Signals(number).name} after {delay} s, then --resume",
                    killed_then_resumed(number, delay))

    def started(path, epochs="3"):
        """A run that goes on for a while, once it has committed its first state."""
        process = program([*train, "--epochs", epochs, "--out", "run"], path, wait=False)
        deadline = time.monotonic() + 60
        while not (path / "run" / rundir.LAST).exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        return process

    def second_writer_after_deleting_dotfiles(path):
        first = started(path)
        try:
            for leftover in (path / "run").glob(".*"):
                leftover.unlink()
            status, out, err = program([*train, "--epochs", "0.1", "--out", "run"], path)
            if status == 2 and "in use by another minirnn train" in err:
                return OK, ""
            return SILENT, f"a second writer got in (exit {status}): {err[-200:]}"
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            finished(first)
    yield Probe("cli", "a second train after deleting the run's dotfiles", second_writer_after_deleting_dotfiles)

    def directory_replaced(path):
        first = started(path)
        (path / "run").rename(path / "old run")           # as deleted, at once: the run's files go with it
        (path / "run").mkdir()
        status, out, err = finished(first)
        if status == 2 and not list((path / "run").iterdir()):          # stopped, nothing in the new directory
            return OK, err.strip().splitlines()[-1]
        return SILENT, f"exit {status}; the new directory holds {[p.name for p in (path / 'run').iterdir()]}"
    yield Probe("cli", "the run directory deleted and made again under a run", directory_replaced)

    def damaged_metrics(path):
        reference = _reference_run(shared, tiny, path, out="run", epochs="0.15")
        if reference[0] != 0:
            return TRACEBACK, reference[2][-200:]
        damage = b'{"step": "x"}\nnot json\n{"step": 3, "torn'
        with open(path / "run" / rundir.METRICS, "ab") as file:
            file.write(damage)
        verdict = judged(*program([*train[:1], "--resume", "--out", "run", "--epochs", "0.3"], path), expect=0)
        rejected = path / "run" / rundir.REJECTED
        if not rejected.exists() or rejected.read_bytes() != damage + b"\n":
            return LOST, "the damaged lines were not set aside"
        return verdict
    yield Probe("cli", "damaged metrics lines at --resume", damaged_metrics)

    def missing_plot(path):
        reference = _reference_run(shared, tiny, path, out="run", epochs="0.15")
        if reference[0] != 0:
            return TRACEBACK, reference[2][-200:]
        (path / "run" / rundir.PLOT).unlink()
        verdict = judged(*program(["train", "--resume", "--out", "run"], path), expect=0)
        return verdict if (path / "run" / rundir.PLOT).exists() else (SILENT, "loss.png was not drawn")
    yield Probe("cli", "a bare --resume after a kill before loss.png", missing_plot)

    def special_in_run(name, make, expect, written_through=False):
        """A finished run whose ``name`` is made something else by make(path of name, probe's path), resumed:
        what it was made stays so (and a link's file is written through when ``written_through``)."""
        def run(path):
            reference = _reference_run(shared, tiny, path, out="run", epochs="0.15")
            if reference[0] != 0:
                return TRACEBACK, reference[2][-200:]
            make(path / "run" / name, path)
            before, target = state_of(path / "run" / name), state_of(path / "elsewhere" / name)
            verdict = judged(*program(["train", "--resume", "--out", "run", "--epochs", "0.3"], path, seconds=90),
                             expect=expect, one_line=False)
            changed = kept(path / "run" / name, before, contents_too=False)
            if changed:
                return changed
            if written_through and verdict[0] == OK and state_of(path / "elsewhere" / name) == target:
                return SILENT, "nothing was written through the link"
            return verdict
        return run

    def fifo_instead(target, path):
        target.unlink()
        fifo(target)

    def link_instead(target, path):
        (path / "elsewhere").mkdir()
        moved = path / "elsewhere" / target.name
        target.rename(moved)
        link(target, moved)

    def mode_600(target, path):
        target.chmod(0o600)
    for name in (rundir.METRICS, rundir.LAST, rundir.BEST, rundir.PLOT):
        # best.npz: refused when the run would write it, kept as it is when it would not
        yield Probe("cli", f"--resume with a FIFO for {name}",
                    special_in_run(name, fifo_instead, (0, 2) if name == rundir.BEST else 2))

    for name in (rundir.METRICS, rundir.LAST, rundir.BEST):        # best.npz is written only if a loss improves
        yield Probe("cli", f"--resume with {name} a link to another directory",
                    special_in_run(name, link_instead, 0, written_through=name != rundir.BEST))
        yield Probe("cli", f"--resume with {name} mode 600", special_in_run(name, mode_600, 0))


# -- threads --------------------------------------------------------------------------------------------------
THREAD_MODELS = {
    "RNN": lambda: minirnn.RNN(3, 4, num_layers=2, dtype="float64", seed=0),
    "LSTM": lambda: minirnn.LSTM(3, 4, bidirectional=True, dtype="float64", seed=0),
    "GRU": lambda: minirnn.GRU(3, 4, dtype="float64", seed=0),
    "RNNCell": lambda: minirnn.RNNCell(3, 4, dtype="float64", seed=0),
    "LSTMCell": lambda: minirnn.LSTMCell(3, 4, dtype="float64", seed=0),
    "GRUCell": lambda: minirnn.GRUCell(3, 4, dtype="float64", seed=0),
    "Linear": lambda: minirnn.Linear(3, 4, dtype="float64", seed=0),
    "Embedding": lambda: minirnn.Embedding(5, 4, dtype="float64", seed=0),
    "CharRNN": lambda: CharRNN(5, emb=3, hidden=4, cell="lstm", dtype="float64", seed=0),
    "CharLoopModel": lambda: CharLoopModel(5, 3, 4, dtype="float64", seed=0),
}


def _input(model, steps: int, rng):
    if isinstance(model, (CharRNN, CharLoopModel, minirnn.Embedding)):
        return rng.integers(0, 5, (steps, 2))
    if isinstance(model, (minirnn.Linear, minirnn.RNNCell, minirnn.LSTMCell, minirnn.GRUCell)):
        return rng.standard_normal((steps, 3))
    return rng.standard_normal((steps, 2, 3))


def _forward(model, x):
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def _backward(model, out):
    d_out = numpy.ones_like(out)
    return model.backward((d_out, None) if isinstance(model, minirnn.LSTMCell) else d_out)


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return (a is None and b is None) or (a is not None and b is not None and numpy.array_equal(a, b))


def _in_threads(*targets, seconds: float = 60) -> list:
    """Run each target in a thread; the exceptions they raised (a hang is one too)."""
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as err:
            errors.append(err)
    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds)
        if thread.is_alive():
            errors.append(Hang("a thread did not finish"))
    return errors


def _thread_verdict(errors, wrong: str | None) -> tuple:
    if any(isinstance(e, Hang) for e in errors):
        return SILENT, "a thread hung"
    unexpected = [e for e in errors if not isinstance(e, DOCUMENTED)]
    if unexpected:
        return TRACEBACK, f"{type(unexpected[0]).__name__}: {unexpected[0]}"
    if errors:
        return SILENT, f"{type(errors[0]).__name__}: {errors[0]}"
    return (SILENT, wrong) if wrong else (OK, "")


def thread_probes(shared: Shared):
    for name, make in THREAD_MODELS.items():
        for first_steps, second_steps in ((5, 7), (7, 5)):
            yield Probe("threads", f"{name}: A forward ({first_steps}), B forward ({second_steps}), A backward, "
                        "B backward", lambda path, m=make, a=first_steps, b=second_steps: _interleaved(m, a, b))
        yield Probe("threads", f"{name}: 4 threads x 20 forward-backwards", lambda path, m=make: _many(m))

    def without_forward(path):
        model = minirnn.GRU(3, 4)
        model(numpy.zeros((5, 2, 3), numpy.float32))
        caught = []

        def other():
            try:
                model.backward(numpy.ones((5, 2, 4), numpy.float32))
            except RuntimeError as err:
                caught.append(err)
        errors = _in_threads(other)
        if errors:
            return _thread_verdict(errors, None)
        if not caught or "forward first" not in str(caught[0]):
            return SILENT, "a backward in a thread without a forward did not say so"
        return runs(lambda: model.backward(numpy.ones((5, 2, 4), numpy.float32)))
    yield Probe("threads", "a backward in a thread that ran no forward", without_forward)

    def evaluation_between(path):
        model = minirnn.LSTM(3, 4, dtype="float64", seed=0)
        x = numpy.random.default_rng(0).standard_normal((6, 2, 3))
        alone = copy.deepcopy(model)
        expected = _backward(alone, _forward(alone, x))
        results = {}
        forwarded, evaluated = threading.Event(), threading.Event()

        def trainer():
            out = _forward(model, x)
            forwarded.set()
            evaluated.wait(30)
            results["train"] = _backward(model, out)

        def evaluator():
            forwarded.wait(30)
            with minirnn.no_grad():
                for _ in range(5):
                    model(numpy.zeros((9, 2, 3)))
            evaluated.set()
        errors = _in_threads(trainer, evaluator)
        return _thread_verdict(errors, None if _same(results.get("train"), expected) else "the backward changed")
    yield Probe("threads", "no_grad evaluations in B between A's forward and backward", evaluation_between)

    def saves_at_once(path):
        model = CharRNN(5, 3, 4, seed=0)
        target = path / "c.npz"
        errors = _in_threads(*[lambda: [checkpoint.save(target, model) for _ in range(5)]] * 3)
        verdict = _thread_verdict(errors, None)
        if verdict[0] != OK:
            return verdict
        loaded = checkpoint.load(target).build_model()
        same = all(numpy.array_equal(loaded.params[k], v) for k, v in model.params.items())
        leftovers = [p.name for p in path.iterdir() if p.name != "c.npz"]
        return (OK, "") if same and not leftovers else (LOST, f"leftovers {leftovers}, same {same}")
    yield Probe("threads", "three threads saving one model to one path", saves_at_once)

    def astype_between(path):
        model = minirnn.GRU(3, 4, seed=0)
        out = _forward(model, numpy.zeros((5, 2, 3), numpy.float32))
        errors = _in_threads(lambda: model.astype("float64"))
        if errors:
            return _thread_verdict(errors, None)
        return refused(lambda: _backward(model, out), "forward")
    yield Probe("threads", "astype in B between A's forward and backward", astype_between)


def _interleaved(make, first_steps: int, second_steps: int) -> tuple:
    model, rng = make(), numpy.random.default_rng(0)
    x_a, x_b = _input(model, first_steps, rng), _input(model, second_steps, rng)
    alone = copy.deepcopy(model)
    alone.zero_grad()
    expected = {}
    for key, x in (("a", x_a), ("b", x_b)):
        out = _forward(alone, x)
        expected[key] = out, _backward(alone, out)
    model.zero_grad()
    a_forwarded, b_forwarded, a_done = threading.Event(), threading.Event(), threading.Event()
    results = {}

    def thread_a():
        try:
            out = _forward(model, x_a)
            a_forwarded.set()
            b_forwarded.wait(30)
            results["a"] = out, _backward(model, out)
        finally:
            a_forwarded.set()
            a_done.set()

    def thread_b():
        try:
            a_forwarded.wait(30)
            out = _forward(model, x_b)
            b_forwarded.set()
            a_done.wait(30)
            results["b"] = out, _backward(model, out)
        finally:
            b_forwarded.set()
    errors = _in_threads(thread_a, thread_b)
    wrong = [key for key in "ab" if key not in results or not (_same(results[key][0], expected[key][0])
                                                               and _same(results[key][1], expected[key][1]))]
    wrong_grads = [k for k in model.grads if not numpy.array_equal(model.grads[k], alone.grads[k])]
    return _thread_verdict(errors, f"thread {wrong} got another's answer" if wrong else
                           f"grads {wrong_grads[:2]} are not the sum" if wrong_grads else None)


def _many(make) -> tuple:
    model, rng = make(), numpy.random.default_rng(1)
    inputs = [_input(model, 6, rng) for _ in range(4)]
    alone = copy.deepcopy(model)
    alone.zero_grad()
    expected = []
    for x in inputs:
        out = _forward(alone, x)
        expected.append((out, _backward(alone, out)))
    alone.zero_grad()
    for x in inputs:
        for _ in range(20):
            _backward(alone, _forward(alone, x))
    model.zero_grad()
    wrong = []

    def run(x, want):
        for _ in range(20):
            out = _forward(model, x)
            got = _backward(model, out)
            if not (_same(out, want[0]) and _same(got, want[1])):
                wrong.append(1)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        errors = _in_threads(*[lambda x=x, want=want: run(x, want) for x, want in zip(inputs, expected)])
    finally:
        sys.setswitchinterval(switch)
    summed = all(numpy.allclose(model.grads[k], alone.grads[k], rtol=1e-10, atol=1e-12) for k in model.grads)
    return _thread_verdict(errors, f"{len(wrong)} backwards answered another thread" if wrong else
                           None if summed else "the gradients do not add up")


# -- gradcheck --cell ---------------------------------------------------------------------------------------------
def cell_probes(shared: Shared):
    import inspect
    import minirnn.reference.lstm
    good = inspect.getsource(minirnn.reference.lstm).replace("from .", "from minirnn.reference.")
    right_f = "da_f = df * f * (1 - f)"
    in_step = lambda code: good.replace(right_f, right_f + "\n    " + code.replace("\n", "\n    "))   # noqa: E731
    at_import = lambda code: good + "\n" + code + "\n"                                             # noqa: E731
    cell = textwrap.dedent('''
        import dataclasses
        from minirnn.gates import LSTM_GATE_MATH
        MY_LSTM = dataclasses.replace(LSTM_GATE_MATH, name="lstm")
        THREE = dataclasses.replace(LSTM_GATE_MATH, gates=("i", "f", "g"))
    ''')
    limit = ["--time-limit", "4"]
    cases = [   # (name, file's source or None, spec, extra flags, the statuses that are right)
        ("a right step pair", good, "cell.py:lstm_step", [], 0),
        ("a forget gate without (1 - f)", good.replace(right_f, "da_f = df * f"), "cell.py:lstm_step", [], 1),
        ("the gate math of a cell", cell, "cell.py:MY_LSTM", [], 0),
        ("the gate math of an LSTM with 3 gates", cell, "cell.py:THREE", [], 2),
        ("a syntax error", good + "\ndef broken(:\n", "cell.py:lstm_step", [], 2),
        ("an import error", at_import("import no_such_module"), "cell.py:lstm_step", [], 2),
        ("an endless loop at import", at_import("while True:\n    pass"), "cell.py:lstm_step", limit, 2),
        ("an endless loop in the step", in_step("while True:\n    pass"), "cell.py:lstm_step", limit, 2),
        ("an endless loop in the forward", good.replace("    h_prev, c_prev = state", "    h_prev, c_prev = state\n"
                                                        "    while True:\n        pass"), "cell.py:lstm_step", limit, 2),
        ("a sleep in the step", in_step("import time\ntime.sleep(60)"), "cell.py:lstm_step", limit, 2),
        ("os._exit(0) at import", at_import("import os\nos._exit(0)"), "cell.py:lstm_step", [], 2),
        ("os._exit(0) in the step", in_step("import os\nos._exit(0)"), "cell.py:lstm_step", [], 2),
        ("os._exit(3) in the step", in_step("import os\nos._exit(3)"), "cell.py:lstm_step", [], 2),
        ("sys.exit(0) at import", at_import("import sys\nsys.exit(0)"), "cell.py:lstm_step", [], 2),
        ("sys.exit(0) in the step", in_step("import sys\nsys.exit(0)"), "cell.py:lstm_step", [], 2),
        ("SIGKILL of itself in the step", in_step("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
         "cell.py:lstm_step", [], 2),
        ("SIGSEGV of itself in the step", in_step("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
         "cell.py:lstm_step", [], 2),
        ("KeyboardInterrupt raised in the step", in_step("raise KeyboardInterrupt"), "cell.py:lstm_step", [], 2),
        ("a RecursionError in the step", in_step("def f(): return f()\nf()"), "cell.py:lstm_step", [], 2),
        ("a MemoryError in the step", in_step("raise MemoryError"), "cell.py:lstm_step", [], 2),
        ("a backward returning None", good.replace("    return dx, (dh_prev, dc_prev), grads", "    return None"),
         "cell.py:lstm_step", [], 2),
        ("gradients of NaN", good.replace("    return dx, (dh_prev, dc_prev), grads",
                                          "    return dx * float('nan'), (dh_prev, dc_prev), grads"),
         "cell.py:lstm_step", [], 1),
        ("a megabyte printed in the step", in_step("print('x' * 2**20)"), "cell.py:lstm_step", [], 0),
        ("stdout closed in the step", in_step("import os\ntry:\n    os.close(1)\nexcept OSError:\n    pass"),
         "cell.py:lstm_step", [], 0),
        ("a thread that never ends", at_import("import threading, time\nthreading.Thread(target=lambda: "
                                               "time.sleep(3600)).start()"), "cell.py:lstm_step", limit, 0),
        ("a child process left running", in_step("import subprocess\nsubprocess.Popen(['sleep', '3600'])"),
         "cell.py:lstm_step", limit, 0),
        ("the file deleting itself", at_import("import os\nos.unlink(__file__)"), "cell.py:lstm_step", [], 0),
        ("a missing file", None, "missing.py:lstm_step", [], 2),
        ("a FIFO named .py", "FIFO", "cell.py:lstm_step", [], 2),
        ("a directory named .py", "DIRECTORY", "cell.py:lstm_step", [], 2),
        ("a link to the right file", "LINK", "link.py:lstm_step", [], 0),
        ("a file named numpy.py", good, "numpy.py:lstm_step", [], 0),
        ("a spec without a colon", good, "cell.py", [], 2),
        ("a name that is not an identifier", good, "cell.py:lstm-step", [], 2),
        ("a name of a forward alone", good, "cell.py:lstm_step_forward", [], 2),
        ("a name that is a class", good + "\nclass thing:\n    pass\n", "cell.py:thing", [], 2),
        ("a kind that contradicts the name", good, "cell.py:lstm_step", ["--kind", "gru"], 2),
        ("--time-limit nan", good, "cell.py:lstm_step", ["--time-limit", "nan"], 2),
        ("--time-limit -1", good, "cell.py:lstm_step", ["--time-limit", "-1"], 2),
        ("a path with spaces", good, "my cell.py:lstm_step", [], 0),
        ("a step that changes its inputs in place", good.replace("    h_prev, c_prev = state",
                                                                 "    h_prev, c_prev = state\n    x *= 2"),
         "cell.py:lstm_step", [], (0, 1)),
    ]
    for name, source, spec, extra, expect in cases:
        yield Probe("cell", name, lambda path, s=source, sp=spec, e=extra, x=expect: _cell_run(path, good, s, sp, e, x))


def _cell_run(path: Path, good: str, source, spec: str, extra, expect) -> tuple:
    file_name = spec.rpartition(":")[0] if ":" in spec else spec
    if source == "FIFO":
        fifo(path / file_name)
    elif source == "DIRECTORY":
        (path / file_name).mkdir()
    elif source == "LINK":
        (path / "cell.py").write_text(good)
        link(path / file_name, path / "cell.py")
    elif source is not None:
        (path / file_name).write_text(source)
    started = time.monotonic()
    status, out, err = program(["gradcheck", "--cell", spec, *extra], path, seconds=60)
    verdict = judged(status, out, err, expect=expect, one_line=False)
    if verdict[0] == OK and status == 2 and err.count("minirnn: error:") != 1:
        return TRACEBACK, f"no one-line error: {err[-200:]}"
    if verdict[0] == OK and status in (0, 1) and "Cell check of" not in out:
        return SILENT, f"exit {status} without a report"
    if "--time-limit" in extra and time.monotonic() - started > 30:
        return SILENT, "the time limit did not hold"
    return verdict


# -- the audit --------------------------------------------------------------------------------------------------
BUILDERS = {"api": api_probes, "cli": cli_probes, "threads": thread_probes, "cell": cell_probes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surface", action="append", choices=tuple(SURFACES), help="audit only this surface "
                        "(repeatable; default: all four)")
    parser.add_argument("--verbose", action="store_true", help="print every probe, not only those that are not ok")
    args = parser.parse_args(argv)
    counts = {surface: dict.fromkeys(("tried", *KINDS), 0) for surface in args.surface or SURFACES}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="minirnn-audit-") as folder:
        root = Path(folder)
        (root / "shared").mkdir()
        shared = Shared(root / "shared")
        number = 0
        for surface in counts:
            for probe in BUILDERS[surface](shared):
                number += 1
                path = root / f"probe{number}"
                path.mkdir()
                try:
                    with time_limit(PROGRAM_SECONDS + 60):
                        verdict, detail = probe.run(path)
                except Hang as hang:
                    verdict, detail = SILENT, f"hang: {hang}"
                except Exception as err:                    # a probe that fails in a way it did not judge
                    verdict, detail = TRACEBACK, f"{type(err).__name__}: {err}"
                counts[surface]["tried"] += 1
                if verdict != OK:
                    counts[surface][verdict] += 1
                if verdict != OK or args.verbose:
                    print(f"{verdict:<9} {SURFACES[surface]}: {probe.name}: {detail}"[:400], flush=True)
    print(f"\nCounts by surface (tried / traceback / silent misbehaviour / data lost / files replaced), "
          f"{time.monotonic() - started:.0f} s:")
    for surface, count in counts.items():
        print(f"- {SURFACES[surface]} " + " / ".join(str(count[k]) for k in ("tried", *KINDS)))
    return 1 if any(count[k] for count in counts.values() for k in KINDS) else 0


if __name__ == "__main__":
    sys.exit(main())
