"""The ``minirnn`` command: one argparse parser whose subcommands are the other modules of this package.

Every subcommand module (train.py, sample.py, ...) exposes the same two functions:

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int        # the exit status

Each is imported by name when the parser is built; one that is not part of this
installation is left out of the menu rather than breaking the others. Every
subcommand computes, and gets ``--threads N`` here (:func:`add_threads_argument`):
:func:`main` sets that many threads for the BLAS before the command runs, except
for a module that sets ``THREADS_IN_WORKERS = True`` (bench), whose work runs in
processes it starts and hands the count to itself.

:func:`main` is the one place where errors become what the user sees, always one
line on stderr and never a traceback:

    exit 2    a mistake the user can make, or something this machine lacks: ValueError,
              TypeError, OSError, and RuntimeError (minirnn's for a missing CuPy, GPU or
              matplotlib, or a cell check that ended without a report), as ``minirnn: error: ...``; the argument names of the library
              (``top_k``) are given as the flags the user typed (``--top-k``); a wrong
              flag or value, as argparse's ``minirnn CMD: error: ...``; an OSError that
              names a file, as ``FILE: reason`` (without its errno); and sizes too large for
              this machine's memory (MemoryError);
    exit 1    a run stopped by a NaN or Inf (FloatingPointError);
    exit 130  Ctrl-C (KeyboardInterrupt), as ``minirnn: interrupted``;
    exit 141  stdout closed by its reader (``minirnn explain lstm | head -1``), silently, as a
              program killed by SIGPIPE ends;
    exit 74   the command did its work, but stdout or stderr was closed when it started
              (``minirnn sample best.npz >&-``) and what it had to say there was lost
              (EX_IOERR of sysexits.h); any other status is kept as it is.

A command runs with its standard streams closed: descriptors 0, 1 and 2 are taken
(on the null device) before anything is opened, so that no file the command
writes can get one of those numbers and receive what was meant for the terminal.

Any other exception is a bug in minirnn and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import re
import sys
from contextlib import contextmanager

from minirnn import __version__, set_num_threads
from minirnn.core import backend

# Subcommand name -> module; each module has add_arguments(parser) and run(args) -> int.
SUBCOMMANDS = {
    "train": "minirnn.tools.cli.train",
    "sample": "minirnn.tools.cli.sample",
    "gradcheck": "minirnn.tools.cli.gradcheck",
    "gradient-flow": "minirnn.tools.cli.gradient_flow",
    "bench": "minirnn.tools.cli.bench",
    "course": "minirnn.tools.cli.course",
    "explain": "minirnn.tools.cli.explain",
    "visualize": "minirnn.tools.cli.visualize",
    "draw": "minirnn.tools.cli.draw",
}
USER_ERRORS = (ValueError, TypeError, OSError, RuntimeError)
EXIT_NAN = 1               # a run stopped by a NaN or Inf
EXIT_USER_ERROR = 2        # argparse's status for a usage error, and ours for every other user error
EXIT_INTERRUPTED = 130     # 128 + SIGINT: what a shell reports for a program stopped by Ctrl-C
EXIT_PIPE_CLOSED = 141     # 128 + SIGPIPE: what `yes | head -1` reports for yes
EXIT_NOT_REPORTED = 74     # EX_IOERR: done, but stdout or stderr was closed and what was written there is lost


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line like every other error of the command."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _thread_count(text: str) -> int:
    """--threads' value: a whole number >= 1."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return count


def add_threads_argument(parser: argparse.ArgumentParser, in_workers: bool) -> None:
    """--threads N, the one definition every subcommand gets; in_workers: the command's work runs in
    worker processes (bench, course), which set the threads of NumPy's BLAS and of torch themselves."""
    if in_workers:
        what = "threads for the BLAS behind NumPy's matmuls and for torch, in each worker process"
        needs = ""
    else:
        what = "threads for the BLAS behind NumPy's matmuls"
        needs = ". Needs threadpoolctl (pip install threadpoolctl)"
    parser.add_argument("--threads", type=_thread_count, metavar="N",
                        help=f"{what} (default: the BLAS's own, about one per core); on a busy machine fewer "
                             f"can be several times faster{needs}")


