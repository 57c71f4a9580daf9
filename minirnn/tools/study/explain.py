"""Print a model's forward and backward as its reference implementation computes them, every line, with real shapes.

``explain`` runs the model's reference implementation (minirnn.reference: the same model written
plainly, which the tests hold equal to the fast path to 1e-12 in float64) on the model's own weights
and a tiny random input, and prints its source lines as they ran: the arrays each line read and
wrote, their shapes, the parameters by their state_dict names, and the equation in the line's
comment. It opens with one step as the article draws the cell, walks the loop over time step by
step, then BPTT backwards, each step ending with the gradient it sends to the step before, and
ends with the parameter table.

    >>> print(explain(build_model("charloop", emb=42), steps=3, batch=4))   # doctest: +SKIP

Every label is right by construction. :func:`watch` calls one reference function under a tracer that
looks at that function's frame alone and copies its variables before each line. The reference functions give
every value its own name and change no array in place but the gradients they sum, so the names a
line mentions, read in the copies before and after it, are what it read and wrote. A value is
named after a parameter only when it *is* one of the arrays of the state_dict explain holds, never
by id(); every other name is the code's own. explain knows no variable of any function: a reference function's
own loop over time is counted from its ``for`` statement, and a sequence's steps come from what
the reference functions return (each step's inputs and cache, the gradient of every state), with which explain
calls the step function again to print its lines.
"""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import io
import itertools
import operator
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import numpy

from minirnn import models, reference
from minirnn.cell_kinds import LAYERS, kind_of
from minirnn.core import validate
from minirnn.core.module import Module
from minirnn.layers.recurrent import RNN, Recurrent
from minirnn.models import CharLoopModel, CharRNN
from minirnn.ops import cross_entropy, nll_loss

MODELS = ("charloop", *LAYERS, "charrnn")      # the models explain runs, by their names in minirnn.models.MODELS
_ROOT = Path(reference.__file__).resolve().parent.parent.parent   # the folder holding minirnn/


# -- what a line of a reference function read and wrote -------------------------------------------------
@dataclass
class Operand:
    """A value a line mentions: its text in the code and the value. label: the state_dict name when
    the value is one of its arrays; holds: the parameters, by name, of a function of the state_dict
    (the charloop reference's l_in)."""
    text: str
    value: object
    label: str | None = None
    holds: dict = field(default_factory=dict)

    def __str__(self) -> str:
        if self.holds:
            return f"{self.text}{{{', '.join(f'{name} {_describe(v)}' for name, v in self.holds.items())}}}"
        named = self.text if self.label in (None, self.text) else f"{self.text}={self.label}"
        return f"{named} {_describe(self.value)}"


@dataclass
class Line:
    """One statement of a reference function as it ran.

    location: "minirnn/reference/lstm.py:42"; code: the statement on one line; comment: its trailing
    comment (the equation); reads, writes: the Operands it read and wrote; chain: for a statement of
    nested calls, each call and its arguments innermost first, as (text, Operands, value); step: the
    pass of its function's loop over time that ran it, or None outside that loop.
    """
    location: str
    code: str
    comment: str
    reads: list
    writes: list
    chain: list
    step: int | None


def _describe(value) -> str | None:
    """An array's shape (with its dtype unless float); a tuple, list or dict of arrays as theirs; else None."""
    if isinstance(value, numpy.ndarray):
        shape = "(" + ", ".join(map(str, value.shape)) + ("," if value.ndim == 1 else "") + ")"
        return shape if value.dtype.kind == "f" else f"{shape} {value.dtype}"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, numpy.ndarray) for v in value):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    if isinstance(value, dict) and value and all(isinstance(v, numpy.ndarray) for v in value.values()):
        return "{" + ", ".join(f"{k} {_describe(v)}" for k, v in value.items()) + "}"
    return None


def _shown(operand: Operand) -> bool:
    return bool(operand.holds) or _describe(operand.value) is not None


# -- a reference function's source, and the tracer that watches it run ---------------------------------
@dataclass(frozen=True, eq=False)
class _Source:
    """A reference function's file text, the simple statement on each of its lines, the comments, its time loop."""
    location: str
    text: str
    statements: dict
    comments: dict
    loop: ast.For | None


