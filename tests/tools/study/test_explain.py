"""minirnn explain: the printout is the reference implementation's lines as they ran, and every label in it is right."""
from __future__ import annotations

import linecache
import re
import sys
from pathlib import Path

import numpy
import pytest

from minirnn import checkpoint
from minirnn.tools import cli
from minirnn.tools.study import explain
from minirnn.tools.study.explain import build_model, record, watch

ROOT = Path(__file__).resolve().parents[3]
SIZES = [dict(input_size=3, hidden_size=4, emb=5, vocab_size=7),
         dict(input_size=6, hidden_size=9, emb=4, vocab_size=11)]


def all_lines(rec) -> list:
    """Every Line explain can print for a recording: the reference functions, and every step of every run."""
    lines = rec.forward + rec.backward
    for k, run in enumerate(rec.runs or []):
        for t in range(rec.steps):
            lines += watch(rec.step[0], (run.xs[t], run.states[t], run.params), rec.state_dict)[1]
            lines += watch(rec.step[1], (rec.d_states[k][t + 1], run.caches[t], run.params), rec.state_dict)[1]
    return lines


def operands(line) -> list:
    return line.reads + line.writes + [o for _, chain_operands, _ in line.chain for o in chain_operands]


@pytest.mark.parametrize("name", explain.MODELS)
@pytest.mark.parametrize("size", SIZES, ids=["small", "larger"])
def test_every_label_names_the_parameter_whose_value_it_shows(name, size):
    rec = record(build_model(name, num_layers=2 if name == "lstm" else 1, cell="gru", **size), steps=3, batch=2)
    labelled = 0
    for line in all_lines(rec):
        for operand in operands(line):
            if operand.label is not None:
                assert operand.value is rec.state_dict[operand.label], f"{line.location}: {operand}"
                labelled += 1
            for held_name, held in operand.holds.items():
                assert held is rec.state_dict[held_name], f"{line.location}: {operand}"
            if operand.label is None and isinstance(operand.value, numpy.ndarray):   # no parameter goes unnamed
                assert not any(numpy.array_equal(operand.value, p) for p in rec.state_dict.values()), \
                    f"{line.location}: {operand}"
    assert labelled > 0


@pytest.mark.parametrize("name", explain.MODELS)
def test_every_printed_parameter_name_has_that_parameters_shape(name):
    """Read from the text alone: `text=name (shape)` and `name (shape)` inside a function's {...}."""
    model = build_model(name, hidden_size=6, emb=5, vocab_size=7, input_size=3)
    text = explain.explain(model, steps=2, batch=3)
    shapes = {key: tuple(value.shape) for key, value in model.params.items()}
    found = re.findall(r"[=({,] ?([\w.]+) \(([\d, ]*)\)", text)
    named = [(key, shape) for key, shape in found if key in shapes]
    assert named
    for key, shape in named:
        assert tuple(int(d) for d in shape.replace(" ", "").split(",") if d) == shapes[key], key


def test_a_freed_arrays_id_reused_by_a_temporary_never_becomes_a_label():
    """CPython hands the id of a freed array to the next array it makes. The issue's case: an
    explain that named arrays by id() printed h=l_hidden.weight.T for a temporary of charloop at
    hidden size 256. Here the ids of freed copies of the weights are taken up by the reference implementation's own
    arrays; a name looked up by id would be wrong for some of them, and explain's never is."""
    model = build_model("charloop", hidden_size=256, emb=42)
    state = model.state_dict()
    by_freed_id = {id(value): name for name, value in state.items()}
    del state                                                    # its arrays are freed: their ids can come back
    rec = record(model, steps=3, batch=4)
    reused = [o for line in all_lines(rec) for o in operands(line) if id(o.value) in by_freed_id]
    assert any(by_freed_id[id(o.value)] != o.label for o in reused), "no freed id came back: the case is void"
    for operand in reused:
        assert operand.label is None or operand.value is rec.state_dict[operand.label]


def loop_with_any_names(items, weights):
    total = numpy.zeros_like(weights["w"][0])
    for item in items:
        scaled = item @ weights["w"]   # item W
        total = total + scaled
    w_again, _, _ = weights["w"], item, total
    return total


