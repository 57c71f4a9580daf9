"""Print the unrolled computation of a model, recorded while minirnn really runs it.

``explain`` runs one tiny forward and backward of a model under a line tracer
(:func:`sys.settrace`) and prints what ran: every source line of the model's
forward and backward, of the sequence layer (:mod:`minirnn.layers.unroll`) and
of the cell that computes an array, with the shapes of the arrays it read and
wrote, the parameters among them by name, and the equation in the line's own
comment. The time loop is printed step by step, each step ending with the state
it hands to the next step (forward) or the gradient it sends to the step before
(backward). Nothing here describes the model by hand, so the printout cannot
drift from the code: change a line in a cell and ``minirnn explain`` shows the
new line.

    >>> print(explain(build_model("charloop", emb=42), steps=3, batch=4))   # doctest: +SKIP

The tracer needs no hook in the library: it reads the frames of the functions
it watches and changes nothing. Any tracer already installed (a coverage tool,
a debugger) is paused while a run is recorded and restored afterwards. It does
know four local names of the time loops in :mod:`minirnn.layers.unroll`: ``t``
(the step), ``cell``, ``out`` (the state a forward step wrote) and ``d_state``
(the gradient a backward step sends back); tests/test_explain.py fails if they change.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import linecache
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import numpy

from ..core import backend, checks
from ..cells import GRU_CELL, LSTM_CELL, RNN_RELU_CELL, RNN_TANH_CELL, Cell
from ..layers import unroll
from ..layers.recurrent import GRU, LSTM, RNN, Recurrent
from ..models import CharLoopModel, CharRNN
from ..core.module import Module
from ..ops import cross_entropy, nll_loss

MODELS = ("charloop", "rnn", "lstm", "gru", "charrnn")

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent   # the folder holding minirnn/
_LOOPS = (unroll.unroll_forward.__code__, unroll.unroll_backward.__code__)
# Calls that only allocate or look things up: a line made of these alone is bookkeeping, not math.
_NOT_MATH = {"empty", "empty_like", "zeros", "zeros_like", "ones", "array_module", "asarray", "reshape"}


# -- what one recorded line holds ------------------------------------------------------------
@dataclass
class Line:
    """One executed source line that computed an array.

    location: "minirnn/cells/rnn.py:16"; code: the statement as written, on one
    line; comment: its trailing comment (the equation); inputs and outputs:
    "name (shape)" for each array it read or wrote; depth: how many watched
    calls deep it ran; loop: which run of the time loop it belongs to (None
    outside one), step: the loop's t; in_cell: it is a line of the cell's gate math;
    per_step: (inputs, outputs) with every (T, B, ...) array shown as its slice at
    one step, "x[t] (B, ...)", or None when the line has no such array.
    """
    location: str
    code: str
    comment: str
    inputs: list
    outputs: list
    depth: int
    loop: int | None = None
    step: int | None = None
    in_cell: bool = False
    per_step: tuple | None = None


@dataclass
class Carry:
    """The end of step ``step`` of a time loop: what goes on to the neighbouring step."""
    loop: int
    step: int
    depth: int
    text: str


@dataclass
class Trace:
    """The lines recorded for one forward or backward, in the order they ran."""
    records: list = field(default_factory=list)


# -- the source files, parsed once -----------------------------------------------------------
class _Source:
    """The statements and comments of one file, looked up by line number."""

    def __init__(self, filename: str):
        text = "".join(linecache.getlines(filename))
        self.text = text
        self.statement_at: dict[int, ast.stmt] = {}
        self.loop_lines: dict[int, range] = {}   # first line of a function -> lines of its "for t" loop
        self.loop_targets: list[tuple[range, set]] = []   # lines of each for loop, the names it binds
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt) and not isinstance(node, _COMPOUND):
                for line in range(node.lineno, node.end_lineno + 1):
                    self.statement_at.setdefault(line, node)
            if isinstance(node, ast.For):
                self.statement_at.setdefault(node.lineno, node)
                names = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
                self.loop_targets.append((range(node.lineno, node.end_lineno + 1), names))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                loop = next((n for n in node.body if isinstance(n, ast.For)
                             and isinstance(n.target, ast.Name) and n.target.id == "t"), None)
                if loop is not None:
                    self.loop_lines[node.lineno] = range(loop.lineno, loop.end_lineno + 1)
        self.comments: dict[int, str] = {}
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                self.comments[token.start[0]] = token.string.lstrip("#").strip()

    def bound_by_loop(self, name: str, line: int) -> bool:
        """Whether ``name`` is the variable of a for loop around ``line``."""
        return any(line in lines and name in names for lines, names in self.loop_targets)

    def code(self, node: ast.stmt) -> str:
        return " ".join(ast.get_source_segment(self.text, node).split())

    def comment(self, node: ast.stmt) -> str:
        for line in range(node.end_lineno, node.lineno - 1, -1):
            if line in self.comments:
                return self.comments[line]
        return ""


_COMPOUND = (ast.For, ast.While, ast.If, ast.With, ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_sources: dict[str, _Source] = {}


def _source(filename: str) -> _Source:
    if filename not in _sources:
        _sources[filename] = _Source(filename)
    return _sources[filename]


# -- reading values out of a frame without running the program's code ------------------------
_INDEX_ARITHMETIC = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__}


class _Unknown(Exception):
    """The expression cannot be read safely from the frame (a call, a name not yet bound)."""


def _read(node, frame):
    """The value of a name, attribute, subscript or small int expression in ``frame``; calls refused."""
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals):
            if node.id in scope:
                return scope[node.id]
        raise _Unknown(node.id)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Attribute):
        owner = _read(node.value, frame)
        try:
            return getattr(owner, node.attr)
        except Exception as err:    # whatever an attribute raises, the traced program must not see it
            raise _Unknown(node.attr) from err
    if isinstance(node, ast.Subscript):
        container, index = _read(node.value, frame), _read(node.slice, frame)
        try:
            return container[index]
        except Exception as err:    # e.g. an index that is not bound yet at this point of the line
            raise _Unknown("subscript") from err
    if isinstance(node, ast.Slice):
        return slice(*(None if part is None else _read(part, frame) for part in (node.lower, node.upper, node.step)))
    if isinstance(node, ast.Tuple):
        return tuple(_read(element, frame) for element in node.elts)
    if isinstance(node, ast.BinOp) and type(node.op) in _INDEX_ARITHMETIC:
        left, right = _read(node.left, frame), _read(node.right, frame)
        if isinstance(left, int) and isinstance(right, int):   # index arithmetic such as 2 * H
            return _INDEX_ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _read(node.operand, frame)
        if isinstance(value, int):
            return -value
    raise _Unknown(type(node).__name__)


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and backend.backend_name(value) in backend.BACKENDS


def _arrays_in(value):
    """value itself if it is an array, a tuple of arrays if it is a tuple of only arrays, else None."""
    if _is_array(value):
        return value
    if isinstance(value, (tuple, list)) and value and all(_is_array(v) for v in value):
        return tuple(value)
    return None


def _operands(node):
    """The outermost names, attributes and subscripts of an expression (callees left out)."""
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        yield node
        return
    if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp, ast.Lambda)):
        return                                     # its names live in its own scope, not the frame's
    for name, child in ast.iter_fields(node):
        if isinstance(node, ast.IfExp) and name == "test":
            continue                               # "a if x is None else b": x is only looked at
        if isinstance(node, ast.Call) and name == "func":
            if isinstance(child, ast.Attribute):   # a method's object is an operand: x.transpose(...)
                yield from _operands(child.value)
            continue
        if isinstance(node, ast.keyword) and node.arg == "out":
            continue
        for item in (child if isinstance(child, list) else [child]):
            if isinstance(item, ast.AST):
                yield from _operands(item)


def _targets(node: ast.stmt):
    """The expressions a statement writes: assignment targets and ``out=`` arguments."""
    targets = []
    if isinstance(node, ast.Assign):
        for target in node.targets:
            targets.extend(target.elts if isinstance(target, ast.Tuple) else [target])
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets.append(node.target)
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            targets.extend(k.value for k in call.keywords if k.arg == "out")
    return targets


def _computes(node: ast.stmt, frame) -> bool:
    """Whether a statement does array math (and is not only allocation or unpacking)."""
    if isinstance(node, ast.AugAssign):
        try:
            return _is_array(_read(node.target, frame))
        except _Unknown:
            return False
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if not isinstance(target, ast.Subscript):
                continue
            try:                                   # a write into an array: a[...] = b
                if _is_array(_read(target.value, frame)) and _is_array(_read(node.value, frame)):
                    return True
            except _Unknown:
                pass
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.MatMult, ast.Add, ast.Sub, ast.Mult, ast.Div)):
            for side in (sub.left, sub.right):
                try:
                    if _is_array(_read(side, frame)):
                        return True
                except _Unknown:
                    pass
        if isinstance(sub, ast.Call):
            try:
                callee = _read(sub.func, frame)
            except _Unknown:
                continue
            if getattr(callee, "__name__", "") in _NOT_MATH:
                continue
            owner = getattr(callee, "__self__", None)
            module = getattr(callee, "__module__", None) or ""
            if isinstance(callee, numpy.ufunc) or module.split(".")[0] in ("numpy", "cupy") \
                    or module.startswith(("minirnn.ops", "minirnn.layers.unroll", "minirnn.cells", "minirnn.models")) \
                    or isinstance(callee, Module) or _is_array(owner) \
                    or (isinstance(owner, Module) and callee.__name__ in ("forward", "backward")):
                return True
    return False


# -- the tracer --------------------------------------------------------------------------------
class _Recorder:
    """A sys.settrace hook that records the array-computing lines of the watched functions."""

    def __init__(self, codes, cell_codes, names: dict, steps: int, batch: int):
        self.codes = codes          # the code objects whose lines are recorded
        self.cell_codes = cell_codes  # those of them that are a cell's gate math
        self.names = names          # id(array) -> parameter or gradient name
        self.time_major = (steps, batch)   # the leading shape of an array that holds every step
        self.trace = Trace()
        self.pending: dict[int, tuple] = {}     # id(frame) -> (line record, statement) waiting for its outputs
        self.loop_ids: dict[int, int] = {}      # id(frame) of a running time loop -> its number
        self.loops_started = 0                  # numbers the time loops in the order they run

    def __enter__(self):
        self.outer = sys.gettrace()
        sys.settrace(self._on_call)
        return self

    def __exit__(self, *exc):
        sys.settrace(self.outer)
        return False

    def _on_call(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes:
            if frame.f_code in _LOOPS:
                self.loop_ids[id(frame)] = self.loops_started
                self.loops_started += 1
            return self._on_event
        return None

    def _depth(self, frame) -> int:
        depth, frame = 0, frame.f_back
        while frame is not None:
            depth += frame.f_code in self.codes
            frame = frame.f_back
        return depth

    def _where_in_loop(self, frame):
        """(loop number, t) of the innermost time loop this frame runs inside, or (None, None).

        A frame is inside a step when its time-loop frame (itself or a caller) is
        on a line of the body of the ``for t`` loop.
        """
        while frame is not None:
            if frame.f_code in _LOOPS and id(frame) in self.loop_ids:
                body = _loop_body(frame)
                if frame.f_lineno in body:
                    return self.loop_ids[id(frame)], frame.f_locals["t"]
                return None, None
            frame = frame.f_back
        return None, None

    def _on_event(self, frame, event, arg):
        source = _source(frame.f_code.co_filename)
        if event == "line":
            node = source.statement_at.get(frame.f_lineno)
            waiting = self.pending.get(id(frame))
            if waiting is not None and waiting[1] is node:
                return self._on_event        # another physical line of the same statement
            self._finish(frame)
            if isinstance(node, ast.For):
                # The "for t" header comes round again after every step: the step just ended.
                if frame.f_code in _LOOPS and "t" in frame.f_locals and frame.f_lineno == _loop_body(frame).start - 1:
                    self._carry(frame)
            elif node is not None and _computes(node, frame):
                self._start(frame, source, node)
        elif event == "return":
            self._finish(frame)
            if frame.f_code in _LOOPS:
                self.loop_ids.pop(id(frame), None)
        return self._on_event

    def _start(self, frame, source: _Source, node: ast.stmt) -> None:
        assigned = {ast.dump(t) for t in _targets(node)
                    if not isinstance(node, ast.AugAssign) and _is_assigned(t, node)}
        described = []
        value = node.value if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr,
                                                ast.Return)) else node
        operands = list(_operands(value)) if value is not None else []
        if isinstance(node, ast.AugAssign):
            operands.insert(0, node.target)
        for operand in operands:
            if ast.dump(operand) in assigned:
                continue
            described.append(self._describe(operand, frame))
        loop, step = self._where_in_loop(frame)
        path = Path(frame.f_code.co_filename).resolve()
        location = f"{path.relative_to(_PACKAGE_ROOT) if path.is_relative_to(_PACKAGE_ROOT) else path.name}" \
                   f":{node.lineno}"
        described = _unique(described)
        record = Line(location, source.code(node), source.comment(node), [whole for whole, _ in described], [],
                      self._depth(frame), loop, step, frame.f_code in self.cell_codes)
        self.trace.records.append(record)
        self.pending[id(frame)] = (record, node, described)

    def _finish(self, frame) -> None:
        waiting = self.pending.pop(id(frame), None)
        if waiting is None:
            return
        record, node, inputs = waiting
        self._name_copies(frame, node)
        outputs = _unique([self._describe(target, frame) for target in _targets(node)])
        record.outputs = [whole for whole, _ in outputs]
        if not record.inputs and not record.outputs:     # no array in sight: bookkeeping, not math
            self.trace.records.remove(record)
        elif any(whole != sliced for whole, sliced in inputs + outputs):
            record.per_step = ([sliced for _, sliced in inputs if sliced], [sliced for _, sliced in outputs if sliced])

    def _name_copies(self, frame, node) -> None:
        """Give a new array that is a copy of one parameter, or of its transpose, that parameter's name.

        The unroll makes a contiguous copy of W_hh^T once per call (a faster operand for
        the BLAS); the printout should still say which parameter the loop multiplies by.
        """
        value_node = getattr(node, "value", None)
        if value_node is None:
            return
        sources = []
        for operand in _operands(value_node):
            try:
                array = _read(operand, frame)
            except _Unknown:
                continue
            label = self._name(array) if _is_array(array) else None
            if label is not None and not label.startswith("grad["):
                sources.append((array, label))
        if len(sources) != 1:
            return
        source, label = sources[0]
        for target in _targets(node):
            try:
                made = _read(target, frame)
            except _Unknown:
                continue
            if _is_array(made) and self._name(made) is None and made.shape == source.shape \
                    and bool((made == source).all()):
                self.names[id(made)] = label

    def _carry(self, frame) -> None:
        """At the loop header after step t: the state (forward) or state gradient (backward) carried on.

        Step t computes state t + 1 from state t (state 0 is the initial state).
        """
        f_locals = frame.f_locals
        t, names = f_locals["t"], f_locals["cell"].state_names
        if frame.f_code is unroll.unroll_forward.__code__:
            parts = [f"{name}_{t + 1} {_shape(a)}" for name, a in zip(names, f_locals["out"])]
            where = f"go{'es' * (len(parts) == 1)} on to step {t + 1}"
        else:
            parts = [f"dL/d{name}_{t} {_shape(a)} norm {_norm(a):.3g}" for name, a in zip(names, f_locals["d_state"])]
            where = (f"go{'es' * (len(parts) == 1)} back to step {t - 1}" if t > 0
                     else f"leave{'s' * (len(parts) == 1)} the loop: the gradient of the initial state")
        self.trace.records.append(Carry(self.loop_ids[id(frame)], t, self._depth(frame) + 1,
                                        f"=> {', '.join(parts)} {where}"))

    def _describe(self, node, frame) -> tuple[str, str] | None:
        """("name (shape)", the same for its slice at one step) for an array operand, else None."""
        try:
            value = _arrays_in(_read(node, frame))
        except _Unknown:
            return None
        if value is None:
            return None
        text = ast.unparse(node)
        if text == "_" or text.endswith("cache"):   # discarded values and backward caches are not the math
            return None
        if isinstance(value, tuple):
            whole = f"{text} {' '.join(_shape(v) for v in value)}"
            every_step = any(v.ndim >= 2 and tuple(v.shape[:2]) == self.time_major for v in value)
            return whole, (None if every_step else whole)   # a list of whole sequences has no one-step view
        if isinstance(node, ast.Name) and _source(frame.f_code.co_filename).bound_by_loop(text, frame.f_lineno):
            # a loop variable: say which array it stands for in this pass
            alias = next((name for name, other in frame.f_locals.items()
                          if other is value and name != text and not name.startswith("_")), None)
            text = text if alias is None else f"{text}={alias}"
        label = self._name(value)
        if label is not None:
            bare = label.removeprefix("grad[").split("]")[0].removesuffix(".T").removesuffix("[view")
            text = label if bare in text else f"{text}={label}"
        whole = f"{text} {_shape(value)}"
        if label is None and value.ndim >= 2 and tuple(value.shape[:2]) == self.time_major:
            return whole, f"{text}[t] {_shape(value[0])}"
        return whole, whole

    def _name(self, array) -> str | None:
        """The parameter or gradient an array is, or a view of (``.T`` for a transpose)."""
        if id(array) in self.names:
            return self.names[id(array)]
        base = getattr(array, "base", None)
        if base is not None and id(base) in self.names:
            name = self.names[id(base)]
            if array.ndim == 2 and array.shape == base.shape[::-1] and array.strides == base.strides[::-1] \
                    and array.strides != base.strides:
                return f"{name}.T"
            return f"{name}[view]"
        return None


def _loop_body(frame) -> range:
    """The lines of the body of the ``for t`` loop of a time-loop frame (just after its header line)."""
    lines = _source(frame.f_code.co_filename).loop_lines[frame.f_code.co_firstlineno]
    return range(lines.start + 1, lines.stop)


def _is_assigned(target, node: ast.stmt) -> bool:
    """Whether ``target`` is an assignment target of ``node`` (as opposed to an ``out=`` argument)."""
    if not isinstance(node, (ast.Assign, ast.AnnAssign)):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
    return any(target is e for e in flat)


def _unique(items) -> list:
    seen, out = set(), []
    for item in items:
        if item is not None and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _shape(array) -> str:
    shape = "(" + ", ".join(str(d) for d in array.shape) + ("," if array.ndim == 1 else "") + ")"
    return shape if array.dtype.kind == "f" else f"{shape} {array.dtype}"


def _norm(array) -> float:
    return float(numpy.linalg.norm(backend.to_host(array)))


# -- models and the run that is recorded -------------------------------------------------------
def build_model(name: str, input_size: int = 10, hidden_size: int = 20, num_layers: int = 1, emb: int = 42,
                vocab_size: int = 60, cell: str = "lstm", nonlinearity: str = "tanh", seed: int = 0) -> Module:
    """A small model to explain, or the model stored in a checkpoint.

    name: "charloop" (CharLoopModel(vocab_size, n_fac=emb, n_hidden=hidden_size)),
    "rnn" (with ``nonlinearity``), "lstm", "gru" (input_size, hidden_size,
    num_layers), "charrnn" (CharRNN(vocab_size, emb, hidden_size, num_layers,
    cell)), or the path of a checkpoint written by ``minirnn train``, whose
    stored model and sizes are used instead. The defaults are the article's:
    nn.RNN(input_size=10, hidden_size=20), and n_fac=42 for CharLoopModel.
    """
    if name not in MODELS:
        if not Path(name).is_file():
            raise ValueError(f"model must be one of {MODELS} or the path of a checkpoint, got {name!r} "
                             "(no such file)")
        from ..training import checkpoint           # imported here: the built-in models do not need it
        return checkpoint.load(name).build_model(seed=seed)
    if name == "charloop":
        return CharLoopModel(vocab_size, emb, hidden_size, seed=seed)
    if name == "charrnn":
        return CharRNN(vocab_size, emb, hidden_size, num_layers, cell, seed=seed)
    if name == "rnn":
        return RNN(input_size, hidden_size, num_layers=num_layers, nonlinearity=nonlinearity, seed=seed)
    return {"lstm": LSTM, "gru": GRU}[name](input_size, hidden_size, num_layers=num_layers, seed=seed)


def _watched_codes(model: Module) -> tuple[set, set]:
    """The code objects whose lines are recorded: the model's own forward and backward (and its
    children's), every function of the sequence layer, and the cells' gate math (also returned
    on its own)."""
    codes = {value.__code__ for value in vars(unroll).values()
             if inspect.isfunction(value) and value.__module__ == unroll.__name__}
    cells = [RNN_TANH_CELL, RNN_RELU_CELL, LSTM_CELL, GRU_CELL]
    for module in model._modules():
        for method in ("forward", "backward"):
            codes.add(getattr(type(module), method).__code__)
        if isinstance(getattr(module, "cell", None), Cell):
            cells.append(module.cell)
    cell_codes = {function.__code__ for cell in cells
                  for function in (cell.forward, cell.prepare_backward, cell.backward)}
    return codes | cell_codes, cell_codes


def _array_names(model: Module) -> dict:
    """id(array) -> "name" for parameters, "grad[name]" for their gradients."""
    names = {id(value): name for name, value in model.params.items()}
    names.update({id(value): f"grad[{name}]" for name, value in model.grads.items()})
    return names


@dataclass
class Run:
    """A recorded forward and backward: what was fed in, and the lines that ran."""
    model: Module
    steps: int
    batch: int
    inputs: str
    loss: str
    forward: Trace
    backward: Trace


def record(model: Module, steps: int = 3, batch: int = 4, seed: int = 0) -> Run:
    """Run one forward and backward of ``model`` on random data of T=steps, B=batch and record them.

    CharLoopModel gets ids cs (T, B) and the NLL loss of a random next character,
    CharRNN ids (T, B) and the cross-entropy of a random next character at every
    step; RNN, LSTM and GRU get x (T, B, I) and L = sum(output * G) for a random G, so
    that every step receives a gradient from above as well as from the step after.
    The model's gradients are cleared first and hold this run's afterwards.
    """
    steps, batch = checks.positive_int("steps", steps), checks.positive_int("batch", batch)
    generator = numpy.random.default_rng(seed)
    model.zero_grad()
    (codes, cell_codes), names = _watched_codes(model), _array_names(model)
    if isinstance(model, CharLoopModel):
        cs = model.xp.asarray(generator.integers(0, model.vocab_size, (steps, batch)))
        target = model.xp.asarray(generator.integers(0, model.vocab_size, (batch,)))
        with _Recorder(codes, cell_codes, names, steps, batch) as forward:
            logp = model.forward(cs)
        loss, d_logp = nll_loss(logp, target)
        with _Recorder(codes, cell_codes, names, steps, batch) as backward:
            model.backward(d_logp)
        inputs = f"cs {_shape(cs)}: T={steps} steps of B={batch} character ids in [0, {model.vocab_size})"
        text = f"L = nll_loss(logp, next character) = {loss:.4f}; d_logp {_shape(d_logp)}"
    elif isinstance(model, Recurrent):
        x = model.xp.asarray(generator.standard_normal((steps, batch, model.input_size)).astype(model.dtype))
        with _Recorder(codes, cell_codes, names, steps, batch) as forward:
            output, _ = model.forward(x)
        d_output = model.xp.asarray(generator.standard_normal(output.shape).astype(model.dtype))
        with _Recorder(codes, cell_codes, names, steps, batch) as backward:
            model.backward(d_output)
        inputs = f"x {_shape(x)}: T={steps} steps, B={batch} sequences, I={model.input_size} features"
        text = f"L = sum(output * G) for a random G, so d_output = G {_shape(d_output)} and d_h_n = None"
    elif isinstance(model, CharRNN):
        ids = model.xp.asarray(generator.integers(0, model.vocab_size, (steps, batch)))
        target = model.xp.asarray(generator.integers(0, model.vocab_size, (steps, batch)))
        with _Recorder(codes, cell_codes, names, steps, batch) as forward:
            logits, _ = model.forward(ids)
        loss, d_logits = cross_entropy(logits, target)
        with _Recorder(codes, cell_codes, names, steps, batch) as backward:
            model.backward(d_logits)
        inputs = f"ids {_shape(ids)}: T={steps} steps of B={batch} character ids in [0, {model.vocab_size})"
        text = f"L = cross_entropy(logits, next characters) = {loss:.4f}; d_logits {_shape(d_logits)}"
    else:
        raise TypeError(f"model must be a CharLoopModel, CharRNN, RNN, LSTM or GRU, got {type(model).__name__}")
    return Run(model, steps, batch, inputs, text, forward.trace, backward.trace)


# -- the printout ------------------------------------------------------------------------------
def format_trace(trace: Trace, show_steps: int = 3, cells: bool = True) -> str:
    """The recorded lines, indented by call depth, the time loop split into steps.

    A loop of more than ``show_steps`` steps shows its first ``show_steps - 1``
    steps and its last one; the steps between run the same lines. ``cells=False``
    leaves out the lines inside the cell (its gate math), keeping the loop around it.
    """
    show_steps = checks.positive_int("show_steps", show_steps)
    trace = Trace([r for r in trace.records if cells or not getattr(r, "in_cell", False)])
    steps_of: dict[int, list] = {}
    for record in trace.records:
        if record.loop is not None and record.step not in steps_of.setdefault(record.loop, []):
            steps_of[record.loop].append(record.step)

    def shown(loop: int, step: int) -> bool:
        order = steps_of[loop]
        return order.index(step) < show_steps - 1 or step == order[-1]

    lines, current, elided = [], None, set()
    for record in trace.records:
        key = None if record.loop is None else (record.loop, record.step)
        pad = "  " * (record.depth + 1) + ("  " if key else "")
        if key is not None and key != current:
            if shown(*key):
                lines.append(f"{pad[:-2]}step t={record.step}")
            elif record.loop not in elided:
                elided.add(record.loop)
                hidden = [step for step in steps_of[record.loop] if not shown(record.loop, step)]
                lines.append(f"{pad[:-2]}... steps t={hidden[0]}..{hidden[-1]} run the same lines ...")
        current = key
        if key is not None and not shown(*key):
            continue
        if isinstance(record, Carry):
            lines.append(f"{pad}{record.text}")
            continue
        flow = ", ".join(record.inputs) + (" -> " + ", ".join(record.outputs) if record.outputs else "")
        comment = f"   # {record.comment}" if record.comment else ""
        lines.append(f"{pad}{record.location:<30} {record.code}{comment}")
        if flow:
            lines.append(f"{pad}{'':<30}   {flow}")
    return "\n".join(lines)


def one_step(trace: Trace) -> Trace:
    """The forward as a single step reads it, which is how the article draws the cell.

    Keeps each line outside the time loop that holds arrays of every step, (T, B,
    ...), with those arrays shown as their slice at step t: such a line does the
    same to every step at once (an embedding lookup, a linear layer, an
    activation). Time-reversing lines (the reverse direction) are left out, and so
    are the calls whose own lines are listed. Then the first step of each run of
    the time loop. Depths are renumbered from 0 for the printout.
    """
    records, first_step, loop_depth = trace.records, {}, {}
    kept = []
    for index, record in enumerate(records):
        if record.loop is not None:
            first_step.setdefault(record.loop, record.step)
            loop_depth.setdefault(record.loop, record.depth)
            if record.step == first_step[record.loop]:
                kept.append(dataclasses.replace(record, depth=record.depth - loop_depth[record.loop]))
            continue
        is_call = index + 1 < len(records) and records[index + 1].depth > record.depth
        if record.per_step is not None and not is_call and "reverse" not in record.code:
            kept.append(dataclasses.replace(record, inputs=record.per_step[0], outputs=record.per_step[1],
                                            depth=0))
    return Trace(kept)


def parameter_table(model: Module, forward: Trace | None = None) -> str:
    """Name, shape and count of every parameter, and (given a trace) the lines that used it."""
    used: dict[str, list] = {}
    for record in (forward.records if forward else []):
        if isinstance(record, Line):
            for item in record.inputs:
                for name in model.params:
                    if _mentions(item, name) and record.location not in used.setdefault(name, []):
                        used[name].append(record.location)
    rows = [(name, str(tuple(value.shape)), str(int(value.size)), ", ".join(used.get(name, [])))
            for name, value in model.params.items()]
    total = sum(int(value.size) for value in model.params.values())
    header = ("parameter", "shape", "count", "used by (forward)" if forward else "")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(3)]
    out = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>{widths[2]}}  {header[3]}".rstrip()]
    for row in rows:
        out.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip())
    out.append(f"{'total':<{widths[0]}}  {'':<{widths[1]}}  {total:>{widths[2]}}")
    return "\n".join(out)


def _mentions(item: str, name: str) -> bool:
    """Whether an input description "expr=name.T (4, 8)" names parameter ``name`` (not its gradient)."""
    label = item.rsplit(" (", 1)[0].split("=")[-1]
    return label in (name, f"{name}.T", f"{name}[view]")


def explain(model: Module, steps: int = 3, batch: int = 4, seed: int = 0, show_steps: int = 3,
            cells: bool = True) -> str:
    """The full printout: the recorded forward, the backward in reverse, and the parameter table.

    steps, batch: T and B of the random input; show_steps, cells: as in
    :func:`format_trace`.
    """
    run = record(model, steps, batch, seed)
    rule = "-" * 78
    return "\n".join([
        f"{model!r}",
        f"input: {run.inputs}",
        "Every line below ran just now; each shows the arrays it read -> the arrays it wrote, with",
        "their shapes and parameter names, and the equation in the source line's own comment.",
        "Lines outside a 'step t=' block run once for all T steps together (their arrays start with T);",
        "the time loop runs only what must wait for the previous step.",
        rule, "ONE STEP: the lines that treat all T steps alike, sliced at step t (arrays marked [t]),",
        "then the first step of each run of the time loop",
        format_trace(one_step(run.forward), show_steps, cells),
        rule, "FORWARD", format_trace(run.forward, show_steps, cells),
        rule, f"BACKWARD (BPTT), {run.loss}", format_trace(run.backward, show_steps, cells),
        rule, "PARAMETERS", parameter_table(model, run.forward),
    ])
