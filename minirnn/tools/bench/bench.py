"""The speed benchmark: minirnn's RNN, LSTM and GRU timed against torch.nn's, side by side.

For each cell and each (T, B, I, H) of the grid it times, in float32,

    fwd+bwd  one layer's forward and backward over a (T, B, I) batch, and
    train    a training step of CharRNN (an embedding of V = I characters into I,
             the layer, a linear head back to V), with cross_entropy over all T*B
             targets, the backward and an Adam update,

and, for the LSTM, the README's training run: CharRNN with hidden 256, embedding 64,
batch 64, bptt 64, a vocabulary of 96, Adam and gradients clipped to norm 5 (the
``char`` row, in characters per second).

Each library runs in processes of its own (minirnn.tools.bench.worker), in alternating
rounds: a minirnn process, then a torch process, ``--rounds`` times per row, each
making one untimed call and then ``--repeats`` timed ones; a row's time is the median
of all of them, so that a busy moment of the machine slows both alike. torch gets the
same weights, inputs and number of threads. The workers run without
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set to pin OpenBLAS to
older kernels (on an AVX-512 machine, Haswell's ran a 2048^2 matmul at half speed): the
benchmark measures what a user's machine does. Only the workers' environment changes.

GFLOP/s counts the matmuls only (6 T B GH (I + H) for fwd+bwd, G the number of gates,
plus 6 T B H V for the head when training); "% mm" compares it with the float32 matmul
rate this machine reaches on one large square product. "step GF/s" is the rate of the
row's own per-step recurrent products (h_{t-1} W_hh^T forward, d_hh W_hh backward, T of
each, at this B and H), timed alone, and "step ms" their time: the part of the row no
elementwise work can take back. Peak memory is minirnn's, from a separate untimed run
(tracemalloc sees NumPy's arrays, including the buffers the layer keeps between
calls; on CuPy it is the memory pool's size).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy

from minirnn.cell_kinds import LAYERS, default_kind
from minirnn.core import backend

# (T, B, I, H): min-char-rnn, the article's course (its windows, rows 2-6, and its stateful
# streams, rows 7-9), a small batch, the PTB medium LSTM, a mid-sized layer, a large one, and
# two shapes where torch's fused LSTM led by most.
GRID = ((25, 1, 65, 100), (8, 512, 42, 256), (8, 64, 42, 256), (64, 32, 64, 128), (35, 20, 650, 650),
        (64, 64, 256, 512), (100, 16, 512, 1024), (50, 32, 128, 256), (30, 8, 300, 300))
QUICK_GRID = ((25, 1, 65, 100), (64, 32, 64, 128), (35, 20, 650, 650))
# The README's training run: T (bptt), B, I (embedding), H, V (vocabulary), gradient clipping.
CHAR_RUN = dict(T=64, B=64, I=64, H=256, V=96, clip=5.0)
# Set on some machines to keep older OpenBLAS builds on kernels that compute right there;
# a user's machine has neither, so the workers run without them.
BLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help=f"the small grid {QUICK_GRID} instead of the full one")
    parser.add_argument("--cells", default=",".join(LAYERS),
                        help=f"comma-separated layers to time, of {','.join(LAYERS)} (default: all)")
    parser.add_argument("--backend", default="numpy", choices=backend.BACKENDS, help="array library (default numpy)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds per row, a fresh process per library and round (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per process after one warm-up (default 3)")
    parser.add_argument("--no-train", action="store_true", help="time forward + backward only")
    parser.add_argument("--no-torch", action="store_true", help="do not run torch even when it is installed")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--show", metavar="FILE",
                        help="print the table of results saved with --json (docs/performance.md shows one) and "
                             "time nothing")


def run(args: argparse.Namespace) -> int:
    if args.show is not None:
        print(table(load_results(args.show)))
        return 0
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = sorted(set(cells) - set(LAYERS))
    if unknown or not cells:
        raise ValueError(f"--cells must be a comma-separated subset of {','.join(LAYERS)}, got {args.cells!r}")
    if args.rounds < 1 or args.repeats < 1:
        raise ValueError(f"--rounds and --repeats must be at least 1, got {args.rounds} and {args.repeats}")
    threads = args.threads or os.cpu_count()     # --threads, the minirnn command's for every subcommand
    backend.namespace(args.backend)              # a clear error now when the backend is missing
    torch_version = None if args.no_torch else _torch_version(args.backend)
    env = worker_environment(threads)
    info = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), machine=platform.machine(),
                processor=_processor(), cores=os.cpu_count(), python=platform.python_version(),
                numpy=numpy.__version__, backend=args.backend, torch=torch_version, threads=threads,
                unset=[f"{name}={os.environ[name]}" for name in BLAS_PINS if name in os.environ],
                dtype="float32", rounds=args.rounds, repeats=args.repeats)
    info.update(run_worker(dict(task="info"), env))
    rate = run_worker(dict(task="matmul", backend=args.backend), env)["flops_per_s"]
    rows = []
    for spec in row_specs(cells, args, threads):
        print(f"timing {spec['cell']} {spec['mode']} T, B, I, H = {spec['T']}, {spec['B']}, {spec['I']}, {spec['H']}",
              file=sys.stderr, flush=True)
        rows.append(bench_row(spec, args.rounds, torch=torch_version is not None, run=lambda s: run_worker(s, env)))
    # The machine's rate is what it reaches when it is least disturbed: measured before and after.
    rate = max(rate, run_worker(dict(task="matmul", backend=args.backend), env)["flops_per_s"])
    for row in rows:
        row["matmul_fraction"] = row["gflops"] * 1e9 / rate
    info["matmul_gflops"] = round(rate / 1e9, 1)
    summary = summarize(rows)
    results = dict(info=info, rows=rows, summary=summary)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    else:
        print(table(results))
    return 0


def load_results(path) -> dict:
    """Results saved with --json, checked to be such; a ValueError naming --show otherwise."""
    try:
        with open(path, encoding="utf-8") as file:
            results = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--show {path}: cannot be read as results of minirnn bench --json "
                         f"({type(error).__name__}: {error})") from None
    if not (isinstance(results, dict) and {"info", "rows", "summary"} <= set(results)):
        raise ValueError(f"--show {path}: not the output of minirnn bench --json (it has no info, rows and summary)")
    return results


def table(results: dict) -> str:
    """The report as text: the header, a line per row, the summary."""
    return "\n".join([_header(results["info"])] + [_format_row(row) for row in results["rows"]]
                     + [_format_summary(results["summary"])])


def row_specs(cells, args, threads: int) -> list:
    """One spec per row: the grid's shapes for each cell and mode, then the LSTM's training run."""
    base = dict(task="row", backend=args.backend, repeats=args.repeats, threads=threads, clip=0.0)
    specs = []
    for cell in cells:
        for T, B, I, H in QUICK_GRID if args.quick else GRID:
            for mode in ("fwd+bwd",) if args.no_train else ("fwd+bwd", "train"):
                specs.append(dict(base, cell=cell, mode=mode, T=T, B=B, I=I, H=H, V=I))
    if "lstm" in cells and not args.no_train:
        specs.append(dict(base, cell="lstm", mode="char", **CHAR_RUN))
    return specs


# -- what is measured -------------------------------------------------------------------------
def matmul_flops(n_gates: int, T: int, B: int, I: int, H: int, V: int = 0) -> int:
    """Multiply-adds x 2 of one layer's forward and backward, plus a head to V classes.

    Forward: x W_ih^T and h W_hh^T; backward: dx, dW_ih, dh and dW_hh. Each is
    2 T B GH times I or H.
    """
    GH = n_gates * H
    return 6 * T * B * GH * (I + H) + 6 * T * B * H * V


def bench_row(spec: dict, rounds: int, torch: bool, run) -> dict:
    """Time one row in alternating rounds; return it as a dict (the caller adds matmul_fraction).

    ``run(spec)`` times one library's side, ``spec["library"]``: :func:`run_worker` in a
    process of its own here, the worker's ``time_row`` in-process for the GPU check.
    """
    ours, theirs, extras = [], [], []
    for _ in range(rounds):
        result = run(dict(spec, library="minirnn"))
        ours += result["seconds"]
        extras.append(result)
        if torch:
            theirs += run(dict(spec, library="torch"))["seconds"]
    T, B, I, H, V = (spec[k] for k in ("T", "B", "I", "H", "V"))
    n_gates = default_kind(spec["cell"]).n_gates
    seconds = statistics.median(ours)
    step_seconds = min(r["step_product_seconds"] for r in extras)
    row = dict(cell=spec["cell"], mode=spec["mode"], T=T, B=B, I=I, H=H, V=V, clip=spec["clip"],
               ms=seconds * 1e3, tokens_per_s=T * B / seconds,
               gflops=matmul_flops(n_gates, T, B, I, H, 0 if spec["mode"] == "fwd+bwd" else V) / seconds / 1e9,
               step_ms=step_seconds * 1e3, step_gflops=4 * T * B * n_gates * H * H / step_seconds / 1e9,
               peak_mib=max(r["peak_bytes"] for r in extras) / 2 ** 20)
    if theirs:
        torch_seconds = statistics.median(theirs)
        row.update(torch_ms=torch_seconds * 1e3, speedup=torch_seconds / seconds)
    return row


def worker_environment(threads: int) -> dict:
    """The workers' environment: this one without the OpenBLAS pins, with the thread count, importing this minirnn."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_PINS}
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    package_root = str(Path(__file__).resolve().parents[2])     # the folder that holds minirnn/
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