def _import_subcommand(module_name: str):
    """The subcommand's module, or None when this installation does not have it."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:      # the module itself is absent; a missing import inside it is a bug
            return None
        raise


def _plain(docstring: str, name: str) -> str:
    """A module docstring as help text: without reStructuredText's marks (``code``, :func:`name`)
    and without the leading "minirnn NAME:" that the usage line already shows."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", docstring.strip())
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(rf"^minirnn {re.escape(name)}: ", "", text)
    return text[:1].upper() + text[1:]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minirnn",
                     description="Recurrent networks in NumPy with hand-written backpropagation through time.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = _import_subcommand(module_name)
        if module is None:
            continue
        description = _plain(module.__doc__ or "", name)
        sub = subparsers.add_parser(name, help=description.splitlines()[0] if description else None,
                                    description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        in_workers = getattr(module, "THREADS_IN_WORKERS", False)
        add_threads_argument(sub, in_workers)
        # The flags that spell an argument of the library (--top-k for top_k), for its error messages
        # (argparse keeps a parser's options in _actions and offers no public way to list them).
        flag_names = {action.dest: flag for action in sub._actions for flag in action.option_strings
                      if flag == "--" + action.dest.replace("_", "-")}
        sub.set_defaults(run=module.run, flag_names=flag_names,
                         threads_in_workers=in_workers)
    return parser


def name_flags(message: str, flag_names: dict) -> str:
    """The library names its arguments (``top_k must be ...``), the user typed flags: name those.

    flag_names: argument -> flag. A name with an underscore is an argument wherever
    it stands; a plain word (``length``) only as the subject of "must", since
    elsewhere it is likely the word itself.
    """
    for name, flag in flag_names.items():
        follows = r"(?![\w./-])" if "_" in name else r"(?= must\b)"
        message = re.sub(rf"(?<![\w./-]){re.escape(name)}{follows}", flag, message)
    return message


def _check_backend(args: argparse.Namespace) -> None:
    """Fail before any work starts when the backend asked for (--backend, else MINIRNN_BACKEND) cannot run here."""
    name = getattr(args, "backend", None)
    try:
        if name is None:
            backend.default_backend()
        else:
            backend.namespace(name)
    except RuntimeError as err:
        asked = f"--backend {name}" if name else f"MINIRNN_BACKEND={os.environ.get('MINIRNN_BACKEND', '')}"
        raise RuntimeError(f"{asked}: {err}") from None


def _discard_stdout() -> None:
    """Point stdout at the null device, so that the flush at exit does not hit the closed pipe again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):        # stdout is not a file descriptor (replaced in-process): nothing to flush
        pass


class _ClosedStream(io.TextIOBase):
    """What a standard stream that was closed becomes: text written to it goes nowhere, and it says whether
    any came. Its descriptor is held open on the null device, for the libraries that ask for one."""

    encoding = "utf-8"

    def __init__(self, descriptor: int):
        super().__init__()
        self.descriptor, self.lost = descriptor, False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.lost = self.lost or bool(text)
        return len(text)

    def fileno(self) -> int:
        return self.descriptor


@contextmanager
def _standard_streams():
    """Inside: descriptors 0-2 are open (a closed one on the null device) and sys.stdout and sys.stderr
    are streams (a closed one a _ClosedStream); yields those _ClosedStreams."""
    closed = []
    for descriptor in (0, 1, 2):               # in order: each open() below takes the lowest free number
        try:
            os.fstat(descriptor)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)
            closed.append(descriptor)
    saved = sys.stdout, sys.stderr
    for name, descriptor in (("stdout", 1), ("stderr", 2)):
        if descriptor in closed or getattr(sys, name) is None:     # Python sets None for one closed at start
            setattr(sys, name, _ClosedStream(descriptor))
    try:
        yield [stream for stream in (sys.stdout, sys.stderr) if isinstance(stream, _ClosedStream)]
    finally:
        sys.stdout, sys.stderr = saved


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    with _standard_streams() as closed:
        try:
            return _reported(_run(argv), closed)
        except SystemExit as stop:               # argparse's --help and --version print, then exit
            raise SystemExit(_reported(stop.code or 0, closed)) from None


def _reported(status, closed: list):
    """``status``, or EXIT_NOT_REPORTED for a command that succeeded while what it wrote to a closed stream was lost."""
    lost = [stream for stream in closed if stream.lost]
    if status != 0 or not lost:
        return status
    if sys.stdout in lost and sys.stderr not in closed:
        print("minirnn: error: stdout is closed, so the command's output was lost", file=sys.stderr)
    return EXIT_NOT_REPORTED


def _run(argv) -> int:
    flag_names = {}
    try:
        args = build_parser().parse_args(argv)
        flag_names = args.flag_names
        _check_backend(args)
        if args.threads is not None and not args.threads_in_workers:
            set_num_threads(args.threads)
        status = int(args.run(args) or 0)
        sys.stdout.flush()               # a closed pipe shows here, inside the boundary, not at exit
        return status
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_PIPE_CLOSED
    except USER_ERRORS as err:
        message = " ".join(str(err).split("\n"))
        if isinstance(err, OSError) and err.filename is not None and err.strerror:
            message = f"{err.filename}: {err.strerror}"           # not "[Errno 2] No such file ...: 'FILE'"
        print(f"minirnn: error: {name_flags(message, flag_names)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError as err:
        print(f"minirnn: error: not enough memory for the sizes asked for ({err or 'no detail'}); ask for "
              "smaller ones", file=sys.stderr)
        return EXIT_USER_ERROR
    except FloatingPointError as err:
        print(f"minirnn: error: {err}", file=sys.stderr)
        return EXIT_NAN
    except KeyboardInterrupt:
        print("minirnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
