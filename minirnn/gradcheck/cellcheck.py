"""Checking one cell's backward, step by step: against finite differences, and against minirnn's own cell.

``check_cell`` takes a learner's cell (a Cell, a step pair, or "FILE.py:NAME": see learner.py),
runs it forward for a few steps on small random float64 inputs, each step from the state the step
before left, and then calls each step's backward, the last step first, as BPTT does. Each step's
backward is then checked on its own. For step t the loss is

    L_t = sum over the states s of  D_t,s * s_next       (D_t fixed random weights, so d_next_state = D_t)

and every gradient the step returned (dW_ih, dW_hh, db_ih, db_hh, dx, dh_prev, dc_prev) is held
against central differences of L_t (:func:`minirnn.gradcheck.check_gradients`), with the step's
weights, input and incoming state moved one entry at a time. Checked together through BPTT, one
wrong step would spoil the gradients of every step before it; checked apart, an error shows at the
step and in the gate block where it is made.

Where minirnn has a cell of the same kind, it runs with the same weights, from the same state, at
every step: its next state must equal the learner's, and, given the same D_t, its gradients too. The
finite differences prove that the backward is the derivative of the learner's forward; this
comparison shows that the forward is the cell it claims to be.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy

from ..core import validate
from ..core.param_names import CELL_PARAM_NAMES, cell_param_shapes
from .check import ATOL, EPS, RTOL, check_gradients
from .learner import StepPair, as_step_pair, layout, minirnn_cell

# The report's names for the parameters' gradients, as the equations write them: dW_ih, dW_hh, db_ih, db_hh.
GRADIENT_NAMES = {name: "d" + name.replace("weight", "W").replace("bias", "b") for name in CELL_PARAM_NAMES}


@dataclass
class Comparison:
    """The learner's array against minirnn's over every step: the largest difference and where it is."""
    max_diff: float
    where: str             # "batch 0, unit 3, step 2"
    mine: float            # the two values there
    minirnn: float
    passed: bool           # every entry within atol + rtol |minirnn|


@dataclass
class GradientCheck:
    """One gradient (dW_hh, dx, ...) at every step: finite differences, then minirnn's cell."""
    name: str
    steps: list            # one TensorReport per step, step 1 first
    places: list           # where in the array each step's worst |a - n| is: "f block, unit 2, col 0"
    vs_minirnn: Comparison | None = None   # None: nothing to compare with, or the forwards differ

    @property
    def worst_step(self) -> int:
        return max(range(len(self.steps)), key=lambda t: self.steps[t].max_abs_error)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.steps) and (self.vs_minirnn is None or self.vs_minirnn.passed)


def _verdict(passed: bool) -> str:
    return "ok" if passed else "FAIL"