@functools.lru_cache(maxsize=None)
def _source(function) -> _Source:
    filename = inspect.getsourcefile(function)
    text = Path(filename).read_text(encoding="utf-8")
    definition = next(node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.FunctionDef)
                      and node.lineno == function.__code__.co_firstlineno)
    statements = {line: node for node in ast.walk(definition)
                  if isinstance(node, ast.stmt) and not hasattr(node, "body")      # not for, if, def
                  for line in range(node.lineno, node.end_lineno + 1)}
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(text).readline) if token.type == tokenize.COMMENT}
    loop = next((node for node in definition.body if isinstance(node, ast.For)), None)
    return _Source(Path(filename).resolve().relative_to(_ROOT).as_posix(), text, statements, comments, loop)


@functools.lru_cache(maxsize=None)
def _code(source: _Source, node: ast.AST) -> str:
    """A node's code as written, on one line (the same nodes come back at every step)."""
    lines = source.text.encode().splitlines()[node.lineno - 1:node.end_lineno]   # offsets count UTF-8 bytes
    lines[-1] = lines[-1][:node.end_col_offset]
    lines[0] = lines[0][node.col_offset:]
    return " ".join(b" ".join(lines).decode().split())


@functools.lru_cache(maxsize=None)
def _compiled(expression: str):
    return compile(expression, "<explain>", "eval")


def watch(function, args: tuple, state_dict: dict) -> tuple:
    """Call ``function(*args)``; return its result and the :class:`Line` of each statement that ran.

    The tracer is installed for this call alone (one already installed is paused, then restored)
    and looks only at ``function``'s own frame: the functions it calls run untraced.
    """
    source = _source(function)
    events = []                                     # (line, a copy of the local variables before it ran)

    def on_line(frame, event, arg):
        if event in ("line", "return"):
            events.append((frame.f_lineno if event == "line" else None,   # lists and dicts as they are now
                           {name: copy.copy(value) if isinstance(value, (list, dict)) else value
                            for name, value in frame.f_locals.items()}))
        return on_line

    outer = sys.gettrace()
    sys.settrace(lambda frame, event, arg: on_line if frame.f_code is function.__code__ else None)
    try:
        result = function(*args)
    finally:
        sys.settrace(outer)
    header = source.loop.lineno if source.loop else None
    body = range(source.loop.body[0].lineno, source.loop.end_lineno + 1) if source.loop else range(0)
    statement_of = source.statements.get
    kept = [event for i, event in enumerate(events)   # one event per statement, not per physical line
            if i == 0 or event[0] == header or statement_of(event[0]) is not statement_of(events[i - 1][0])]
    lines, passes = [], 0
    for (number, before), (_, after) in zip(kept, kept[1:]):
        passes += number == header
        if statement_of(number) is None:
            continue
        before, after = (_Snapshot(source, function.__globals__, values, state_dict) for values in (before, after))
        line = _line(source, statement_of(number), before, after, passes - 1 if number in body else None)
        if line is not None:
            lines.append(line)
    return result, lines


