"""A learner's cell, as the cell check runs it: one step forward and one step backward.

A cell comes in one of two forms:

* a **step pair**, written the way minirnn's reference implementations are (minirnn/reference/):
  ``NAME_forward(x, state, params) -> (next_state, cache)`` and
  ``NAME_backward(d_next_state, cache, params) -> (dx, d_state, grads)``, with x (B, I); state and
  next_state tuples of (B, H) arrays, ``(h,)`` or ``(h, c)``; params a dict with torch's
  RNNCell/LSTMCell/GRUCell names ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih`` and
  ``bias_hh`` (G*H,) (minirnn.core.param_names); grads with params' keys; d_state the gradient of state;
* a :class:`minirnn.gates.GateMath`, the gate math of the fast path, run one step at a time through
  minirnn's own time loop, which does the matmuls around it.

Either becomes a :class:`StepPair` whose two functions check what the learner's code returns and
turn an exception inside it into one line naming the file and line. The kind of cell, which fixes
the number of gate blocks G and the state, is never guessed: it is given (``kind``, the command's
--kind), or read from the name, a step pair's prefix (``lstm_step`` is an LSTM) or a GateMath's
``name`` field, and a GateMath's own gates and ``state_names`` must agree with it. The kinds are
minirnn.cell_kinds.CELL_KINDS.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy

from ..cell_kinds import CELL_KINDS, CellKind
from ..core.param_names import CELL_PARAM_NAMES
from ..core.validate import describe
from ..gates import GateMath
from ..layers.unroll import layer_backward, layer_forward


def layout(kind: CellKind) -> str:
    """'weights in 4 gate blocks of H rows (i, f, g, o), state (h, c)'."""
    blocks = f"{kind.n_gates} gate blocks of H rows ({', '.join(kind.gates)})" if kind.n_gates > 1 \
        else "one block of H rows"
    return f"weights in {blocks}, state ({', '.join(kind.state_names)})"


def minirnn_cell(kind: CellKind, input_size: int, hidden_size: int):
    """minirnn's own one-step cell of ``kind``, float64 on NumPy: what a learner's cell is compared with."""
    return kind.build_cell(input_size, hidden_size, dtype="float64").to("numpy")


@dataclass(frozen=True)
class StepPair:
    """A cell as the check runs it; forward and backward return exactly what the step-pair form promises."""
    label: str              # how messages name the cell: "learner.py:lstm_step"
    form: str               # how it was written: "the step pair lstm_step_forward / lstm_step_backward"
    forward: Callable       # (x, state, params) -> (next_state, cache)
    backward: Callable      # (d_next_state, cache, params) -> (dx, d_state, grads)
    n_gates: int
    state_names: tuple
    kind: CellKind | None   # None: no minirnn cell to compare with (gate math of a kind minirnn lacks)
    kind_from: str          # how the kind was known, for the report

    def block(self, gate: int) -> str:
        """How the report names gate block ``gate``: "f block", or "block 2" for a kind minirnn lacks."""
        return f"{self.kind.gates[gate]} block" if self.kind else f"block {gate}"


# -- from whatever the learner hands over to a StepPair ----------------------------------------------
def as_step_pair(cell, kind: str | None = None) -> StepPair:
    """A StepPair from a GateMath, a (forward, backward) pair of functions, or "FILE.py:NAME"."""
    if kind is not None and kind not in CELL_KINDS:
        raise ValueError(f"kind must be one of {tuple(CELL_KINDS)}, got {kind!r}")
    if isinstance(cell, str):
        path, name, found = load(cell)
        return _step_pair(found, name, kind, label=f"{path}:{name}")
    if isinstance(cell, GateMath):
        return _step_pair(cell, cell.name, kind, label=cell.name)
    if isinstance(cell, (tuple, list)) and len(cell) == 2 and all(map(callable, cell)):
        name = getattr(cell[0], "__name__", "forward")
        name = name[:-len("_forward")] if name.endswith("_forward") else name
        return _step_pair(tuple(cell), name, kind, label=name)
    raise TypeError(f"cell must be a minirnn.gates.GateMath, a (forward, backward) pair of functions or "
                    f"'FILE.py:NAME', got {describe(cell)}")


def _step_pair(found, name: str, kind: str | None, label: str) -> StepPair:
    """found: a GateMath, or a (forward, backward) pair; name: the GateMath's, or the pair's prefix."""
    if isinstance(found, GateMath):
        chosen, kind_from = _kind_of_gate_math(found, kind, label)
        forward, backward = _unrolled_one_step(found)
        functions = (found.forward, found.backward)
        names = (f"{name}.forward", f"{name}.backward")
        form = f"the gate math {name}, one step at a time through minirnn's time loop"
        n_gates, state_names = found.n_gates, tuple(found.state_names)
    else:
        chosen, kind_from = _kind_of_pair(name, kind)
        forward, backward = functions = found
        names = tuple(getattr(f, "__name__", f"{name}_{half}") for f, half in zip(found, ("forward", "backward")))
        form = f"the step pair {names[0]} / {names[1]}"
        n_gates, state_names = chosen.n_gates, chosen.state_names
    files = {f.__code__.co_filename for f in functions if hasattr(f, "__code__")}
    hint = f" (checked as {chosen.title}, {kind_from}: {layout(chosen)})" if chosen else ""
    return StepPair(label, form, _checked_forward(forward, names[0], files, hint, state_names),
                    _checked_backward(backward, names[1], files, state_names), n_gates, state_names, chosen,
                    kind_from)


def _kind_of_pair(name: str, kind: str | None) -> tuple[CellKind, str]:
    by_name = next((k for k in CELL_KINDS.values() if name == k.name or name.startswith(k.name + "_")), None)
    if kind is not None:
        if by_name is not None and by_name.name != kind:
            raise ValueError(f"the kind {kind} contradicts the name {name}, whose prefix says {by_name.name}")
        return CELL_KINDS[kind], "as given"
    if by_name is None:
        raise ValueError(f"cannot tell which cell {name} is: its name starts with none of "
                         f"{', '.join(k + '_' for k in CELL_KINDS)}; rename it or give the kind (--kind)")
    return by_name, f"from the name's prefix {by_name.name}_"


def _kind_of_gate_math(gate_math: GateMath, kind: str | None, label: str) -> tuple[CellKind | None, str]:
    if kind is None and gate_math.name not in CELL_KINDS:
        return None, f"unknown: the gate math's name {gate_math.name!r} is none of {', '.join(CELL_KINDS)}"
    chosen, kind_from = ((CELL_KINDS[kind], "as given") if kind is not None
                         else (CELL_KINDS[gate_math.name], "from the gate math's name"))
    if (gate_math.n_gates, tuple(gate_math.state_names)) != (chosen.n_gates, chosen.state_names):
        raise ValueError(f"{label} has n_gates={gate_math.n_gates} and state_names={tuple(gate_math.state_names)}, "
                         "but "
                         f"{chosen.title} ({kind_from}) has {layout(chosen)}")
    return chosen, kind_from


def _unrolled_one_step(gate_math: GateMath):
    """Gate math as a step pair: minirnn's time loop (layer_forward) over one step, T = 1."""
    def forward(x, state, params):
        _, final, cache = layer_forward(gate_math, x[None], *(params[k] for k in CELL_PARAM_NAMES), tuple(state))
        return tuple(s.copy() for s in final), cache

    def backward(d_next_state, cache, params):
        dx, d_state, grads = layer_backward(cache, None, tuple(d_next_state))
        return dx[0], tuple(d.copy() for d in d_state), dict(zip(CELL_PARAM_NAMES, grads))
    return forward, backward


