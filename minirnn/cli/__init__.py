"""The ``minirnn`` command: one argparse parser whose subcommands are the other modules of this package.

Every subcommand module (train.py, sample.py, ...) exposes the same two functions:

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int        # the exit status

Each is imported by name when the parser is built; one that is not part of this
installation is left out of the menu rather than breaking the others. A mistake
the user can make (ValueError, TypeError, OSError) is printed as one line,
``minirnn: error: ...``, with exit status 2 and no traceback; a run stopped by a
NaN or Inf (FloatingPointError) exits with 1.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand name -> module; each module has add_arguments(parser) and run(args) -> int.
SUBCOMMANDS = {
    "train": "minirnn.cli.train",
    "sample": "minirnn.cli.sample",
    "gradcheck": "minirnn.cli.gradcheck",
    "bench": "minirnn.cli.bench",
    "explain": "minirnn.cli.explain",
    "visualize": "minirnn.cli.visualize",
    "draw": "minirnn.cli.draw",
}


def _import_subcommand(module_name: str):
    """The subcommand's module, or None when this installation does not have it."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:      # the module itself is absent; a missing import inside it is a bug
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minirnn", description="Recurrent networks in NumPy with hand-written backpropagation through time.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = _import_subcommand(module_name)
        if module is None:
            continue
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None
        sub = subparsers.add_parser(name, help=summary, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, TypeError, OSError) as err:
        print(f"minirnn: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:
        print(f"minirnn: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minirnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