def _line(source, statement, before, after, step) -> Line | None:
    """The Line of an assignment, or of a call that works on arrays (np.add.at); None for the rest
    (a return, a list's append that keeps a step's values, an assignment of no array)."""
    if isinstance(statement, (ast.Assign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) \
            and not isinstance(getattr(before.value(statement.value.func), "__self__", None), list):
        targets = []
    else:
        return None
    writes = [operand for target in targets for operand in after.targets(target)]
    bound = [operand.text for operand in writes]
    writes = [operand for operand in writes if bound.count(operand.text) == 1]   # a, _, _ = ...: which _?
    if targets and not any(map(_shown, writes)):
        return None
    reads = before.operands(statement.target) if isinstance(statement, ast.AugAssign) else []
    comment = next((source.comments[n] for n in range(statement.end_lineno, statement.lineno - 1, -1)
                    if n in source.comments), "")
    return Line(f"{source.location}:{statement.lineno}", _code(source, statement), comment,
                reads + before.operands(statement.value), writes, before.chain(statement.value), step)


class _Snapshot:
    """A copy of a reference function's local variables just before (or after) a statement, and what the
    statement's expressions are in it."""

    def __init__(self, source, globals_: dict, locals_: dict, state_dict: dict):
        self.source, self.globals, self.locals, self.state_dict = source, globals_, locals_, state_dict

    def value(self, node):
        """The value of an expression of the statement; None when it cannot be read here (not bound yet)."""
        try:
            return eval(_compiled(ast.unparse(node)), self.globals, self.locals)   # a target reads as its value
        except (NameError, KeyError, IndexError, AttributeError):
            return None

    def operand(self, node) -> Operand:
        value = self.value(node)
        label = next((name for name, array in self.state_dict.items() if array is value), None)
        holds = {}
        if callable(value) and getattr(value, "__closure__", None):        # a function of the state_dict
            held = inspect.getclosurevars(value).nonlocals.values()
            holds = {name: array for name, array in self.state_dict.items() if any(array is v for v in held)}
        return Operand(_code(self.source, node), value, label, holds)

    def operands(self, node, stop=()) -> list:
        """The arrays an expression reads, each once: its names, and the items and attributes it takes
        (hs[t], cache.h), except that a parameter's own (W_ih.T, e[c]) count as the parameter and the
        index; for a function called by name, the parameters it holds. ``stop``: sub-expressions to skip."""
        found = []

        def visit(node):
            if node in stop or isinstance(node, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.DictComp)):
                return
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute):
                    visit(node.func.value)                                  # a method's object
                elif self.operand(node.func).holds:
                    found.append(self.operand(node.func))
                for argument in node.args + [keyword.value for keyword in node.keywords]:
                    visit(argument)
            elif isinstance(node, (ast.Attribute, ast.Subscript)) and self.operand(node.value).label:
                visit(node.value)
                if isinstance(node, ast.Subscript):
                    visit(node.slice)
            elif isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
                found.append(self.operand(node))
            else:
                for child in ast.iter_child_nodes(node):
                    visit(child)

        if node is not None:
            visit(node)
        unique = {operand.text: operand for operand in found}
        return [operand for operand in unique.values() if _shown(operand) and not isinstance(operand.value, dict)]

    def targets(self, node) -> list:
        """The Operands a target writes: each name of a tuple target, or the item or name itself."""
        if isinstance(node, (ast.Tuple, ast.List)):
            return [operand for element in node.elts for operand in self.targets(element)]
        return [self.operand(node.value if isinstance(node, ast.Starred) else node)]

    def chain(self, node) -> list:
        """For nested calls, relu(l_in(e[c])): each call, and each argument that computes, innermost first."""
        if node is None or sum(isinstance(n, ast.Call) for n in ast.walk(node)) < 2:
            return []
        rows = []

        def visit(node, parent_is_call):
            children = node.args if isinstance(node, ast.Call) else list(ast.iter_child_nodes(node))
            for child in children:
                visit(child, isinstance(node, ast.Call))
            computes = isinstance(node, (ast.BinOp, ast.UnaryOp)) or (
                isinstance(node, ast.Subscript) and isinstance(self.value(node.value), numpy.ndarray))
            if isinstance(node, ast.Call) or (parent_is_call and computes):
                rows.append(node)

        visit(node, False)
        return [(_code(self.source, row), self.operands(row, stop=[r for r in rows if r is not row]),
                 self.value(row)) for row in rows]


# -- running a model's reference implementation ---------------------------------------------------------
def build_model(name: str, input_size: int = 10, hidden_size: int = 20, num_layers: int = 1, emb: int = 42,
                vocab_size: int = 60, cell: str = "lstm", nonlinearity: str = "tanh", seed: int = 0) -> Module:
    """A small model to explain, or the model stored in a checkpoint.

    name: "charloop" (CharLoopModel(vocab_size, n_fac=emb, n_hidden=hidden_size)), "rnn" (with
    ``nonlinearity``), "lstm", "gru" (input_size, hidden_size, num_layers), "charrnn"
    (CharRNN(vocab_size, emb, hidden_size, num_layers, cell)), or the path of a checkpoint written
    by ``minirnn train``, whose stored model and sizes are used instead. The defaults are the
    article's: nn.RNN(input_size=10, hidden_size=20), and n_fac=42 for CharLoopModel.
    """
    if name not in MODELS:
        if not Path(name).is_file():
            raise ValueError(f"model must be one of {MODELS} or the path of a checkpoint, got {name!r} "
                             "(no such file)")
        from minirnn import checkpoint  # imported here: the built-in models do not need it
        return checkpoint.load(name).build_model(seed=seed)
    if name == "charloop":
        return models.build_model(name, vocab_size=vocab_size, n_fac=emb, n_hidden=hidden_size, seed=seed)
    if name == "charrnn":
        return models.build_model(name, vocab_size=vocab_size, emb=emb, hidden=hidden_size, layers=num_layers,
                                  cell=cell, seed=seed)
    options = dict(nonlinearity=nonlinearity) if models.MODELS[name] is RNN else {}
    return models.build_model(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, seed=seed,
                              **options)


