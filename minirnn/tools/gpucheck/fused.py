"""Each kind's fused CuPy kernels held against its gate math's NumPy lines, one step forward and backward.

The sequence layer calls a gate math's ``gpu_forward`` and ``gpu_backward`` on CuPy and its
``forward`` and ``backward`` on NumPy, with the same signatures and buffers
(minirnn.gates.GateMath). :func:`compare_cell` gives both the same random float64
step, the GPU pair on device arrays, and returns the largest difference in what
each hands on. The output buffers start as NaN, so a value that one side writes
and the other leaves alone counts as an infinite difference.
"""
from __future__ import annotations

import numpy

from minirnn.core import backend

TOLERANCE = 1e-12


def _step_arrays(gate_math, B: int, H: int, seed: int) -> dict:
    """Host arrays of one random step: inputs drawn, outputs NaN."""
    rng = numpy.random.default_rng(seed)
    n_states, GH = len(gate_math.state_names), gate_math.n_gates * H
    nan = lambda *shape: numpy.full(shape, numpy.nan)  # noqa: E731
    return dict(gates=rng.standard_normal((B, GH)), hh=rng.standard_normal((B, GH)),
                prev=tuple(rng.standard_normal((B, H)) for _ in range(n_states)),
                out=tuple(nan(B, H) for _ in range(n_states)), saved=nan(B, H) if gate_math.n_saved else None,
                prepared=nan(B, gate_math.n_prepared * H) if gate_math.n_prepared else None,
                scratch=tuple(nan(B, k * H) for k in gate_math.scratch_widths),
                d_state=tuple(rng.standard_normal((B, H)) for _ in range(n_states)),
                d_gates=nan(B, GH), d_hh=None if gate_math.shares_gate_grads else nan(B, GH))


def _run(step_forward, prepare_backward, step_backward, arrays: dict) -> dict:
    """Forward then backward on ``arrays`` (changed in place); returns what each wrote.

    prepare_backward: the NumPy lines' local derivatives for a block of steps, here a block of
    one (the sequence layer's call, minirnn.layers.unroll), or None for the fused kernels, which
    take them in their backward.
    """
    a = arrays
    step_forward(a["gates"], a["hh"], a["prev"], a["out"], a["saved"], a["scratch"])
    # What the forward leaves in gates is its own business (the Elman kernel leaves the input there,
    # NumPy's lines the sum): the backward, which reads it, shows whether it was right.
    forward = dict(**{f"out[{k}]": o.copy() for k, o in enumerate(a["out"])},
                   **({} if a["saved"] is None else {"saved": a["saved"].copy()}))
    d_hh = a["d_gates"] if a["d_hh"] is None else a["d_hh"]
    prepared = None
    if prepare_backward is not None:
        prepared = a["prepared"]
        states = tuple(numpy.stack([prev, out]) for prev, out in zip(a["prev"], a["out"]))   # (2, B, H): t-1, t
        prepare_backward(a["gates"][None], states, None if a["saved"] is None else a["saved"][None],
                         None if prepared is None else prepared[None], a["d_gates"][None], d_hh[None])
    direct = step_backward(a["d_state"], a["gates"], a["prev"], a["out"], a["saved"], prepared, a["d_gates"], d_hh,
                           a["scratch"])
    backward = dict(d_gates=a["d_gates"], **{f"d_state[{k}]": d for k, d in enumerate(a["d_state"][1:], 1)},
                    **({} if a["d_hh"] is None else {"d_hh": a["d_hh"]}),
                    **({} if direct is None else {"direct": direct}))
    return dict(forward=forward, backward=backward)


def _difference(got, want) -> float:
    """max |got - want|, with NaN against NaN equal and NaN against a number infinite."""
    got = backend.to_host(got)
    both_nan = numpy.isnan(got) & numpy.isnan(want)
    error = numpy.where(both_nan, 0.0, numpy.abs(got - want))
    return float(numpy.nan_to_num(error, nan=numpy.inf).max(initial=0.0))


def compare_cell(gate_math, xp, B: int = 5, H: int = 7, seed: int = 0, functions=None) -> dict:
    """{"forward": error, "backward": error}: the largest difference between the gate math's NumPy step and
    its fused kernels (or ``functions``, a (forward, prepare_backward or None, backward) triple) run on
    arrays of module ``xp``.

    Each error is the worst over the arrays the step hands on: forward the new state and the
    values kept for the backward, backward the gate gradients and the state gradients; in float64.
    """
    host = _step_arrays(gate_math, B, H, seed)
    device = {key: None if value is None else
              tuple(xp.asarray(v) for v in value) if isinstance(value, tuple) else xp.asarray(value)
              for key, value in host.items()}
    want = _run(gate_math.forward, gate_math.prepare_backward, gate_math.backward, host)
    got = _run(*(functions or (gate_math.gpu_forward, None, gate_math.gpu_backward)), device)
    return {phase: max(_difference(got[phase][name], value) for name, value in want[phase].items())
            for phase in ("forward", "backward")}
