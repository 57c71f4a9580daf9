"""The subcommands of the ``minirnn`` command line, one module each.

Every module here exposes the same two functions, which ``minirnn.cli`` wires
into one argparse parser:

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int        # the exit status

A mistake the user can make (a missing file, a damaged checkpoint, a bad flag
value) is raised as ValueError, TypeError or OSError with a message that says
what was expected; the command line prints it as one line and exits non-zero.
"""
