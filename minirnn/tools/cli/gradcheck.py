"""Check every gradient of every model against finite differences in float64, one row per case.

Each row is one model with one set of options: the tensors and entries compared,
the entries skipped where a step of +-eps crossed a ReLU kink, the worst absolute
error |a - n| and relative error |a - n| / (|a| + |n|) between the analytic
gradient a and the numerical one n, how much of its tolerance the worst entry used
(an entry passes when |a - n| <= 1e-7 + 1e-6 |n|, so at most 100%), and the tensor
where the worst error is. A draw whose gradients are all exactly zero (a dead ReLU
unit) proves nothing: it is reported and replaced by another draw of the same
options. Exits with 1 if any tensor fails or a case stays all zero.

    minirnn gradcheck                       # every model, every option, about 15 seconds
    minirnn gradcheck --model lstm --cases 100 --verbose

With --cell FILE.py:NAME it checks one cell of your own instead: a minirnn.gates.GateMath named NAME,
or the step pair NAME_forward / NAME_backward written like minirnn's reference implementations
(minirnn/reference/). The kind of cell comes from --kind or from the name (lstm_step is an LSTM);
see docs/exercise_lstm_backward.md. The file runs in a child process, stopped after --time-limit
seconds: a check that does not finish with its report (a loop that never ends, an exit inside the
cell's code) is an error, never a pass.
"""
from __future__ import annotations

import argparse
import sys
import time

from minirnn.cell_kinds import CELL_KINDS
from minirnn.core import backend, validate
from minirnn.gradcheck import ATOL, EPS, MODELS, RTOL, check_case, check_cell_file, draw_cases
from minirnn.gradcheck.isolated import DEFAULT_TIME_LIMIT

# The cases are drawn before the first row: at 10-100 ms a case, this many per model already take
# minutes to hours, and a far larger --cases is a typo that would fill the memory before printing a row.
MAX_CASES = 10_000
# Cases per model in the default run: enough to cover every option, under two minutes on 2 cores.
DEFAULT_CASES = {"rnn": 40, "lstm": 30, "gru": 30, "rnncell": 6, "lstmcell": 6, "grucell": 6,
                 "charloop": 8, "charrnn": 9, "nll_loss": 4, "cross_entropy": 4}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", choices=MODELS,
                        help="check only this model (repeatable); default: all of them")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn cases and inputs (default 0)")
    parser.add_argument("--backend", choices=backend.BACKENDS, default="numpy",
                        help="where the models run (default numpy)")
    parser.add_argument("--cases", type=int, default=None, metavar="N",
                        help=f"cases per model, at most {MAX_CASES:,} (default: "
                             + ", ".join(f"{k} {v}" for k, v in DEFAULT_CASES.items()) + ")")
    parser.add_argument("--verbose", action="store_true",
                        help="one row per tensor instead of one per case (with --cell: one row per step)")
    parser.add_argument("--cell", metavar="FILE.py:NAME",
                        help="check your own cell instead: a minirnn.gates.GateMath NAME, or the step pair "
                             "NAME_forward/NAME_backward")
    parser.add_argument("--kind", choices=tuple(CELL_KINDS),
                        help="with --cell: the kind of cell (default: from NAME's prefix, or the gate math's name)")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help=f"with --cell: seconds the check may take, the file's import included (default "
                             f"{DEFAULT_TIME_LIMIT:g})")


def run(args: argparse.Namespace) -> int:
    validate.non_negative_int("--seed", args.seed)
    if args.cell is not None:
        return run_cell(args)
    for flag, value in (("--kind", args.kind), ("--time-limit", args.time_limit)):
        if value is not None:
            raise ValueError(f"{flag} goes with --cell FILE.py:NAME")
    if args.cases is not None and not 1 <= args.cases <= MAX_CASES:
        raise ValueError(f"--cases must be an integer in [1, {MAX_CASES:,}], got {args.cases}")
    print(f"Gradient check: central differences in float64, eps={EPS:g}; an entry passes when "
          f"|a - n| <= {ATOL:g} + {RTOL:g} |n|.")
    print("Columns: tensors and entries compared, entries skipped at a ReLU kink, the worst absolute error\n"
          "|a - n| and relative error |a - n| / (|a| + |n|), the share of its tolerance the worst entry used\n"
          "(a pass is at most 100%), and the tensor where the worst error is. The relative error can exceed\n"
          f"{RTOL:g} where |n| is tiny, since the tolerance's {ATOL:g} counts there.\n")
    cases = [case for model in args.model or MODELS
             for case in draw_cases(model, args.cases or DEFAULT_CASES[model], seed=args.seed)]
    width = max(len("options"), *(len(case.label()) for case in cases))   # the table aligns, whatever the options
    header = (f"{'model':<13} {'options':<{width}} {'tensors':>7} {'entries':>7} {'kinks':>5} "
              f"{'max abs':>9} {'max rel':>9} {'of tol.':>8}  {'result':<7} worst tensor")
    print(header)
    print("-" * len(header))
    failures, vacuous, worst_rel, worst_used, start = 0, 0, 0.0, 0.0, time.perf_counter()
    for case in cases:
        result = check_case(case, seed=args.seed, backend_name=args.backend)
        reports = result.reports
        worst = max(reports, key=lambda r: r.max_abs_error)
        failures += not result.passed
        vacuous += len(result.vacuous_seeds)
        worst_rel = max(worst_rel, max(r.max_rel_error for r in reports))
        used = max(r.tolerance_used for r in reports)
        worst_used = max(worst_used, used)
        verdict = "ok" if result.passed else "ZERO" if result.vacuous else "FAIL"
        print(f"{case.model:<13} {case.label():<{width}} {len(reports):>7} {sum(r.checked for r in reports):>7} "
              f"{sum(r.kinks for r in reports):>5} {worst.max_abs_error:>9.2e} "
              f"{max(r.max_rel_error for r in reports):>9.2e} {used:>8.1%}  {verdict:<7} {worst.name}")
        for seed in result.vacuous_seeds:
            print(f"{'':<14}seed {seed}: every gradient exactly 0 (a dead unit), which proves nothing; "
                  f"replaced by the next draw{'' if result.vacuous else f', seed {result.seed}'}")
        if args.verbose or not result.passed:
            for report in reports:
                print(f"{'':<14}{report}")
        sys.stdout.flush()                 # each row as it comes, also into a pipe or a file
    print(f"\n{len(cases) - failures} passed, {failures} failed"
          + (f" ({vacuous} all-zero draw{'s' if vacuous > 1 else ''} replaced)" if vacuous else "")
          + f"; the worst entry used {worst_used:.1%} of its tolerance (worst relative error {worst_rel:.2e}); "
          f"{time.perf_counter() - start:.1f} s")
    return 1 if failures else 0


def run_cell(args: argparse.Namespace) -> int:
    """``--cell FILE.py:NAME``: one cell, step by step, against finite differences and minirnn's own cell."""
    if args.model or args.cases is not None or args.backend != "numpy":
        raise ValueError("--cell checks one cell on NumPy: it takes no --model, --cases or --backend")
    time_limit = DEFAULT_TIME_LIMIT if args.time_limit is None else args.time_limit
    report = check_cell_file(args.cell, args.kind, seed=args.seed, verbose=args.verbose, time_limit=time_limit)
    print(report.text)
    return 0 if report.passed else 1
