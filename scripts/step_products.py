#!/usr/bin/env python
"""The per-step recurrent products of the benchmark's grid, in the two layouts a time loop can keep.

    python scripts/step_products.py [--threads N] [--repeats N]

For each (T, B, H) of minirnn bench's grid and each cell's G (1, 3, 4), T products of each
kind, timed alone in float32 (GFLOP/s, the best of --repeats rounds that alternate the layouts):

    batch-major    h (B, H) @ W_hh^T (H, G*H) forward,  d (B, G*H) @ W_hh (G*H, H) backward
                   (minirnn's time loop: rows of the batch, as torch's API has them)
    feature-major  W_hh (G*H, H) @ h (H, B) forward,    W_hh^T (H, G*H) @ d (G*H, B) backward

It runs in a process without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, as the benchmark's do.
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

import numpy  # noqa: E402

from minirnn.tools.bench.bench import GRID, worker_environment  # noqa: E402


def rates(T: int, B: int, H: int, G: int, repeats: int) -> dict:
    """GFLOP/s of T forward and T backward products in each layout."""
    rng = numpy.random.default_rng(0)
    GH = G * H
    W = rng.standard_normal((GH, H), dtype=numpy.float32)
    W_t = numpy.ascontiguousarray(W.T)
    h_rows, d_rows = (rng.standard_normal((T, B, n), dtype=numpy.float32) for n in (H, GH))
    h_cols, d_cols = (numpy.ascontiguousarray(a.transpose(0, 2, 1)) for a in (h_rows, d_rows))
    out = {"fwd": (numpy.empty((B, GH), numpy.float32), numpy.empty((GH, B), numpy.float32)),
           "bwd": (numpy.empty((B, H), numpy.float32), numpy.empty((H, B), numpy.float32))}
    products = {
        "batch-major fwd": lambda: [numpy.matmul(h_rows[t], W_t, out=out["fwd"][0]) for t in range(T)],
        "feature-major fwd": lambda: [numpy.matmul(W, h_cols[t], out=out["fwd"][1]) for t in range(T)],
        "batch-major bwd": lambda: [numpy.matmul(d_rows[t], W, out=out["bwd"][0]) for t in range(T)],
        "feature-major bwd": lambda: [numpy.matmul(W_t, d_cols[t], out=out["bwd"][1]) for t in range(T)],
    }
    best = dict.fromkeys(products, float("inf"))
    for _ in range(repeats + 1):                  # the first round warms up
        for name, run in products.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: 2 * T * B * GH * H / seconds / 1e9 for name, seconds in best.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds, the best is kept (default 5)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child:                            # measure in a process without the OpenBLAS pins
        command = [sys.executable, __file__, "--child", "--repeats", str(args.repeats)]
        return subprocess.run(command, env=worker_environment(args.threads)).returncode
    names = ("batch-major fwd", "feature-major fwd", "batch-major bwd", "feature-major bwd")
    print(f"{'T':>4} {'B':>4} {'H':>5} {'G':>2}  " + "  ".join(f"{n:>17}" for n in names) + "   (GFLOP/s)")
    for T, B, _, H in GRID:
        for G in (1, 3, 4):
            result = rates(T, B, H, G, args.repeats)
            print(f"{T:4d} {B:4d} {H:5d} {G:2d}  " + "  ".join(f"{result[n]:17.1f}" for n in names), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
