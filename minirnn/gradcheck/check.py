"""Central finite differences against the hand-written gradients.

For a scalar loss L(theta), the central difference

    n_i = (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)

approximates dL/dtheta_i with an error of order eps^2 (plus rounding of order
1e-16 |L| / eps), so in float64 with eps = 1e-6 it agrees with a correct
analytic gradient a_i to about 1e-9. An entry passes when
|a - n| <= atol + rtol |n| with atol = 1e-7 and rtol = 1e-6 (torch.autograd's
gradcheck allows 1e-5 + 1e-3 |n|).

A ReLU is not differentiable at 0: when the +eps and -eps evaluations see a
ReLU input on different sides of 0, the difference quotient straddles a kink
and means nothing. The loss itself shows when that happens. With L0 = L(theta),
the second difference

    c_i = |L(theta + eps e_i) - 2 L0 + L(theta - eps e_i)| / (2 eps)

is eps |L''| / 2, about 1e-6 |L''|, where L is smooth; across a kink whose slope
jumps by J at a distance d < eps it is |J| (eps - d) / (2 eps), exactly the error
the kink puts into n_i. So an entry that misses the tolerance while c_i accounts
for at least half its error crossed a kink: it is skipped (or redrawn when
checking a random subset) and counted in the report. A wrong backward is not
excused this way: its error has nothing to do with the curvature of L.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy  # host-side bookkeeping of the comparison; the model math runs on its own backend

from ..core import backend, validate

EPS = 1e-6
ATOL = 1e-7
RTOL = 1e-6
TINY = 1e-30


@dataclass
class TensorReport:
    """How one tensor's gradient compared with finite differences."""
    name: str
    checked: int            # entries compared (plus one random direction for large tensors)
    kinks: int              # entries skipped or redrawn because a step crossed a ReLU kink
    live: int               # entries compared whose gradient is not exactly 0 (analytic or numerical)
    max_abs_error: float    # max |a - n|
    max_rel_error: float    # max |a - n| / max(|a| + |n|, tiny)
    tolerance_used: float   # max |a - n| / (atol + rtol |n|): the share of its tolerance the worst entry used
    passed: bool            # every entry within atol + rtol |n| (tolerance_used <= 1)
    worst_index: tuple | None = None   # the entry where |a - n| is largest (None: the random direction)

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "FAIL"
        return (f"{self.name:<24} {self.checked:>7} {self.kinks:>5} {self.max_abs_error:>10.2e} "
                f"{self.max_rel_error:>10.2e} {self.tolerance_used:>9.1%}  {verdict}")


def _entry_losses(loss_fn, array, index, eps) -> tuple[float, float]:
    """L with one entry moved by +eps and by -eps (the entry is restored, also when loss_fn raises)."""
    original = float(array[index])
    try:
        array[index] = original + eps
        loss_plus = float(loss_fn())
        array[index] = original - eps
        loss_minus = float(loss_fn())
    finally:
        array[index] = original
    return loss_plus, loss_minus


def _direction_losses(loss_fn, array, direction, eps) -> tuple[float, float]:
    """L with the whole tensor moved by +eps v and by -eps v (the tensor is restored, also when loss_fn raises)."""
    original = array.copy()
    try:
        array += eps * direction
        loss_plus = float(loss_fn())
        array[...] = original - eps * direction
        loss_minus = float(loss_fn())
    finally:
        array[...] = original
    return loss_plus, loss_minus


class _Judge:
    """Turns the two losses of a step into a verdict: a (analytic, numeric) pair to compare, or a kink."""

    def __init__(self, loss_0: float, eps: float, atol: float, rtol: float):
        self.loss_0, self.eps, self.atol, self.rtol = loss_0, eps, atol, rtol

    def crossed_kink(self, analytic: float, losses: tuple[float, float]) -> bool:
        """True when the step missed the tolerance and L's second difference accounts for the miss."""
        loss_plus, loss_minus = losses
        numeric = (loss_plus - loss_minus) / (2 * self.eps)
        error = abs(analytic - numeric)
        if error <= self.atol + self.rtol * abs(numeric):
            return False
        bend = abs(loss_plus - 2 * self.loss_0 + loss_minus) / (2 * self.eps)
        return bend >= 0.5 * error

    def numeric(self, losses: tuple[float, float]) -> float:
        return (losses[0] - losses[1]) / (2 * self.eps)