@dataclass
class CellReport:
    """What :func:`check_cell` found; ``str(report)`` is the command's printout."""
    cell: StepPair
    sizes: dict
    seed: int
    forward: dict = field(default_factory=dict)      # state name -> Comparison with minirnn's next state
    gradients: list = field(default_factory=list)    # GradientCheck, in the order dW_ih ... dc_prev

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.forward.values()) and all(g.passed for g in self.gradients)

    def __str__(self) -> str:
        return self.format()

    def format(self, verbose: bool = False) -> str:
        """The printout: the cell, its forward against minirnn's, a row per gradient (and one per step
        for a gradient that fails, or for every gradient with ``verbose``), and the verdict."""
        cell, kind = self.cell, self.cell.kind
        lines = [f"Cell check of {cell.label}, {cell.form}",
                 f"kind: {kind.title}, {cell.kind_from}; {layout(kind)}" if kind else
                 f"kind: {cell.kind_from}, so only finite differences check it",
                 "run: {steps} steps from a random state, B={batch}, I={input_size}, H={hidden_size}, float64, "
                 "seed {seed}; each step's backward is checked on its own".format(seed=self.seed, **self.sizes), ""]
        if kind:
            lines += self._forward_lines() + [""]
        lines += self._gradient_lines(verbose)
        failed = [f"{s}_next" for s, c in self.forward.items() if not c.passed]
        failed += [g.name for g in self.gradients if not g.passed]
        lines.append(f"\nFAILED: {', '.join(failed)}" if failed else
                     "\npassed: every gradient of every step agrees with finite differences"
                     + (f", and the cell with {kind.cell_call()}" if kind else ""))
        return "\n".join(lines)

    def _forward_lines(self) -> list:
        kind = self.cell.kind
        lines = [f"forward against {kind.cell_call()} (the same x, state and weights at each step)"]
        lines += [f"  {s + '_next':<8} max |diff| {c.max_diff:.2e}  {c.where:<32} {_verdict(c.passed)}"
                  for s, c in self.forward.items()]
        differs = [(s, c) for s, c in self.forward.items() if not c.passed]
        if differs:
            (s, c), gates = differs[0], f", gates {', '.join(kind.gates)}" if kind.n_gates > 1 else ""
            lines.append(textwrap.fill(
                f"so this is not {kind.cell_call()}'s forward (torch's equations{gates}): {s}_next at {c.where} "
                f"is {c.mine:.6g} here and {c.minirnn:.6g} there, from the same x, state and weights; the "
                "gradients are not compared with minirnn's", width=104, initial_indent="  ", subsequent_indent="  "))
        return lines

    def _gradient_lines(self, verbose: bool) -> list:
        kind = self.cell.kind
        lines = [f"backward against central differences (eps {EPS:g}; an entry passes when |a - n| <= {ATOL:g} + "
                 f"{RTOL:g} |n|)"]
        lines += [f"and against {kind.cell_call()} (the same d_next_state)"] if kind else []
        lines.append(f"{'gradient':<9} {'entries':>7} {'kinks':>5} {'max |a - n|':>11}  {'where':<32} "
                     f"{'vs minirnn':>10}  result")
        for g in self.gradients:
            t = g.worst_step
            versus = f"{g.vs_minirnn.max_diff:>10.2e}" if g.vs_minirnn else f"{'-':>10}"
            lines.append(f"{g.name:<9} {sum(r.checked for r in g.steps):>7} {sum(r.kinks for r in g.steps):>5} "
                         f"{g.steps[t].max_abs_error:>11.2e}  {_at(g.places[t], t):<32} {versus}  "
                         f"{_verdict(g.passed)}")
            if verbose or not g.passed:
                lines += [f"  step {t + 1:<2} {r.checked:>7} {r.kinks:>5} {r.max_abs_error:>11.2e}  {place:<32} "
                          f"{'':>10}  {_verdict(r.passed)}" for t, (r, place) in enumerate(zip(g.steps, g.places))]
            if g.vs_minirnn and not g.vs_minirnn.passed and all(r.passed for r in g.steps):
                lines.append(f"  {g.name} at {g.vs_minirnn.where} is {g.vs_minirnn.mine:.6g} here and "
                             f"{g.vs_minirnn.minirnn:.6g} in {kind.cell_call()}")
        return lines


def check_cell(cell, kind: str | None = None, *, steps: int = 3, batch: int = 2, input_size: int = 3,
               hidden_size: int = 5, seed: int = 0) -> CellReport:
    """Check a cell's step backward against finite differences and minirnn's cell of the same kind.

    cell: a :class:`minirnn.gates.GateMath`, a (NAME_forward, NAME_backward) pair of step functions,
        or "FILE.py:NAME" naming either in a file (see :mod:`minirnn.gradcheck.learner`).
    kind: a name of minirnn.cell_kinds.CELL_KINDS ("rnn_tanh", "lstm", ...); by default read from the name.
    steps, batch, input_size, hidden_size: the sizes of the run, small so that every entry is checked
        (distinct by default, so that a transposed or misplaced block cannot fit by chance).
    Returns a :class:`CellReport`; ``report.passed`` is the verdict and ``print(report)`` shows it.
    """
    pair = as_step_pair(cell, kind)
    sizes = {name: validate.positive_int(name, value) for name, value in
             dict(steps=steps, batch=batch, input_size=input_size, hidden_size=hidden_size).items()}
    T, B, I, H = steps, batch, input_size, hidden_size
    rng = numpy.random.default_rng(seed)
    params = {name: 0.5 * rng.standard_normal(shape) for name, shape in cell_param_shapes(pair.n_gates, I, H).items()}
    xs = rng.standard_normal((T, B, I))
    d_next = rng.standard_normal((T, len(pair.state_names), B, H))     # D_t: dL_t/d(next state)

    # Forward, each step from the state the one before left; then every backward, the last step first.
    states_in, next_states, caches = [], [], []
    state = tuple(rng.standard_normal((B, H)) for _ in pair.state_names)
    for t in range(T):
        states_in.append(state)
        next_state, cache = pair.forward(xs[t].copy(), _copies(state), _copies(params))
        next_states.append(next_state)
        caches.append(cache)
        state = _copies(next_state)
    backwards = [None] * T
    for t in reversed(range(T)):
        backwards[t] = pair.backward(_copies(d_next[t]), caches[t], _copies(params))

    reports = [_check_step(pair, xs[t], states_in[t], params, d_next[t], backwards[t], seed) for t in range(T)]
    report = CellReport(pair, sizes, seed)
    for name in reports[0]:
        per_step = [r[name] for r in reports]
        report.gradients.append(GradientCheck(name, per_step, [_place(pair, name, r.worst_index, H) for r in per_step]))
    if pair.kind is not None:
        _compare_with_minirnn(report, xs, states_in, next_states, params, d_next, backwards)
    return report