def test_watch_needs_no_variable_name_of_the_function_it_watches():
    weights = {"w": numpy.ones((2, 3))}
    _, lines = watch(loop_with_any_names, (numpy.ones((4, 5, 2)), weights), weights)
    steps = [line.step for line in lines if line.code.startswith("scaled")]
    assert steps == [0, 1, 2, 3]                              # counted from the for statement itself
    scaled = next(line for line in lines if line.code.startswith("scaled"))
    assert [str(o) for o in scaled.reads] == ["item (5, 2)", "weights[\"w\"]=w (2, 3)"]
    assert scaled.comment == "item W" and str(scaled.writes[0]) == "scaled (5, 3)"
    last = lines[-1]                                          # a name bound twice in one line shows no value
    assert [o.text for o in last.writes] == ["w_again"] and last.writes[0].label == "w"


@pytest.mark.parametrize("name", explain.MODELS)
def test_every_builtin_model_is_explained(name):
    text = explain.explain(build_model(name, **SIZES[0]), steps=2, batch=2)
    for part in ("ONE STEP", "FORWARD", "BACKWARD", "PARAMETERS", "step t=0", "step t=1", "go on to step 1"):
        assert part in text.replace("goes on", "go on")
    assert re.search(r"go(es)? back to step 0", text) and "the gradient of the initial state" in text


def test_one_step_reads_as_the_article_draws_the_cell():
    text = explain.explain(build_model("charloop", hidden_size=8, emb=42), steps=3, batch=4)
    step = " ".join(text.split("ONE STEP")[1].split("FORWARD")[0].split())
    chain = ["inp = relu(l_in(e[c])) # inp_t = relu(l_in(e[c_t]))",
             "e[c] e=e.weight (60, 42), c (4,) int64 -> (4, 42)",                              # e[c_t]
             "l_in(e[c]) l_in{l_in.weight (8, 42), l_in.bias (8,)} -> (4, 8)",               # l_in
             "relu(l_in(e[c])) -> (4, 8)",                                                     # relu
             "h = tanh(l_hidden(h + inp)) # h_t = tanh(l_hidden(h_{t-1} + inp_t))",
             "h + inp h (4, 8), inp (4, 8) -> (4, 8)",                                         # the addition
             "l_hidden(h + inp) l_hidden{l_hidden.weight (8, 8), l_hidden.bias (8,)} -> (4, 8)",
             "tanh(l_hidden(h + inp)) -> (4, 8)",                                              # tanh -> h_t
             "=> h_1 (4, 8) goes on to step 1"]
    positions = [step.index(part) for part in chain]
    assert positions == sorted(positions) and "step t=1" not in step


def test_each_printed_line_is_the_source_line_that_ran():
    rec = record(build_model("lstm", input_size=3, hidden_size=4), steps=2, batch=2)
    lines = all_lines(rec)
    assert any(line.location.startswith("minirnn/reference/lstm.py") for line in lines)
    for line in lines:
        path, number = line.location.rsplit(":", 1)
        source = " ".join(linecache.getline(str(ROOT / path), int(number)).split("#")[0].split())
        assert line.code.startswith(source)


def test_backward_walks_the_steps_in_reverse_and_hands_each_gradient_back():
    text = explain.explain(build_model("rnn", input_size=3, hidden_size=4), steps=3, batch=2)
    carries = re.findall(r"=> dL/dh_(\d) \(2, 4\) norm [\d.e-]+(.*)", text.split("BACKWARD")[1])
    assert carries == [("2", " goes back to step 1"), ("1", " goes back to step 0"),
                       ("0", ": the gradient of the initial state")]


def test_the_lstm_hands_back_both_states():
    text = explain.explain(build_model("lstm", input_size=3, hidden_size=4), steps=2, batch=2)
    assert re.search(r"=> dL/dh_1 \(2, 4\) norm \S+, dL/dc_1 \(2, 4\) norm \S+ go back to step 0", text)
    assert "=> h_1 (2, 4), c_1 (2, 4) go on to step 1" in text


def test_parameter_table_lists_every_parameter_and_the_total():
    model = build_model("gru", input_size=3, hidden_size=4)
    table = explain.parameter_table(model)
    for name, value in model.params.items():
        assert re.search(rf"^{name}\s+\({value.shape[0]}, ?\d*\)?\s+{value.size}\b", table, re.M)
    assert table.splitlines()[-1].split()[-1] == str(sum(v.size for v in model.params.values()))


def test_the_table_names_the_reference_lines_that_read_each_parameter():
    table = explain.explain(build_model("charloop", hidden_size=4, emb=3), steps=2, batch=2).split("PARAMETERS")[1]
    assert re.search(r"^l_hidden\.weight .* minirnn/reference/charloop\.py:\d+$", table, re.M)