@dataclass
class Recording:
    """A model's reference implementation, run forward and backward on a tiny random input: what explain prints.

    state_dict: float64 copies of the model's weights, the arrays that every label names. forward,
    backward: the Lines of the reference's forward and backward functions. steps: T. For the charloop reference,
    whose own function loops over time: states[t] = (h_t,) and d_states[t] = (dL/dh_t,). For a
    sequence: runs, its layers and directions (minirnn.reference.sequence.Run); d_states, their
    gradients; step, the (forward, backward) step functions that ran them.
    """
    state_dict: dict
    inputs: str
    loss: str
    forward: list
    backward: list
    steps: int
    states: list | None = None
    d_states: list | None = None
    runs: list | None = None
    step: tuple | None = None


def record(model: Module, steps: int = 3, batch: int = 4, seed: int = 0) -> Recording:
    """Run the reference implementation of ``model`` on random data of T=steps, B=batch; keep what explain prints.

    CharLoopModel gets ids cs (T, B) and the NLL loss of a random next character, CharRNN ids (T, B)
    and the cross-entropy of a random next character at every step; RNN, LSTM and GRU get x (T, B, I)
    and L = sum(output * G) for a random G, so that every step receives a gradient from above.
    """
    steps, batch = validate.positive_int("steps", steps), validate.positive_int("batch", batch)
    rng = numpy.random.default_rng(seed)
    weights = {name: value.astype(numpy.float64) for name, value in model.state_dict().items()}
    if isinstance(model, (CharLoopModel, CharRNN)):
        V = model.vocab_size
        ids = rng.integers(0, V, (steps, batch))
        inputs = f"{'cs' if isinstance(model, CharLoopModel) else 'ids'} {_describe(ids)}: T={steps} steps of " \
                 f"B={batch} character ids in [0, {V})"
    if isinstance(model, CharLoopModel):
        (logp, cache), forward = watch(reference.charloop_forward, (ids, weights), weights)
        loss, d_logp = nll_loss(logp, rng.integers(0, V, batch))
        (_, dhs), backward = watch(reference.charloop_backward, (d_logp, cache, weights), weights)
        return Recording(weights, inputs, f"L = nll_loss(logp, next character) = {loss:.4f}; d_logp "
                         f"{_describe(d_logp)}", forward, backward, steps, states=[(h,) for h in cache.hs],
                         d_states=[(d,) for d in dhs])
    if isinstance(model, CharRNN):
        step = kind_of(model.rnn).reference_step
        step_forward, step_backward = step
        no_state = (None,) * len(model.rnn.gate_math.state_names)            # zeros, and no gradient from after T
        (logits, _, cache), forward = watch(reference.charrnn_forward, (ids, weights, step_forward, no_state),
                                            weights)
        loss, d_logits = cross_entropy(logits, rng.integers(0, V, (steps, batch)))
        (*_, d_states), backward = watch(reference.charrnn_backward,
                                         (d_logits, cache, weights, step_backward, no_state), weights)
        return Recording(weights, inputs, f"L = cross_entropy(logits, next characters) = {loss:.4f}; "
                         f"d_logits {_describe(d_logits)}", forward, backward, steps, d_states=d_states,
                         runs=cache.runs, step=step)
    if not isinstance(model, Recurrent):
        raise TypeError(f"model must be a CharLoopModel, CharRNN, RNN, LSTM or GRU, got {type(model).__name__}")
    reference_forward, reference_backward = kind_of(model).reference_layer
    extra = (None, model.nonlinearity) if isinstance(model, RNN) else ()  # h0 = None, then the activation
    x = rng.standard_normal((steps, batch, model.input_size))
    (output, _, runs), forward = watch(reference_forward, (x, weights, *extra), weights)
    d_output = rng.standard_normal(output.shape)
    (*_, d_states), backward = watch(reference_backward, (d_output, runs, *extra), weights)
    return Recording(weights, f"x {_describe(x)}: T={steps} steps, B={batch} sequences, I={model.input_size} "
                     f"features", f"L = sum(output * G) for a random G, so d_output = G {_describe(d_output)} and "
                     f"d_h_n = None", forward, backward, steps, d_states=d_states, runs=runs,
                     step=kind_of(model).reference_step)


