"""Losses that return the loss and its gradient together, reduced by the mean as torch does."""
from __future__ import annotations

import numbers

from ..core import backend, validate
from .activations import log_softmax_backward, log_softmax_forward


def _counted(target, ignore_index, mask, xp):
    """A float weight per target: 1 where it counts, 0 for ignore_index or mask == 0."""
    weight = xp.ones(target.shape, dtype=bool)
    if ignore_index is not None:
        weight &= target != ignore_index
    if mask is not None:
        weight &= mask.astype(bool)
    return weight


def _check(name, scores, target, ignore_index, mask):
    """Validate (B, V) or (T, B, V) float scores, integer targets of their leading shape, an integer
    ignore_index or None, and a bool or number mask of the targets' shape or None."""
    validate.refuse_torch(name, scores)
    if not hasattr(scores, "dtype") or scores.dtype.kind != "f" or scores.ndim not in (2, 3):
        error = ValueError if hasattr(scores, "dtype") and scores.dtype.kind == "f" else TypeError
        raise error(f"{name} must be (B, V) or (T, B, V) float array, got {validate.describe(scores)}")
    integer = isinstance(ignore_index, numbers.Integral) and not isinstance(ignore_index, bool)
    if ignore_index is not None and not integer:
        raise TypeError(f"ignore_index must be an integer or None, got {ignore_index!r}")
    xp = backend.array_module(scores)
    validate.id_array("target", target, scores.shape[:-1], scores.shape[-1], xp, ignore_index)
    if mask is not None:
        validate.refuse_torch("mask", mask)
        validate.check_backend("mask", mask, xp.__name__)
        numeric = hasattr(mask, "dtype") and mask.dtype.kind in "biuf"
        if not numeric or tuple(mask.shape) != tuple(target.shape):
            raise (ValueError if numeric else TypeError)(
                f"mask must be a bool or number array of the target's shape {tuple(target.shape)}, "
                f"got {validate.describe(mask)}")
    return xp


def nll_loss(logp, target, ignore_index: int | None = None, mask=None):
    """Negative log-likelihood of the targets, averaged over the targets that count.

    logp: (B, V) or (T, B, V) log-probabilities; target: (B,) or (T, B) ints in [0, V).
    ignore_index: a target value that does not count (padding); mask: same shape as
    target, zero where a target does not count. Returns (loss, d_logp) with loss a
    Python float: L = -(1/N) sum_n logp[n, target[n]].
    """
    return _nll(logp, target, ignore_index, mask, _check("logp", logp, target, ignore_index, mask))


def _nll(logp, target, ignore_index, mask, xp):
    """nll_loss once its arguments are checked (cross_entropy checks its own, so the targets are read once)."""
    weight = _counted(target, ignore_index, mask, xp)
    # With no ignore_index and no mask every target counts: the device need not be asked how many.
    count = target.size if ignore_index is None and mask is None else int(weight.sum())
    if count == 0:
        raise ValueError("nll_loss has no target to average: every target is ignored or masked")
    rows = logp.reshape(-1, logp.shape[-1])
    flat_target = xp.where(weight, target, 0).reshape(-1)
    flat_weight = weight.reshape(-1).astype(logp.dtype)
    picked = rows[xp.arange(rows.shape[0]), flat_target]
    loss = -float((picked * flat_weight).sum()) / count
    d_rows = xp.zeros_like(rows)
    d_rows[xp.arange(rows.shape[0]), flat_target] = -flat_weight / count   # dL/dlogp = -1/N at the target
    return loss, d_rows.reshape(logp.shape)


def cross_entropy(logits, target, ignore_index: int | None = None, mask=None):
    """nll_loss(log_softmax(logits), target), with the combined gradient (softmax - onehot) / N.

    logits: (B, V) or (T, B, V). Stable at any logit size (the row maximum is
    subtracted inside the log-softmax). Returns (loss, d_logits).
    """
    xp = _check("logits", logits, target, ignore_index, mask)
    logp, cache = log_softmax_forward(logits)
    loss, d_logp = _nll(logp, target, ignore_index, mask, xp)
    return loss, log_softmax_backward(d_logp, cache)