def test_explaining_changes_nothing_and_restores_the_outer_tracer():
    model = build_model("lstm", input_size=3, hidden_size=4, seed=1)
    before = model.state_dict()
    outer = lambda frame, event, arg: None  # noqa: E731
    previous = sys.gettrace()
    sys.settrace(outer)
    try:
        explain.explain(model, steps=3, batch=2, seed=5)
        assert sys.gettrace() is outer
    finally:
        sys.settrace(previous)
    for name, value in model.state_dict().items():
        numpy.testing.assert_array_equal(value, before[name])
        assert not model.grads[name].any()


def test_a_checkpoint_is_explained_with_its_own_sizes(tmp_path):
    path = tmp_path / "tiny.npz"
    checkpoint.save(path, build_model("charrnn", hidden_size=6, emb=5, vocab_size=9, cell="gru"))
    text = explain.explain(build_model(str(path)), steps=2, batch=2)
    assert "CharRNN(vocab_size=9, emb=5, hidden=6" in text and "W_hh=rnn.weight_hh_l0 (18, 6)" in text


def test_a_checkpoint_of_the_articles_model_is_explained(tmp_path):
    path = tmp_path / "loop.npz"
    checkpoint.save(path, build_model("charloop", hidden_size=6, emb=5, vocab_size=9))
    text = explain.explain(build_model(str(path)), steps=2, batch=3)
    assert "CharLoopModel(vocab_size=9, n_fac=5, n_hidden=6" in text
    assert "l_hidden{l_hidden.weight (6, 6), l_hidden.bias (6,)} -> (3, 6)" in text


def test_an_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match=r"model must be one of .*charloop.*got 'lstn'"):
        build_model("lstn")


def test_command_line_prints_the_brief_form(capsys):
    assert cli.main(["explain", "gru", "--steps", "2", "--brief", "--hidden-size", "4", "--input-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "step t=1" in out and "=> dL/dh_1" in out and "gru.py:" in out    # the loop around the cell
    assert "n = np.tanh(ax_n + r * ah_n)" not in out and "ONE STEP" not in out   # none of its gate math


@pytest.mark.parametrize("name", explain.MODELS)
def test_brief_prints_no_line_of_the_cell_and_every_step_state_and_gradient(name):
    model = build_model(name, hidden_size=4, emb=3, vocab_size=5, input_size=2)
    full, brief = (explain.explain(model, steps=2, batch=2, cells=cells) for cells in (True, False))
    cell_lines = {"charloop": ["h = tanh(l_hidden(h + inp))", "d_hidden = dhs[t + 1] * (1 - hs[t + 1] ** 2)"],
                  "rnn": ["h = np.tanh(a)"], "lstm": ["c = f * c_prev + i * g", "dc_prev = dc * f"],
                  "gru": ["n = np.tanh(ax_n + r * ah_n)"], "charrnn": ["c = f * c_prev + i * g"]}[name]
    for line in cell_lines:
        assert line in full and line not in brief, line
    def carried(text):                      # what each step hands on or sends back
        return [line.strip() for line in text.splitlines() if line.strip().startswith("=>")]
    assert carried(brief) == carried(full)[1:]                          # all but the one-step section's
    assert full.split("PARAMETERS")[1] == brief.split("PARAMETERS")[1]   # the same lines read each parameter


def test_each_layer_and_direction_is_walked_in_its_own_order():
    text = explain.explain(explain.RNN(2, 3, num_layers=2, bidirectional=True, seed=0), steps=2, batch=1)
    forward, backward = text.split("BACKWARD")
    in_order = [forward.index(title) for title in ("    layer 0\n", "    layer 0, reverse direction",
                                                     "    layer 1\n", "    layer 1, reverse direction")]
    top_first = [backward.index(title) for title in ("    layer 1\n", "    layer 1, reverse", "    layer 0\n")]
    assert in_order == sorted(in_order) and top_first == sorted(top_first)
    assert backward.count("the gradient of the initial state") == 4


def test_a_long_loop_prints_its_first_steps_and_its_last():
    text = explain.explain(build_model("gru", input_size=2, hidden_size=3), steps=6, batch=1, show_steps=3,
                           cells=False)
    forward, backward = text.split("BACKWARD")
    assert "step t=0" in forward and "step t=1" in forward and "step t=5" in forward
    assert "... steps t=2..4 run the same lines ..." in forward and "step t=3" not in forward
    assert "... steps t=3..1 run the same lines ..." in backward and "step t=2\n" not in backward
