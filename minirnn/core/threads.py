"""How many threads the BLAS behind NumPy's matmuls may use: set_num_threads, torch's counterpart."""
from __future__ import annotations

from . import validate


def set_num_threads(threads: int) -> None:
    """Let the BLAS and OpenMP thread pools of this process use at most ``threads`` threads, from now on.

    The recurrent matmuls of a time step are small, and a BLAS that starts one thread
    per core for each of them can run several times slower than one thread, most of
    all on a machine whose cores other work keeps busy. Applies to the libraries this
    process has loaded (NumPy's BLAS is loaded with NumPy), not to CuPy's GPU work.
    Needs threadpoolctl (``pip install threadpoolctl``, or ``minirnn[threads]``).
    """
    threads = validate.positive_int("threads", threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise RuntimeError("setting the number of threads needs threadpoolctl, which is not installed: "
                           "pip install threadpoolctl (or minirnn[threads])") from None
    threadpool_limits(limits=threads)      # kept for the process: used outside a with block, nothing restores it