# -- running the learner's code: what it returns is checked, what it raises is one line ---------------
def _run(function, args, name: str, files: set, hint: str = ""):
    try:
        return function(*args)
    except (Exception, SystemExit) as err:   # the learner's bug, whatever it is (an exit too): say where
        places = [(frame.f_code.co_filename, line) for frame, line in _walk(err.__traceback__)
                  if frame.f_code.co_filename in files]
        where = f" at {_shown(places[-1][0])}:{places[-1][1]}" if places else ""
        raise ValueError(f"{name} raised {type(err).__name__}{where}"
                         f"{': ' + str(err) if str(err) else ''}{hint}") from err


def _walk(traceback):
    while traceback is not None:
        yield traceback.tb_frame, traceback.tb_lineno
        traceback = traceback.tb_next


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _is_float64(value, shape) -> bool:
    return isinstance(value, numpy.ndarray) and value.shape == shape and value.dtype == numpy.float64


def _expect_array(what: str, value, shape: tuple):
    if not _is_float64(value, shape):
        raise TypeError(f"{what} must be a {shape} float64 array, got {describe(value)}")
    return value


def _expect_state(what: str, value, shape: tuple, names: tuple) -> tuple:
    """A state (or its gradient): a tuple of one (B, H) float64 array per name."""
    if not (isinstance(value, (tuple, list)) and len(value) == len(names)
            and all(_is_float64(v, shape) for v in value)):
        got = f"({', '.join(describe(v) for v in value)})" if isinstance(value, (tuple, list)) else describe(value)
        raise TypeError(f"{what} must be a tuple ({', '.join(names)}) of {shape} float64 arrays, got {got}")
    return tuple(value)


def _checked_forward(forward, name: str, files: set, hint: str, state_names: tuple):
    def checked(x, state, params):
        result = _run(forward, (x, state, params), name, files, hint)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"{name} must return (next_state, cache), got {describe(result)}{hint}")
        names = tuple(f"{s}_next" for s in state_names)
        return _expect_state(f"{name}'s next_state", result[0], state[0].shape, names), result[1]
    return checked


