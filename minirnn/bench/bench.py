"""The speed benchmark: minirnn's RNN, LSTM and GRU timed against torch.nn's, side by side.

For each cell and each (T, B, I, H) of the grid it times, in float32,

    fwd+bwd  one layer's forward and backward over a (T, B, I) batch, and
    train    a training step of the training issue's model, CharRNN (an embedding of
             V = I characters into I, the layer, a linear head back to V), with
             cross_entropy over all T*B targets, the backward and an Adam update,

as the median of ``--repeats`` timed runs (each after a rest and an untimed call,
see SETTLE). When torch is installed it builds torch.nn.RNN/LSTM/GRU with the same
weights, feeds it the same inputs with the same number of threads, and runs it in
the same process interleaved with minirnn (minirnn, torch, minirnn, torch, ...),
so that a busy machine slows both alike. GFLOP/s counts the matmuls only
(6 T B GH (I + H) for fwd+bwd, G the number of gates, plus 6 T B H V for the head
when training), and "% mm" compares it with the float32 matmul rate this machine
reaches on one large square product, measured here. Peak memory is minirnn's, from a separate untimed run (tracemalloc sees
NumPy's arrays, including the buffers the layer keeps between calls; on CuPy it is
the memory pool's size).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy

from ..core import backend
from ..layers import GRU, LSTM, RNN
from ..models import CharRNN
from ..ops import cross_entropy

# (T, B, I, H): min-char-rnn, the article's course, a small batch, the PTB medium LSTM,
# a mid-sized layer, and a large one.
GRID = ((25, 1, 65, 100), (8, 512, 42, 256), (64, 32, 64, 128),
        (35, 20, 650, 650), (64, 64, 256, 512), (100, 16, 512, 1024))
QUICK_GRID = ((25, 1, 65, 100), (64, 32, 64, 128), (35, 20, 650, 650))
# Both libraries keep their worker threads spinning for a while after each call, waiting for
# more work (OpenBLAS for about 2^28 cycles, torch's OpenMP for GOMP_SPINCOUNT turns): run
# back to back, each would start on cores still held by the other's spinners. So before each
# timed run the benchmark rests SETTLE seconds, letting the other library's threads go to
# sleep, then makes one untimed call, waking this library's own threads: each library is
# timed as it runs alone in a training loop.
SETTLE = 0.2
CELLS = {"rnn": (RNN, 1), "lstm": (LSTM, 4), "gru": (GRU, 3)}   # class, number of gates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help=f"the small grid {QUICK_GRID} instead of the full one")
    parser.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells to time (default: all)")
    parser.add_argument("--backend", default="numpy", choices=backend.BACKENDS, help="array library (default numpy)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row after one warm-up (default 5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for torch and for NumPy's BLAS (default: all cores)")
    parser.add_argument("--settle", type=float, default=SETTLE,
                        help="seconds of rest before each timed run (default 0.2; see SETTLE in minirnn/bench.py)")
    parser.add_argument("--no-train", action="store_true", help="time forward + backward only")
    parser.add_argument("--no-torch", action="store_true", help="do not run torch even when it is installed")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = sorted(set(cells) - set(CELLS))
    if unknown or not cells:
        raise ValueError(f"--cells must be a comma-separated subset of {','.join(CELLS)}, got {args.cells!r}")
    if args.repeats < 1 or args.threads < 1 or args.settle < 0:
        raise ValueError(f"--repeats and --threads must be at least 1 and --settle at least 0, "
                         f"got {args.repeats}, {args.threads} and {args.settle}")
    xp = backend.namespace(args.backend)
    blas_note = _limit_blas_threads(args.threads)
    torch = None if args.no_torch else _import_torch(args.threads, args.backend)
    adam = _import_adam()
    rate = matmul_rate(xp)
    rows = []
    for cell in cells:
        for shape in QUICK_GRID if args.quick else GRID:
            for mode in ("fwd+bwd",) if args.no_train else ("fwd+bwd", "train"):
                print(f"timing {cell} {mode} T, B, I, H = {shape}", file=sys.stderr, flush=True)
                rows.append(bench_row(cell, shape, mode, args.backend, torch, adam, args.repeats, args.settle))
    # The machine's rate is what it reaches when it is least disturbed: measured before and after.
    rate = max(rate, matmul_rate(xp))
    for row in rows:
        if row["available"]:
            row["matmul_fraction"] = row["gflops"] * 1e9 / rate
    info = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), machine=platform.machine(),
                processor=platform.processor() or platform.machine(), cores=os.cpu_count(),
                python=platform.python_version(), numpy=numpy.__version__, backend=args.backend,
                torch=None if torch is None else torch.__version__, threads=args.threads, blas_threads=blas_note,
                matmul_gflops=round(rate / 1e9, 1), dtype="float32", repeats=args.repeats)
    if args.backend == "cupy":
        info["gpu"] = xp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    summary = summarize(rows)
    if args.json:
        json.dump(dict(info=info, rows=rows, summary=summary), sys.stdout, indent=1)
        print()
    else:
        print("\n".join([_header(info)] + [_format_row(row) for row in rows] + [_format_summary(summary)]))
    return 0


# -- what is measured -------------------------------------------------------------------------
def matmul_flops(n_gates: int, T: int, B: int, I: int, H: int, V: int = 0) -> int:
    """Multiply-adds x 2 of one layer's forward and backward, plus a head to V classes.

    Forward: x W_ih^T and h W_hh^T; backward: dx, dW_ih, dh and dW_hh. Each is
    2 T B GH times I or H.
    """
    GH = n_gates * H
    return 6 * T * B * GH * (I + H) + 6 * T * B * H * V


def matmul_rate(xp, n: int = 2048, repeats: int = 10) -> float:
    """This machine's float32 matmul rate in FLOP/s: the best of a few n x n products."""
    a = xp.asarray(numpy.random.default_rng(0).standard_normal((n, n), dtype=numpy.float32))
    best = min(_timed(lambda: a @ a, xp) for _ in range(repeats + 1))
    return 2 * n ** 3 / best