# -- the printout ----------------------------------------------------------------------------------
class _Printer:
    """Lays out a Recording: lines indented by depth, loops split into steps, the middle of a long loop left out.

    used: parameter name -> the reference lines that read it, among the lines given to the printers that share it.
    """

    def __init__(self, recording: Recording, show_steps: int, cells: bool, used: dict):
        self.rec, self.show_steps, self.cells, self.used = recording, show_steps, cells, used
        self.out: list[str] = []

    def line(self, line: Line, depth: int, chain: bool = False, show: bool = True) -> None:
        for operand in line.reads + [o for _, operands, _ in line.chain for o in operands]:
            for name in ([operand.label] if operand.label else []) + list(operand.holds):
                if line.location not in self.used.setdefault(name, []):
                    self.used[name].append(line.location)
        if not show:
            return
        pad, comment = "  " * depth, f"   # {line.comment}" if line.comment else ""
        writes = ", ".join(str(o) for o in line.writes if _shown(o))
        flow = ", ".join(map(str, line.reads)) + (" -> " + writes if writes else "")
        self.out += [f"{pad}{line.location:<34} {line.code}{comment}", f"{pad}{'':<34}   {flow.strip()}"]
        width = max((len(text) for text, _, _ in line.chain), default=0)
        for text, operands, value in line.chain if chain else []:
            reads = ", ".join(map(str, operands))
            self.out.append(f"{pad}{'':<34}     {text:<{width}}  {reads + ' ' if reads else ''}-> {_describe(value)}")

    def shown(self, position: int, t: int, depth: int) -> bool:
        """Whether a loop's position-th step (t) is printed: the first show_steps - 1 and the last are; the
        first of the others is replaced by a line saying which steps are left out (a backward counts down)."""
        T = self.rec.steps
        if position < self.show_steps - 1 or position == T - 1:
            return True
        if position == self.show_steps - 1:
            last = t + (T - 2 - position) * (1 if t == position else -1)
            hidden = f"step t={t} runs" if last == t else f"steps t={t}..{last} run"
            self.out.append(f"{'  ' * depth}... {hidden} the same lines ...")
        return False

    def step(self, t: int, depth: int, lines: list, carry: str, cell: bool) -> None:
        """Step t: its lines (a cell's only when self.cells), then what it hands on or sends back."""
        self.out.append(f"{'  ' * depth}step t={t}")
        for line in lines:
            self.line(line, depth + 1, show=self.cells or not cell)
        self.out.append(f"{'  ' * depth}  {carry}")

    def function(self, lines: list, backward: bool) -> None:
        """A reference forward or backward: its lines, its own loop over time step by step, and after the
        line that runs a sequence, that sequence's steps."""
        rec, T = self.rec, self.rec.steps
        for passes, group in itertools.groupby(lines, key=lambda line: line.step):
            if passes is None:
                for line in group:
                    self.line(line, 1)
                    if rec.runs is not None and _wrote(line, rec.d_states if backward else rec.runs):
                        (self.runs_backward if backward else self.runs_forward)()
                continue
            t = T - 1 - passes if backward else passes
            if self.shown(passes, t, 1):             # a reference implementation's own loop over time: its body is the cell
                self.step(t, 1, list(group), _carry_back(rec.d_states[t], t) if backward else
                          _carry_on(rec.states[t + 1], t, T), cell=True)

    def runs_forward(self) -> None:
        for run in self.rec.runs:
            self.title(run)
            for t in range(self.rec.steps):
                if self.shown(t, t, 2):
                    _, lines = watch(self.rec.step[0], (run.xs[t], run.states[t], run.params), self.rec.state_dict)
                    self.step(t, 2, lines, _carry_on(run.states[t + 1], t, self.rec.steps), cell=True)

    def runs_backward(self) -> None:
        """Each run, the top layer first, as BPTT reaches them; what each step sends back is what its
        step function returns for the state before it."""
        runs, T = self.rec.runs, self.rec.steps
        directions = runs[-1].direction + 1
        for first in reversed(range(0, len(runs), directions)):
            for k in range(first, first + directions):
                self.title(runs[k])
                for position, t in enumerate(reversed(range(T))):
                    if self.shown(position, t, 2):
                        (_, d_prev, _), lines = watch(self.rec.step[1], (self.rec.d_states[k][t + 1],
                                                      runs[k].caches[t], runs[k].params), self.rec.state_dict)
                        self.step(t, 2, lines, _carry_back(d_prev, t), cell=True)

    def title(self, run) -> None:
        if len(self.rec.runs) > 1:
            self.out.append(f"    layer {run.layer}" + (", reverse direction (its step t=0 reads the last input)"
                                                         if run.direction else ""))

    def one_step(self) -> None:
        """Step t=0 alone, each line followed by its nested calls innermost first: the article's picture."""
        if self.rec.runs is None:
            lines, state = [line for line in self.rec.forward if line.step == 0], self.rec.states[1]
        else:
            run = self.rec.runs[0]
            _, lines = watch(self.rec.step[0], (run.xs[0], run.states[0], run.params), self.rec.state_dict)
            state = run.states[1]
        for line in lines:
            self.line(line, 1, chain=True)
        self.out.append(f"  {_carry_on(state, 0, self.rec.steps)}")


