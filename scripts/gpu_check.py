#!/usr/bin/env python
"""Prove minirnn's CuPy path on a GPU machine, in one command and one table (under five minutes):

    PYTHONPATH=. python scripts/gpu_check.py [--minutes 4.5] [--no-suite] [--no-bench] [--json PATH]

NVRTC compiles every fused kernel; each kernel is held against its cell's NumPy lines
(float64, <= 1e-12); the gradient check runs on CuPy in float64; the test suite runs with
CuPy present; the benchmark times minirnn against torch's cuDNN RNNs. Exit status 0 when
every check passed, 1 when one failed, 2 without a GPU. See minirnn/tools/gpucheck/stages.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn.tools.gpucheck.stages import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