def _timed(fn, xp) -> float:
    """Seconds one call of fn takes, waiting for the GPU to finish on CuPy."""
    sync = _synchronizer(xp)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def _timed_alone(fn, xp, settle: float) -> float:
    """Seconds one call of fn takes after a rest and an untimed call (see SETTLE)."""
    time.sleep(settle)
    fn()
    return _timed(fn, xp)


def _synchronizer(xp):
    if xp is numpy:
        return lambda: None
    return lambda: xp.cuda.get_current_stream().synchronize()


def bench_row(cell: str, shape, mode: str, backend_name: str, torch, adam, repeats: int,
              settle: float = SETTLE) -> dict:
    """Time one (cell, shape, mode) for minirnn and, when given, torch; return the row as a dict.

    shape: (T, B, I, H); mode: "fwd+bwd" or "train"; settle: seconds of rest before
    each timed run. The caller adds matmul_fraction, once it knows the machine's rate.
    """
    xp = backend.namespace(backend_name)
    T, B, I, H = shape
    cls, n_gates = CELLS[cell]
    host = numpy.random.default_rng(0)
    row = dict(cell=cell, T=T, B=B, I=I, H=H, mode=mode)
    if mode == "train" and adam is None:
        return dict(row, available=False, note="minirnn.optim.Adam is not in this tree")
    inputs = dict(x=host.standard_normal((T, B, I), dtype=numpy.float32),      # fwd+bwd
                  d_out=host.standard_normal((T, B, H), dtype=numpy.float32),
                  ids=host.integers(0, I, size=(T, B)), target=host.integers(0, I, size=(T, B)))  # train
    x, d_out, ids, target = (xp.asarray(inputs[k]) for k in ("x", "d_out", "ids", "target"))

    if mode == "fwd+bwd":
        model = cls(I, H, seed=0).to(backend_name)

        def step():
            model.forward(x)
            model.backward(d_out)
        flops = matmul_flops(n_gates, T, B, I, H)
    else:
        model = CharRNN(I, emb=I, hidden=H, cell=cell, seed=0).to(backend_name)
        optimizer = adam(model, lr=1e-3)

        def step():
            model.zero_grad()
            logits, _ = model.forward(ids)
            _, d_logits = cross_entropy(logits, target)
            model.backward(d_logits)
            optimizer.step()
        flops = matmul_flops(n_gates, T, B, I, H, V=I)
    torch_step = None if torch is None else _torch_step(torch, cell, model, mode, inputs, xp)

    step()                                     # warm-up: first-touch allocations, BLAS start-up
    if torch_step is not None:
        torch_step()
    ours, theirs = [], []
    for _ in range(repeats):                   # interleaved, so a busy moment slows both
        ours.append(_timed_alone(step, xp, settle))
        if torch_step is not None:
            theirs.append(_timed_alone(torch_step, xp, settle))
    seconds = statistics.median(ours)
    (model if mode == "fwd+bwd" else model.rnn).release_buffers()   # so that the peak counts them
    row.update(available=True, ms=seconds * 1e3, tokens_per_s=T * B / seconds, gflops=flops / seconds / 1e9,
               peak_mib=_peak_memory(step, xp) / 2 ** 20)
    if theirs:
        torch_seconds = statistics.median(theirs)
        row.update(torch_ms=torch_seconds * 1e3, speedup=torch_seconds / seconds)
    return row


