"""minirnn explain: the printout is recorded from the model's real run and matches the source."""
from __future__ import annotations

import linecache
import re
import sys
from pathlib import Path

import numpy
import pytest

from minirnn import cli
from minirnn.study import explain
from minirnn.training import checkpoint
from minirnn.study.explain import Carry, Line, build_model, record

ROOT = Path(explain.__file__).resolve().parent.parent


@pytest.mark.parametrize("name", explain.MODELS)
def test_every_builtin_model_is_explained(name):
    text = explain.explain(build_model(name, input_size=3, hidden_size=4, emb=5, vocab_size=7), steps=2, batch=2)
    for part in ("FORWARD", "BACKWARD", "PARAMETERS", "step t=0", "step t=1"):
        assert part in text
    assert re.search(r"go(es)? back to step 0", text)


def test_charloop_shows_the_articles_chain_with_its_shapes():
    text = explain.explain(build_model("charloop", hidden_size=8, emb=42), steps=3, batch=4)
    assert "ids (3, 4) int64" not in text and "cs (3, 4) int64, e.weight (60, 42) -> emb (3, 4, 42)" in text
    assert "l_in.weight (8, 42)" in text and "relu_forward(pre_in)" in text
    assert "weight_hh_t=l_hidden.weight.T (8, 8) -> hh (4, 8)" in text      # + h_{t-1} W^T, in the loop
    assert "# h_t = tanh(a_t)" in text and "=> h_3 (4, 8) goes on to step 3" in text


def test_one_step_reads_as_the_article_draws_the_cell():
    text = explain.explain(build_model("charloop", hidden_size=8, emb=42), steps=3, batch=4)
    step = text.split("ONE STEP")[1].split("FORWARD")[0]
    chain = ["cs[t] (4,) int64, e.weight (60, 42) -> emb[t] (4, 42)",            # e[c_t]
             "emb[t] (4, 42), l_in.weight (8, 42), l_in.bias (8,) -> pre_in[t] (4, 8)",   # l_in
             "pre_in[t] (4, 8) -> inp[t] (4, 8)",                                # relu
             "l_hidden.weight (8, 8), l_hidden.bias (8,) -> x_proj[t] (4, 8)",   # l_hidden on inp_t
             "weight_hh_t=l_hidden.weight.T (8, 8) -> hh (4, 8)",                # l_hidden on h_{t-1}
             "gates (4, 8), hh (4, 8) -> gates (4, 8)",                          # the addition
             "gates (4, 8) -> out[0] (4, 8)",                                    # tanh -> h_t
             "=> h_1 (4, 8) goes on to step 1"]
    positions = [step.index(part) for part in chain]
    assert positions == sorted(positions) and "step t=1" not in step


def test_each_recorded_line_is_the_source_line_that_ran():
    run = record(build_model("lstm", input_size=3, hidden_size=4), steps=2, batch=2)
    lines = [r for r in run.forward.records + run.backward.records if isinstance(r, Line)]
    assert any(r.location.startswith("minirnn/cells/lstm.py") for r in lines)
    for r in lines:
        path, number = r.location.rsplit(":", 1)
        source = linecache.getline(str(ROOT / path), int(number)).split("#")[0]
        assert " ".join(source.split()) in r.code


def test_backward_walks_the_steps_in_reverse_and_hands_each_gradient_back():
    run = record(build_model("rnn", input_size=3, hidden_size=4), steps=3, batch=2)
    steps = [r.step for r in run.backward.records if isinstance(r, Line) and r.step is not None]
    assert steps == sorted(steps, reverse=True) and set(steps) == {0, 1, 2}
    carries = [r.text for r in run.backward.records if isinstance(r, Carry)]
    assert [c.split(" ")[1] for c in carries] == ["dL/dh_2", "dL/dh_1", "dL/dh_0"]
    assert "goes back to step 1" in carries[0] and "initial state" in carries[-1]


def test_parameter_table_lists_every_parameter_and_the_total():
    model = build_model("gru", input_size=3, hidden_size=4)
    table = explain.parameter_table(model)
    for name, value in model.params.items():
        assert re.search(rf"^{name}\s+\({value.shape[0]}, ?\d*\)?\s+{value.size}\b", table, re.M)
    assert table.splitlines()[-1].split()[-1] == str(sum(v.size for v in model.params.values()))


def test_recording_changes_no_gradient_and_restores_the_outer_tracer():
    traced, plain = (build_model("lstm", input_size=3, hidden_size=4, seed=1) for _ in range(2))
    outer = lambda frame, event, arg: None  # noqa: E731
    previous = sys.gettrace()
    sys.settrace(outer)
    try:
        record(traced, steps=3, batch=2, seed=5)
        assert sys.gettrace() is outer
    finally:
        sys.settrace(previous)
    generator = numpy.random.default_rng(5)
    x = generator.standard_normal((3, 2, 3)).astype("float32")
    output, _ = plain(x)
    plain.backward(generator.standard_normal(output.shape).astype("float32"))
    for name, grad in plain.grads.items():
        numpy.testing.assert_array_equal(traced.grads[name], grad)


def test_a_checkpoint_is_explained_with_its_own_sizes(tmp_path):
    path = tmp_path / "tiny.npz"
    checkpoint.save(path, build_model("charrnn", hidden_size=6, emb=5, vocab_size=9, cell="gru"))
    text = explain.explain(build_model(str(path)), steps=2, batch=2)
    assert "CharRNN(vocab_size=9, emb=5, hidden=6" in text and "rnn.weight_hh_l0.T (6, 18)" in text


def test_a_checkpoint_of_the_articles_model_is_explained(tmp_path):
    path = tmp_path / "loop.npz"
    checkpoint.save(path, build_model("charloop", hidden_size=6, emb=5, vocab_size=9))
    text = explain.explain(build_model(str(path)), steps=2, batch=3)
    assert "CharLoopModel(vocab_size=9, n_fac=5, n_hidden=6" in text
    assert "weight_hh_t=l_hidden.weight.T (6, 6) -> hh (3, 6)" in text


def test_an_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match=r"model must be one of .*charloop.*got 'lstn'"):
        build_model("lstn")


def test_command_line_prints_the_brief_form(capsys):
    assert cli.main(["explain", "gru", "--steps", "2", "--brief", "--hidden-size", "4", "--input-size", "3"]) == 0
    out = capsys.readouterr().out
    assert "step t=1" in out and "minirnn/cells/gru.py" not in out


def test_each_layer_and_direction_gets_its_own_run_of_the_loop():
    model = explain.RNN(2, 3, num_layers=2, bidirectional=True, seed=0)
    run = record(model, steps=2, batch=1)
    loops = {r.loop for r in run.forward.records if r.loop is not None}
    assert len(loops) == 4
    assert sum(isinstance(r, Carry) for r in run.backward.records) == 4 * 2


def test_a_long_loop_prints_its_first_steps_and_its_last():
    text = explain.explain(build_model("gru", input_size=2, hidden_size=3), steps=6, batch=1, show_steps=3,
                           cells=False)
    forward = text.split("BACKWARD")[0]
    assert "step t=0" in forward and "step t=1" in forward and "step t=5" in forward
    assert "... steps t=2..4 run the same lines ..." in forward and "step t=3" not in forward