def run_worker(spec: dict, env: dict) -> dict:
    """Run minirnn.tools.bench.worker on one spec in a fresh process; its JSON result."""
    done = subprocess.run([sys.executable, "-m", "minirnn.tools.bench.worker", json.dumps(spec)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ChildProcessError(f"the benchmark worker for {spec} failed: {last}")
    return json.loads(done.stdout)


def _torch_version(backend_name: str):
    """torch's version when it can be the referee here (installed; with a GPU for cupy), else None."""
    try:
        import torch
    except ImportError:
        return None
    if backend_name == "cupy" and not torch.cuda.is_available():
        return None
    return torch.__version__


def _processor() -> str:
    """The CPU's model name (Linux), or what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- the report -------------------------------------------------------------------------------------
def summarize(rows) -> dict:
    """Per cell and mode: the median and the lowest torch/minirnn ratio, and the best matmul fraction."""
    summary = {}
    for row in rows:
        summary.setdefault(f"{row['cell']} {row['mode']}", []).append(row)
    return {key: dict(rows=len(group),
                      median_speedup=_median_or_none([r.get("speedup") for r in group]),
                      min_speedup=min((r["speedup"] for r in group if "speedup" in r), default=None),
                      max_matmul_fraction=max(r["matmul_fraction"] for r in group))
            for key, group in summary.items()}


def _median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _header(info: dict) -> str:
    unset = ", ".join(info["unset"]) if info["unset"] else "none was set"
    lines = [f"minirnn bench  {info['date']}  {info['processor']}, {info['cores']} cores  "
             f"{info['backend']} {info['dtype']}",
             f"python {info['python']}  numpy {info['numpy']}  torch {info['torch'] or '(not run)'}  "
             f"threads {info['threads']}",
             f"BLAS: {info['blas']}, {info['kernel']} (OpenBLAS pins unset for the workers: {unset})",
             f"matmul rate {info['matmul_gflops']} GFLOP/s (float32, best of before and after); each library in "
             f"processes of its own, {info['rounds']} alternating rounds of {info['repeats']} runs, medians",
             "",
             f"{'cell':5} {'mode':8} {'T':>4} {'B':>4} {'I':>5} {'H':>5} {'ms':>9} {'tok/s':>9} "
             f"{'GFLOP/s':>8} {'% mm':>5} {'step GF/s':>9} {'step ms':>8} {'peak MiB':>8} {'torch ms':>9} "
             f"{'vs torch':>8}"]
    return "\n".join(lines)


def _format_row(row: dict) -> str:
    start = f"{row['cell']:5} {row['mode']:8} {row['T']:4d} {row['B']:4d} {row['I']:5d} {row['H']:5d}"
    text = (f"{start} {row['ms']:9.2f} {row['tokens_per_s']:9.0f} {row['gflops']:8.1f} "
            f"{100 * row['matmul_fraction']:5.0f} {row['step_gflops']:9.1f} {row['step_ms']:8.2f} "
            f"{row['peak_mib']:8.1f}")
    if "speedup" in row:
        text += f" {row['torch_ms']:9.2f} {row['speedup']:7.2f}x"
    return text


def _format_summary(summary: dict) -> str:
    lines = ["", "torch time / minirnn time (above 1: minirnn is faster)"]
    for key, s in summary.items():
        speed = ("torch not run" if s["median_speedup"] is None
                 else f"median {s['median_speedup']:.2f}x, lowest {s['min_speedup']:.2f}x")
        lines.append(f"  {key:13} {speed}; best {100 * s['max_matmul_fraction']:.0f}% of the matmul rate")
    return "\n".join(lines)
