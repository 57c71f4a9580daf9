"""minirnn course: the 2017 fastai course's character models on Nietzsche's text, in minirnn and in torch.

Runs the rows of the course's table (every row, or the ROWS named) through their
notebook's schedules and prints, per row, the loss the notebook printed, minirnn's
and torch's (on the same data, split, schedule and first weights; torch when it is
installed) and each one's wall time. Each library trains in a process of its own
without the OpenBLAS pins. Each row's result is written to --results as soon as it
ends; a rerun skips the rows recorded there (--redo runs them again).

The corpus is read from $MINIRNN_DATA (or ~/.cache/minirnn), downloaded there once
when missing. The full table takes an hour or more and wants a quiet machine;
--quick trains about a hundred batches per row, to see that everything runs.

  minirnn course --quick --results /tmp/quick.json
  minirnn course 2 7 --results docs/course_results.json
  minirnn course --markdown --results docs/course_results.json     the README's table
"""
from __future__ import annotations

import argparse
import os

from ..course import results
from ..course.runner import chosen_rows, run_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rows", nargs="*", type=int, metavar="ROW", help="the rows to run (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="about a hundred training batches per row, to see that everything runs")
    parser.add_argument("--results", default="course_results.json", metavar="FILE",
                        help="where each row's result is recorded, and read back (default course_results.json)")
    parser.add_argument("--redo", action="store_true", help="run the rows named again even when recorded")
    parser.add_argument("--no-torch", action="store_true", help="do not run torch even when it is installed")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the weights, the split and the order")
    parser.add_argument("--no-download", action="store_true", help="never download the corpus")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table of --results as Markdown (as the README shows it) and run nothing")


THREADS_IN_WORKERS = True     # --threads goes to the worker processes, for NumPy's BLAS and torch


def run(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    rows = chosen_rows(args.rows)
    if args.markdown:
        recorded = results.load(args.results)
        if recorded is None:
            raise FileNotFoundError(f"{args.results}: no such results file (run the table first)")
        print(results.markdown(recorded), end="")
        return 0
    threads = args.threads or os.cpu_count()      # the minirnn command's --threads, for every subcommand
    recorded = run_table(rows, args.results, quick=args.quick, seed=args.seed, threads=threads,
                         use_torch=not args.no_torch, redo=args.redo, download=not args.no_download)
    print(results.text(recorded))
    return 0