def check_gradients(loss_fn, grads: dict, tensors: dict, *, eps: float = EPS, atol: float = ATOL,
                    rtol: float = RTOL, max_entries: int = 400, seed: int = 0) -> list[TensorReport]:
    """Compare analytic gradients with central finite differences, tensor by tensor.

    loss_fn: () -> float, the loss computed from the current values of ``tensors``
        (it must be deterministic: hold dropout masks and other randomness fixed).
    grads: name -> analytic dL/d(tensor), computed beforehand at the same point.
    tensors: name -> float64 array that loss_fn reads; entries are perturbed in
        place and restored.
    max_entries: tensors with at most this many entries are checked entry by
        entry; larger ones at a seeded random subset of that many entries plus
        one random direction over the whole tensor.
    eps: the step, a finite number > 0; atol, rtol: finite numbers >= 0.
    Returns one :class:`TensorReport` per tensor, in the order of ``tensors``.
    """
    eps = validate.finite_number("eps", eps, positive=True)
    atol, rtol = validate.finite_number("atol", atol), validate.finite_number("rtol", rtol)
    max_entries = validate.positive_int("max_entries", max_entries)
    for name, array in tensors.items():                # all of them before the first loss is computed
        if backend.backend_name(array) not in backend.BACKENDS or array.dtype != numpy.float64:
            raise TypeError(f"the gradient check needs float64 tensors; {name} is {validate.describe(array)}")
        if name not in grads:
            raise ValueError(f"grads has no gradient for the tensor {name!r}; it has {sorted(grads, key=str)}")
        if backend.backend_name(grads[name]) not in backend.BACKENDS:
            raise TypeError(f"grads[{name!r}] must be an array, got {validate.describe(grads[name])}")
        if tuple(grads[name].shape) != tuple(array.shape):
            raise ValueError(f"gradient of {name} has shape {tuple(grads[name].shape)}, the tensor "
                             f"{tuple(array.shape)}")
    picker = numpy.random.default_rng(seed)
    judge = _Judge(float(loss_fn()), eps, atol, rtol)
    reports = []
    for name, array in tensors.items():
        analytic = backend.to_host(grads[name]).astype(numpy.float64)
        pairs, kinks = [], 0
        if array.size <= max_entries:
            for index in numpy.ndindex(*array.shape):
                losses = _entry_losses(loss_fn, array, index, eps)
                if judge.crossed_kink(analytic[index], losses):
                    kinks += 1
                else:
                    pairs.append((analytic[index], judge.numeric(losses), index))
        else:
            tries = 0
            while len(pairs) < max_entries and tries < 4 * max_entries:
                tries += 1
                index = tuple(int(picker.integers(n)) for n in array.shape)
                losses = _entry_losses(loss_fn, array, index, eps)
                if judge.crossed_kink(analytic[index], losses):
                    kinks += 1             # redraw: another entry takes its place
                else:
                    pairs.append((analytic[index], judge.numeric(losses), index))
            direction = picker.standard_normal(array.shape)
            direction /= numpy.linalg.norm(direction)
            losses = _direction_losses(loss_fn, array, backend.to_backend(direction, backend.backend_name(array)), eps)
            along = float((analytic * direction).sum())
            if judge.crossed_kink(along, losses):
                kinks += 1
            else:
                pairs.append((along, judge.numeric(losses), None))
        a = numpy.array([p[0] for p in pairs], dtype=numpy.float64)
        n = numpy.array([p[1] for p in pairs], dtype=numpy.float64)
        error = numpy.abs(a - n)
        reports.append(TensorReport(
            name=name, checked=len(pairs), kinks=kinks, live=int(((a != 0) | (n != 0)).sum()),
            max_abs_error=float(error.max(initial=0.0)),
            max_rel_error=float((error / numpy.maximum(numpy.abs(a) + numpy.abs(n), TINY)).max(initial=0.0)),
            tolerance_used=float((error / numpy.maximum(atol + rtol * numpy.abs(n), TINY)).max(initial=0.0)),
            passed=bool((error <= atol + rtol * numpy.abs(n)).all()),
            worst_index=pairs[int(error.argmax())][2] if pairs else None))
    return reports