def _checked_backward(backward, name: str, files: set, state_names: tuple):
    def checked(d_next_state, cache, params):
        result = _run(backward, (d_next_state, cache, params), name, files)
        if not (isinstance(result, tuple) and len(result) == 3):
            raise TypeError(f"{name} must return (dx, d_state, grads), got {describe(result)}")
        dx, d_state, grads = result
        (B, H), (weight_ih, *_) = d_next_state[0].shape, (params[k] for k in CELL_PARAM_NAMES if k in params)
        _expect_array(f"{name}'s dx", dx, (B, weight_ih.shape[1]))             # x is (B, I), W_ih (G*H, I)
        d_state = _expect_state(f"{name}'s d_state", d_state, (B, H), tuple(f"d{s}_prev" for s in state_names))
        if not isinstance(grads, dict) or set(grads) != set(params):
            got = sorted(grads) if isinstance(grads, dict) else describe(grads)
            raise TypeError(f"{name}'s grads must be a dict with the keys of params {sorted(params)}, got {got}")
        for key in params:
            _expect_array(f"{name}'s grads[{key!r}]", grads[key], params[key].shape)
        return dx, d_state, dict(grads)
    return checked


# -- FILE.py:NAME ----------------------------------------------------------------------------------
def load(spec: str):
    """(path, NAME, what NAME names) for "FILE.py:NAME": a GateMath, or the pair (NAME_forward, NAME_backward)."""
    path, _, name = spec.rpartition(":")
    if not path.endswith(".py") or not name.isidentifier():
        raise ValueError(f"--cell takes FILE.py:NAME, got {spec!r}")
    module = _load_file(path)
    found = getattr(module, name, None)
    if isinstance(found, GateMath):
        return path, name, found
    pair = tuple(getattr(module, f"{name}_{half}", None) for half in ("forward", "backward"))
    if all(callable(f) for f in pair):
        return path, name, pair
    for half, other in (("_forward", "_backward"), ("_backward", "_forward")):
        if name.endswith(half) and callable(getattr(module, name[:-len(half)] + other, None)):
            raise ValueError(f"{path}:{name}: name a step pair by its prefix, {path}:{name[:-len(half)]}")
    if any(callable(f) for f in pair):
        have, lack = (f"{name}_forward", f"{name}_backward") if callable(pair[0]) else \
                     (f"{name}_backward", f"{name}_forward")
        raise ValueError(f"{path} has {have} but no {lack}")
    if found is not None:
        raise TypeError(f"{path}:{name} is a {type(found).__name__}, not a minirnn.gates.GateMath, and {path} has "
                        f"no {name}_forward and {name}_backward")
    raise ValueError(f"{path} has no {name}, nor {name}_forward and {name}_backward; it has "
                     f"{_candidates(module) or 'no GateMath and no step pair'}")


def _load_file(path: str):
    """The module of ``path``, or a one-line error that says why it does not load, and where."""
    if not Path(path).is_file():
        raise OSError(f"--cell: no file {path}")
    packaged = _packaged_module(path)
    if packaged is not None:
        return packaged
    module_name = f"_minirnn_cell_{Path(path).stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module          # as an import would: dataclasses and pickle look it up
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:     # an exit at import would end the check with no verdict
        del sys.modules[module_name]
        if isinstance(err, SyntaxError):
            raise ValueError(f"{path} does not load: SyntaxError at {path}:{err.lineno}: {err.msg}") from err
        lines = [line for frame, line in _walk(err.__traceback__) if frame.f_code.co_filename == spec.origin]
        where = f" at {path}:{lines[-1]}" if lines else ""
        raise ValueError(f"{path} does not load: {type(err).__name__}{where}: {err}") from err
    return module


def _packaged_module(path: str):
    """The module, imported by its dotted name, when ``path`` is a file of an importable package
    (minirnn/reference/lstm.py is minirnn.reference.lstm, whose relative imports need its package);
    None for a file of its own."""
    path = Path(path).resolve()
    parts, folder = [path.stem], path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1:
        return None
    try:
        module = importlib.import_module(".".join(parts))
    except ImportError:
        return None
    return module if Path(module.__file__).resolve() == path else None


def _candidates(module) -> str:
    """What a file offers: 'lstm_step (a step pair), MY_LSTM (a GateMath)'."""
    names = vars(module)
    prefixes = [n[:-len("_forward")] for n in names if n.endswith("_forward")]
    pairs = [p for p in prefixes if callable(names[p + "_forward"]) and callable(names.get(p + "_backward"))]
    gate_maths = [n for n, v in names.items() if isinstance(v, GateMath)]
    return ", ".join([f"{n} (a step pair)" for n in pairs] + [f"{n} (a GateMath)" for n in gate_maths])