def _peak_memory(step, xp) -> float:
    """Bytes at the peak of one step: traced by tracemalloc on NumPy, the memory pool's size on CuPy."""
    if xp is not numpy:
        pool = xp.get_default_memory_pool()
        pool.free_all_blocks()
        step()
        return pool.total_bytes()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- torch, the referee ---------------------------------------------------------------------------
def _import_torch(threads: int, backend_name: str):
    """torch set to ``threads`` threads, or None when it is not installed (or has no GPU for cupy)."""
    try:
        import torch
    except ImportError:
        return None
    if backend_name == "cupy" and not torch.cuda.is_available():
        return None
    torch.set_num_threads(threads)
    return torch


def _torch_step(torch, cell: str, model, mode: str, inputs: dict, xp):
    """torch's version of the same step, with the minirnn model's weights copied in."""
    device = "cpu" if xp is numpy else "cuda"
    as_torch = lambda a: torch.from_numpy(backend.to_host(a)).to(device)  # noqa: E731
    T, B, I = inputs["x"].shape
    H = inputs["d_out"].shape[-1]
    rnn = getattr(torch.nn, cell.upper())(I, H)
    if mode == "fwd+bwd":
        layer = rnn.to(device)
        copy_weights(torch, model, layer)
        x, d_out = as_torch(inputs["x"]).requires_grad_(), as_torch(inputs["d_out"])

        def step():
            out, _ = layer(x)
            out.backward(d_out)
        return _synchronized(torch, step, device)
    net = torch.nn.Module()   # CharRNN's twin: the same attribute names, so the same parameter names
    net.embedding, net.rnn, net.head = torch.nn.Embedding(I, I), rnn, torch.nn.Linear(H, I)
    net = net.to(device)
    copy_weights(torch, model, net)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    ids, target = as_torch(inputs["ids"]), as_torch(inputs["target"]).reshape(T * B)

    def step():
        optimizer.zero_grad()
        out, _ = net.rnn(net.embedding(ids))
        loss = torch.nn.functional.cross_entropy(net.head(out).reshape(T * B, I), target)
        loss.backward()
        optimizer.step()
    return _synchronized(torch, step, device)


def _synchronized(torch, step, device: str):
    """The step, waiting at its end for torch's CUDA work (the timer syncs only CuPy's stream)."""
    if device == "cpu":
        return step

    def synchronized_step():
        step()
        torch.cuda.synchronize()
    return synchronized_step


def copy_weights(torch, model, module) -> None:
    """Copy a minirnn model's parameters into the torch module with the same parameter names."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(backend.to_host(model.params[name])))


def _import_adam():
    """minirnn.optim.Adam, or None where this tree does not have it yet (the train column is then skipped)."""
    try:
        from ..training.optim import Adam
    except ImportError:
        return None
    return Adam


def _limit_blas_threads(threads: int) -> str:
    """Limit NumPy's BLAS to ``threads`` threads when threadpoolctl is installed; say what was done."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "BLAS default (install threadpoolctl to set it)"
    threadpool_limits(threads, user_api="blas")
    return str(threads)


# -- the report -------------------------------------------------------------------------------------
def summarize(rows) -> dict:
    """Per cell and mode: the median and the lowest torch/minirnn ratio, and the best matmul fraction."""
    summary = {}
    for row in rows:
        if row.get("available"):
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
    device = info.get("gpu", f"{info['processor']}, {info['cores']} cores")
    lines = [f"minirnn bench  {info['date']}  {device}  {info['backend']} {info['dtype']}",
             f"python {info['python']}  numpy {info['numpy']}  torch {info['torch'] or '(not run)'}  "
             f"threads {info['threads']} (BLAS: {info['blas_threads']})",
             f"matmul rate {info['matmul_gflops']} GFLOP/s (float32, best of before and after); "
             f"times are medians of {info['repeats']} runs",
             "",
             f"{'cell':5} {'mode':8} {'T':>4} {'B':>4} {'I':>5} {'H':>5} {'ms':>9} {'tok/s':>9} "
             f"{'GFLOP/s':>8} {'% mm':>5} {'peak MiB':>8} {'torch ms':>9} {'vs torch':>8}"]
    return "\n".join(lines)


def _format_row(row: dict) -> str:
    start = f"{row['cell']:5} {row['mode']:8} {row['T']:4d} {row['B']:4d} {row['I']:5d} {row['H']:5d}"
    if not row["available"]:
        return f"{start}  ({row['note']})"
    text = (f"{start} {row['ms']:9.2f} {row['tokens_per_s']:9.0f} {row['gflops']:8.1f} "
            f"{100 * row['matmul_fraction']:5.0f} {row['peak_mib']:8.1f}")
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
