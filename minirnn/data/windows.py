"""Windows of a text and a seeded random split of them: the examples of the course's window models.

A window of ``length`` ids comes with its targets, the same window one character
on: ``targets[i, t]`` is the character after ``inputs[i, t]``, so
``targets[:, -1]`` is the character after the whole window (a model that
predicts once per window) and ``targets`` the one after every step (a model that
predicts at every step). Consecutive windows start ``stride`` characters apart:
stride 1 gives the overlapping windows (one at every position), stride =
length the non-overlapping ones (the text cut into pieces).
"""
from __future__ import annotations

import numpy

from ..core import validate


def windows(ids: numpy.ndarray, length: int, stride: int = 1) -> tuple[numpy.ndarray, numpy.ndarray]:
    """(inputs, targets), each (N, length): window i is ids[i stride : i stride + length], its targets one on.

    Every window whose targets fit in ``ids`` is taken: N = ceil((len(ids) - length) / stride),
    which is len(ids) - length overlapping windows (stride 1) and (len(ids) - 1) // length
    non-overlapping ones (stride = length). Both are read-only views of ``ids``, not copies.
    """
    length = validate.positive_int("length", length)
    stride = validate.positive_int("stride", stride)
    if not hasattr(ids, "ndim") or ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise TypeError(f"ids must be a 1-D integer array, got {validate.describe(ids)}")
    if len(ids) <= length:
        raise ValueError(f"ids of {len(ids)} characters hold no window of length {length} with its target: "
                         f"it needs at least {length + 1}")
    # Row i of the (len - length, length + 1) view is ids[i : i + length + 1], a window and the character after it.
    spans = numpy.lib.stride_tricks.sliding_window_view(ids, length + 1)[::stride]
    return spans[:, :-1], spans[:, 1:]


def random_split(n: int, val_fraction: float, seed: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    """(train, val): the indices 0..n-1 split at random, int(n val_fraction) of them for validation.

    The draw depends on ``seed`` alone (a NumPy generator's permutation), so two
    programs that split n examples with the same seed split them the same way.
    Each part is returned in increasing order.
    """
    n = validate.positive_int("n", n)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}")
    seed = validate.non_negative_int("seed", seed)
    n_val = int(n * val_fraction)
    if n_val == 0 or n_val == n:
        raise ValueError(f"val_fraction {val_fraction} of {n} examples leaves {n - n_val} for training and {n_val} "
                         "for validation; each needs at least one")
    order = numpy.random.default_rng(seed).permutation(n)
    return numpy.sort(order[n_val:]), numpy.sort(order[:n_val])
