"""The GPU check (scripts/gpu_check.py): everything a GPU machine must prove about the CuPy path, in one table.

Stages, within one time budget (``--minutes``, 4.5 by default):

    nvrtc      every fused kernel x {float32, float64} compiled by NVRTC for this GPU
    kernels    each cell's fused kernels against its NumPy lines, one step, float64, <= 1e-12
    gradcheck  the gradient check on CuPy in float64: the corner cases of every model, round robin
    suite      the test suite (python -m pytest) in a second process, started first: with a GPU
               present its "cupy" cases run (backends, cells, every path of both test_device_paths.py)
    bench      minirnn against torch's CUDA RNNs (cuDNN, TF32 off) on the benchmark's grid and two
               larger layers, forward+backward then training steps, with the targets:
               fwd+bwd at H >= 1024 at >= 50% of cuBLAS's float32 matmul rate, <= 50 us per time
               step at H <= 256, and the ratio to cuDNN on every row

The exit status is 0 when every check passed, 1 when one failed or did not finish, and 2
when there is no GPU (said in one line). The benchmark's targets are reported, not enforced.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from minirnn.cell_kinds import CELL_KINDS, LAYERS
from minirnn.core import backend
from minirnn.gates import kernels
from minirnn.gradcheck import MODELS, check_case, draw_cases
from minirnn.gradcheck.cases import corner_count

from ..bench import bench, worker
from . import fused, nvrtc

REPO = Path(__file__).resolve().parents[2]
GRADCHECK_ENTRIES = 60          # entries per tensor (plus one random direction): enough to catch a wrong formula
GPU_GRID = bench.GRID + ((64, 64, 1024, 1024), (32, 256, 2048, 2048))   # H >= 1024 at batches a GPU can fill
SMALL_H, LARGE_H = 256, 1024
STEP_TARGET_US, MATMUL_TARGET = 50.0, 0.5
BENCH_RESERVE = 60.0            # seconds the correctness checks leave to the benchmark, at least


class Result(dict):
    """One row of the summary: check, passed (True, False, or None for a report), what was seen."""

    def __init__(self, check: str, passed, detail: str, **data):
        super().__init__(check=check, passed=passed, detail=detail, **data)


def _stage(check: str, function, *args) -> Result:
    """Run one stage; an exception is a failed check with its message, never the end of the run."""
    started = time.perf_counter()
    print(f"gpu_check: {check} ...", file=sys.stderr, flush=True)   # where a run cut short stopped
    try:
        result = function(*args)
    except Exception as err:  # the table must come out whatever one stage does
        result = Result(check, False, f"raised {type(err).__name__}: {err}".splitlines()[0][:300])
    print(f"gpu_check: {check} {result['passed']} in {time.perf_counter() - started:.0f} s", file=sys.stderr,
          flush=True)
    return result


# -- 1. NVRTC -------------------------------------------------------------------------------------
def compile_kernels(arch: str) -> Result:
    failures, names = [], sorted(kernels._SOURCES)
    for name in names:
        for dtype in ("float32", "float64"):
            try:
                nvrtc.compile_kernel(name, dtype, arch)
            except nvrtc.KernelCompileError as err:
                failures.append(str(err).splitlines()[0])
    done = 2 * len(names) - len(failures)
    detail = (f"{done} of {2 * len(names)} kernel x dtype compiled for {arch} by NVRTC {nvrtc.version()} "
              f"({len(names)} kernels; float32, float64)")
    return Result("nvrtc", not failures, detail + "".join(f"; {f}" for f in failures))


# -- 2. the fused kernels against the gate math's NumPy lines-------------------------------------------
def compare_kernels(xp) -> Result:
    errors = {name: fused.compare_cell(kind.gate_math, xp) for name, kind in CELL_KINDS.items()}
    worst = max(e for pair in errors.values() for e in pair.values())
    each = ", ".join(f"{name} {e['forward']:.0e}/{e['backward']:.0e}" for name, e in errors.items())
    return Result("kernels", worst <= fused.TOLERANCE,
                  f"max |kernel - NumPy| {worst:.1e} (<= {fused.TOLERANCE:g}), float64, forward/backward: {each}",
                  errors=errors)


# -- 3. the gradient check --------------------------------------------------------------------------
def gradcheck(backend_name: str, deadline: float) -> Result:
    """The corner cases of every model, one case of each model in turn, until done or the deadline."""
    queues = {model: draw_cases(model, corner_count(model), seed=0) for model in MODELS}
    checked, failed, worst = 0, [], 0.0
    while any(queues.values()) and time.perf_counter() < deadline:
        for model, cases in queues.items():
            if not cases or time.perf_counter() >= deadline:
                continue
            case = cases.pop(0)
            result = check_case(case, seed=0, backend_name=backend_name, max_entries=GRADCHECK_ENTRIES)
            checked += 1
            worst = max(worst, max(r.max_rel_error for r in result.reports))
            if not result.passed:                  # a wrong gradient, or none that is not zero
                failed.append(f"{model} {case.label()}")
    left = sum(len(cases) for cases in queues.values())
    detail = (f"{checked} corner cases of {len(MODELS)} models, float64 on {backend_name}: "
              f"worst relative error {worst:.1e}, {len(failed)} failed")
    detail += f"; {left} not reached before the deadline (give more --minutes)" if left else ""
    return Result("gradcheck", not failed and not left, detail + "".join(f"; FAIL {f}" for f in failed))


# -- 4. the test suite ----------------------------------------------------------------------------------
def start_suite() -> subprocess.Popen:
    """python -m pytest on the repository, in the background, its output in a pipe."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish_suite(process: subprocess.Popen, deadline: float, started: float) -> Result:
    try:
        output, _ = process.communicate(timeout=max(1.0, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return Result("suite", False, f"not finished after {time.perf_counter() - started:.0f} s: "
                      + (summarize_pytest(output)["line"] or "no summary"))
    summary = summarize_pytest(output)
    failing = [line.split(" ", 1)[1].split(" - ")[0] for line in output.splitlines()
               if line.startswith(("FAILED ", "ERROR "))]
    return Result("suite", process.returncode == 0,
                  f"{summary['line']}; {summary['on_cupy']} of the passed ran on CuPy"
                  + "".join(f"; {name}" for name in failing[:8]),
                  failures=_failures_text(output), **summary)    # the failures' own text, for --json


def _failures_text(output: str) -> str:
    """pytest's FAILURES and ERRORS sections (up to 20,000 characters), '' when every test passed."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ (FAILURES|ERRORS) =+", line)]
    ends = [i for i, line in enumerate(lines) if "short test summary info" in line]
    return "\n".join(lines[min(starts):ends[-1] if ends else None])[:20000] if starts else ""


def summarize_pytest(output: str) -> dict:
    """The counts from pytest's last line and how many passed tests ran on CuPy (their id says cupy)."""
    lines = [line.strip("= ") for line in output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    line = lines[-1] if lines else ""
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", line)}
    on_cupy = sum(1 for row in output.splitlines() if row.startswith("PASSED ") and "cupy" in row)
    return dict(line=line, counts=counts, on_cupy=on_cupy)


# -- 5. the benchmark -------------------------------------------------------------------------------------
def benchmark(backend_name: str, deadline: float, grid=GPU_GRID, repeats: int = 10, use_torch: bool = True) -> Result:
    """fwd+bwd rows for every cell and shape, then training rows, until the deadline.

    Each row runs the benchmark's worker (minirnn.tools.bench.worker) in this process, minirnn
    then torch: a fresh process per row and library would spend the five minutes starting
    CUDA. torch runs on one CPU thread, so that its OpenMP threads have none to spin on
    while minirnn launches its kernels; the GPU does the work of both.
    """
    xp = backend.namespace(backend_name)
    use_torch = use_torch and bench._torch_version(backend_name) is not None
    if use_torch:                              # float32 against float32: no TensorFloat-32 in cuDNN or cuBLAS
        import torch
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    rate = matmul_rate(xp)
    base = dict(task="row", backend=backend_name, repeats=repeats, threads=1, clip=0.0)
    rows, skipped = [], 0
    for mode in ("fwd+bwd", "train"):
        for cell in LAYERS:
            for T, B, I, H in grid:
                if time.perf_counter() >= deadline:
                    skipped += 1
                    continue
                spec = dict(base, cell=cell, mode=mode, T=T, B=B, I=I, H=H, V=I)
                row = bench.bench_row(spec, rounds=1, torch=use_torch, run=worker.time_row)
                rows.append(_with_targets(row, rate))
    with_torch = [r for r in rows if "speedup" in r]
    detail = (f"{len(rows)} rows, medians of {repeats}; float32 matmul rate {rate / 1e9:.0f} GFLOP/s; "
              + (f"median ratio to cuDNN {statistics.median(r['speedup'] for r in with_torch):.2f}x"
                 if with_torch else "torch with CUDA not available: no cuDNN ratio"))
    detail += f"; {skipped} rows not timed before the deadline" if skipped else ""
    version = f"{torch.__version__} (cuDNN {torch.backends.cudnn.version()})" if use_torch else None
    return Result("bench", None, detail, rows=rows, matmul_gflops=rate / 1e9, torch=version)


def matmul_rate(xp) -> float:
    """cuBLAS's float32 rate in FLOP/s: the best of square products of 4096 and 8192 (2048 on the host)."""
    sizes = (2048,) if xp.__name__ != "cupy" else (4096, 8192)
    return max(worker.matmul_rate(xp, n=n, repeats=5) for n in sizes)


def _with_targets(row: dict, rate: float) -> dict:
    row["matmul_fraction"] = row["gflops"] * 1e9 / rate
    row["us_per_step"] = row["ms"] * 1e3 / row["T"]
    if row["mode"] == "fwd+bwd" and row["H"] >= LARGE_H:
        row["target"] = ("% mm >= 50", row["matmul_fraction"] >= MATMUL_TARGET)
    elif row["mode"] == "fwd+bwd" and row["H"] <= SMALL_H:
        row["target"] = ("us/step <= 50", row["us_per_step"] <= STEP_TARGET_US)
    return row


# -- the table ----------------------------------------------------------------------------------------------
def format_table(header: str, results: list, seconds: float) -> str:
    verdict = {True: "ok", False: "FAIL", None: "-"}
    lines = [header, "", f"{'check':10} {'result':6} what was seen"]
    lines += [f"{r['check']:10} {verdict[r['passed']]:6} {r['detail']}" for r in results]
    rows = next((r["rows"] for r in results if r["check"] == "bench" and r.get("rows")), [])
    if rows:
        lines += ["", f"{'cell':5} {'mode':8} {'T':>4} {'B':>4} {'I':>5} {'H':>5} {'ms':>9} {'us/step':>8} "
                      f"{'GFLOP/s':>8} {'% mm':>5} {'cuDNN ms':>9} {'vs cuDNN':>8}  target"]
        lines += [_format_row(row) for row in rows]
        lines.append(_target_summary(rows))
    failed = [r["check"] for r in results if r["passed"] is False]
    lines.append(f"\nfailed: {', '.join(failed) or 'none'}; {seconds:.0f} s in all")
    return "\n".join(lines)


def _format_row(row: dict) -> str:
    start = f"{row['cell']:5} {row['mode']:8} {row['T']:4d} {row['B']:4d} {row['I']:5d} {row['H']:5d}"
    text = (f"{start} {row['ms']:9.3f} {row['us_per_step']:8.1f} {row['gflops']:8.0f} "
            f"{100 * row['matmul_fraction']:5.0f} ")
    text += f"{row['torch_ms']:9.3f} {row['speedup']:7.2f}x" if "speedup" in row else f"{'':9} {'':8}"
    if "target" in row:
        text += f"  {row['target'][0]}: {'met' if row['target'][1] else 'missed'}"
    return text


def _target_summary(rows: list) -> str:
    parts = []
    for name in ("% mm >= 50", "us/step <= 50"):
        judged = [r["target"][1] for r in rows if r.get("target", ("",))[0] == name]
        if judged:
            parts.append(f"{name}: met on {sum(judged)} of {len(judged)} rows")
    scope = f"targets (fwd+bwd; H >= {LARGE_H} for % mm, H <= {SMALL_H} for us/step)"
    return f"{scope}: " + "; ".join(parts) if parts else f"{scope}: no row judged"


# -- the command -------------------------------------------------------------------------------------------
def _header(xp) -> str:
    device = xp.cuda.Device()
    name = xp.cuda.runtime.getDeviceProperties(device.id)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    runtime, driver = xp.cuda.runtime.runtimeGetVersion(), xp.cuda.runtime.driverGetVersion()
    return (f"minirnn GPU check  {datetime.datetime.now().isoformat(timespec='seconds')}  {name} "
            f"(sm_{device.compute_capability})  CUDA runtime {runtime // 1000}.{runtime % 1000 // 10}, "
            f"driver {driver // 1000}.{driver % 1000 // 10}  CuPy {xp.__version__}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.5, help="time budget for all stages (default 4.5)")
    parser.add_argument("--no-suite", action="store_true", help="leave out the test suite")
    parser.add_argument("--no-bench", action="store_true", help="leave out the benchmark")
    parser.add_argument("--json", metavar="PATH", help="also write every result as JSON to PATH")
    args = parser.parse_args(argv)
    try:
        xp = backend.namespace("cupy")
    except RuntimeError as err:
        print(f"gpu_check: no GPU here, nothing checked: {err}")
        return 2
    started = time.perf_counter()
    deadline = started + 60 * args.minutes
    correctness_deadline = deadline - (0 if args.no_bench else BENCH_RESERVE)
    suite = None if args.no_suite else start_suite()
    results = [_stage("nvrtc", compile_kernels, f"compute_{xp.cuda.Device().compute_capability}"),
               _stage("kernels", compare_kernels, xp),
               _stage("gradcheck", gradcheck, "cupy", correctness_deadline - 20)]
    if suite is not None:
        results.append(_stage("suite", finish_suite, suite, correctness_deadline, started))
    if not args.no_bench:
        results.append(_stage("bench", benchmark, "cupy", deadline))
    table = format_table(_header(xp), results, time.perf_counter() - started)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(header=_header(xp), results=results), indent=1, default=str))
    print(table)
    return 1 if any(r["passed"] is False for r in results) else 0