def _copies(arrays):
    return {k: v.copy() for k, v in arrays.items()} if isinstance(arrays, dict) else tuple(a.copy() for a in arrays)


def _step_gradients(pair: StepPair, backward) -> dict:
    """A step's backward as gradient name -> array: dW_ih, dW_hh, db_ih, db_hh, dx, dh_prev (, dc_prev)."""
    dx, d_state, grads = backward
    named = {GRADIENT_NAMES[k]: grads[k] for k in CELL_PARAM_NAMES}
    return dict(named, dx=dx, **{f"d{s}_prev": d for s, d in zip(pair.state_names, d_state)})


def _check_step(pair: StepPair, x, state, params, d_next, backward, seed) -> dict:
    """Central differences of L_t = sum(D_t * next_state) for one step, every entry of every input.
    The inputs are keyed by the names of their gradients, which name the rows of the report."""
    tensors = dict({GRADIENT_NAMES[k]: v.copy() for k, v in params.items()}, dx=x.copy(),
                   **{f"d{s}_prev": v.copy() for s, v in zip(pair.state_names, state)})

    def loss() -> float:
        step_params = {k: tensors[GRADIENT_NAMES[k]].copy() for k in CELL_PARAM_NAMES}
        step_state = tuple(tensors[f"d{s}_prev"].copy() for s in pair.state_names)
        next_state, _ = pair.forward(tensors["dx"].copy(), step_state, step_params)
        return float(sum((d * s).sum() for d, s in zip(d_next, next_state)))

    largest = max(v.size for v in tensors.values())           # every entry, none sampled
    reports = check_gradients(loss, _step_gradients(pair, backward), tensors, max_entries=largest, seed=seed)
    return {r.name: r for r in reports}


def _place(pair: StepPair, name: str, index, H: int) -> str:
    """Where an entry is: 'f block, unit 2, col 0' in the weights' gate blocks, or 'batch 1, unit 3' in x or a state."""
    if index is None:                                   # every entry was skipped at a ReLU kink
        return "-"
    if name.startswith(("dW", "db")):
        row, columns = index[0], [f"col {index[1]}"] if len(index) == 2 else []
        return ", ".join(([pair.block(row // H)] if pair.n_gates > 1 else []) + [f"unit {row % H}"] + columns)
    return f"batch {index[0]}, {'input' if name == 'dx' else 'unit'} {index[1]}"


def _at(place: str, t: int) -> str:
    return f"{place}, step {t + 1}"


def _compare(pair: StepPair, name: str, mine: list, theirs: list, H: int) -> Comparison:
    """The largest |mine - theirs| over the steps (lists of arrays, one per step) and where it is."""
    diffs = [numpy.nan_to_num(numpy.abs(a - b), nan=numpy.inf) for a, b in zip(mine, theirs)]
    t = max(range(len(diffs)), key=lambda k: diffs[k].max())
    index = tuple(int(i) for i in numpy.unravel_index(diffs[t].argmax(), diffs[t].shape))
    passed = all(bool((d <= ATOL + RTOL * numpy.abs(b)).all()) for d, b in zip(diffs, theirs))
    return Comparison(float(diffs[t][index]), _at(_place(pair, name, index, H), t), float(mine[t][index]),
                      float(theirs[t][index]), passed)


def _compare_with_minirnn(report: CellReport, xs, states_in, next_states, params, d_next, backwards) -> None:
    """minirnn's cell of the same kind, from each step's own state: the same next state, the same gradients."""
    pair, T, H = report.cell, len(xs), report.sizes["hidden_size"]
    own = minirnn_cell(pair.kind, report.sizes["input_size"], H)
    own.load_state_dict(params)
    one = len(pair.state_names) == 1
    own_next, own_grads = [], []
    for t in range(T):
        out = own(xs[t], states_in[t][0] if one else states_in[t])
        own_next.append((out,) if one else out)
        own.zero_grad()
        dx, d_prev = own.backward(d_next[t][0] if one else tuple(d_next[t]))
        own_grads.append(_step_gradients(pair, (dx, (d_prev,) if one else d_prev,
                                                {k: v.copy() for k, v in own.grads.items()})))
    for k, s in enumerate(pair.state_names):
        report.forward[s] = _compare(pair, f"{s}_next", [n[k] for n in next_states], [n[k] for n in own_next], H)
    if all(c.passed for c in report.forward.values()):       # else the two backwards differentiate different cells
        for g in report.gradients:
            mine = [_step_gradients(pair, b)[g.name] for b in backwards]
            g.vs_minirnn = _compare(pair, g.name, mine, [o[g.name] for o in own_grads], H)