def _wrote(line: Line, items: list) -> bool:
    """Whether the line wrote this list (as a copy: the tracer keeps lists as they were after the line)."""
    return any(isinstance(o.value, list) and len(o.value) == len(items) and all(map(operator.is_, o.value, items))
               for o in line.writes)


def _carry_on(state: tuple, t: int, T: int) -> str:
    """What step t hands on: the state it wrote."""
    values = ", ".join(f"{name}_{t + 1} {_describe(value)}" for name, value in zip("hc", state))
    verb = "goes" if len(state) == 1 else "go"
    return f"=> {values} {verb} on to step {t + 1}" if t + 1 < T else f"=> {values}: the final state"


def _carry_back(d_state: tuple, t: int) -> str:
    """What step t sends back: the gradient of the state it read."""
    values = ", ".join(f"dL/d{name}_{t} {_describe(value)} norm {numpy.linalg.norm(value):.3g}"
                       for name, value in zip("hc", d_state))
    verb = "goes" if len(d_state) == 1 else "go"
    return f"=> {values} {verb} back to step {t - 1}" if t > 0 else f"=> {values}: the gradient of the initial state"


def _place(location: str) -> tuple:
    """"minirnn/reference/rnn.py:31" as ("minirnn/reference/rnn.py", 31), to sort by file, then line."""
    path, line = location.rsplit(":", 1)
    return path, int(line)


def parameter_table(model: Module, used: dict | None = None) -> str:
    """Name, shape and count of every parameter, and (given ``used``) the reference lines that read it."""
    used = used or {}
    rows = [(name, str(tuple(value.shape)), str(int(value.size)), ", ".join(sorted(used.get(name, []), key=_place)))
            for name, value in model.params.items()]
    total = sum(int(value.size) for value in model.params.values())
    header = ("parameter", "shape", "count", "read by (forward)" if used else "")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(3)]
    out = [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
           for row in [header] + rows]
    return "\n".join(out + [f"{'total':<{widths[0]}}  {'':<{widths[1]}}  {total:>{widths[2]}}"])


def explain(model: Module, steps: int = 3, batch: int = 4, seed: int = 0, show_steps: int = 3,
            cells: bool = True) -> str:
    """The printout: one step, the forward, the backward in reverse, and the parameter table.

    steps, batch: T and B of the random input. A loop of more than ``show_steps`` steps shows its
    first show_steps - 1 and its last. cells=False (``--brief``) leaves out every line inside the cell
    (its gate math): the one-step section, and the lines of each step in the forward and backward,
    keeping each step's state and gradient and every line outside the loop.
    """
    show_steps = validate.positive_int("show_steps", show_steps)
    rec = record(model, steps, batch, seed)
    read_by_forward: dict[str, list] = {}
    one_step, forward = (_Printer(rec, show_steps, cells, read_by_forward) for _ in range(2))
    backward = _Printer(rec, show_steps, cells, {})
    one_step.one_step()                          # run in brief too: it records which lines read each parameter
    forward.function(rec.forward, backward=False)
    backward.function(rec.backward, backward=True)
    reference_file = rec.forward[0].location.split(":")[0]
    no_dropout = " (without dropout, as in eval mode)" if getattr(model, "dropout", 0) else ""
    rule = "-" * 78
    return "\n".join([
        repr(model), f"input: {rec.inputs}",
        f"Its reference implementation, {reference_file}, ran on these weights in float64{no_dropout}; the tests",
        "hold it equal to the fast path to 1e-12. Every line below ran just now: under each, the arrays it read ->",
        "the arrays it wrote, with their shapes and the parameters by their state_dict names, and the",
        "equation in the line's own comment.",
        *([rule, "ONE STEP: step t=0 as the article draws the cell (nested calls innermost first)", *one_step.out]
          if cells else []),
        rule, "FORWARD" + ("" if cells else " (brief: the lines inside the cell, its gate math, left out)"),
        *forward.out,
        rule, f"BACKWARD (BPTT), {rec.loss}", *backward.out,
        rule, "PARAMETERS", parameter_table(model, read_by_forward),
    ])
