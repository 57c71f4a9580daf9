"""Time minirnn's RNN, LSTM and GRU against torch.nn's, forward + backward and a training step.

Each library runs in processes of its own, in alternating rounds, with the same weights,
inputs and thread count; the times are medians. The OpenBLAS pins some machines set
(OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) are unset for those processes only. The header
names the BLAS and the kernel it runs (with threadpoolctl installed: pip install
threadpoolctl, or minirnn[bench]). Besides each row's time and rate, "step GF/s" and
"step ms" give the rate and time of that row's per-step recurrent products alone.

  minirnn bench --quick          three shapes, a few minutes
  minirnn bench                  the full grid
  minirnn bench --cells lstm --json > lstm.json
  minirnn bench --show lstm.json  the table of saved results
"""
from ..bench.bench import add_arguments, run  # noqa: F401  (the subcommand contract)

THREADS_IN_WORKERS = True     # --threads goes to the benchmark's worker processes, for NumPy's BLAS and torch
