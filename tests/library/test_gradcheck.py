"""Every backward proven by central finite differences in float64, over hypothesis-drawn shapes."""
import dataclasses
import re

import numpy as np
import pytest
from conftest import BACKENDS
from hypothesis import given
from hypothesis import strategies as st

from minirnn.gates import RNN_TANH_CELL
from minirnn.gradcheck import Case, check_case, check_gradients, draw_cases, run_case
from minirnn.layers import RNN


def assert_all_pass(result):
    failed = [str(r) for r in result.reports if not r.passed]
    assert not failed, "\n".join(failed)
    assert all(r.checked > 0 or r.kinks > 0 for r in result.reports)
    assert not result.vacuous and result.passed


@st.composite
def sequence_options(draw, model):
    layers = draw(st.integers(1, 3))
    chunks = draw(st.sampled_from([1, 1, 2, 3]))
    options = dict(T=draw(st.integers(max(1, chunks), 8)), B=draw(st.integers(1, 4)), I=draw(st.integers(1, 8)),
                   H=draw(st.integers(1, 8)), layers=layers, bidirectional=draw(st.booleans()),
                   h0=draw(st.booleans()), chunks=chunks,
                   lengths=chunks == 1 and draw(st.booleans()),
                   dropout=draw(st.sampled_from([0.0, 0.5])) if layers > 1 else 0.0,
                   batch_first=draw(st.booleans()), bias=draw(st.booleans()))
    if model == "rnn":
        options["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    return options


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@given(data=st.data())
def test_sequence_model_gradients_match_finite_differences(model, data):
    options = data.draw(sequence_options(model))
    assert_all_pass(check_case(Case(model, options), seed=data.draw(st.integers(0, 2**16)), max_entries=150))


@pytest.mark.parametrize("model", ["rnncell", "lstmcell", "grucell", "charloop", "charrnn", "nll_loss",
                                   "cross_entropy"])
@pytest.mark.parametrize("seed", range(4))
def test_step_cell_model_and_loss_gradients_match_finite_differences(model, seed):
    for case in draw_cases(model, 3, seed=seed):
        assert_all_pass(check_case(case, seed=seed))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_every_default_case_passes_on_each_backend(backend_name):
    for model in ("rnn", "lstm", "gru"):
        for case in draw_cases(model, 4, seed=7):
            assert_all_pass(check_case(case, seed=7, backend_name=backend_name))


DEAD_UNIT = Case("rnncell", dict(B=1, I=2, H=1, h0=False, bias=True, nonlinearity="relu"))   # dead at seed 0


def test_a_draw_whose_gradients_are_all_zero_proves_nothing_and_is_replaced():
    reports = run_case(DEAD_UNIT, seed=0)
    assert all(r.passed and r.live == 0 for r in reports)         # 0 == 0 everywhere: "passes", vacuously
    result = check_case(DEAD_UNIT, seed=0)
    assert result.vacuous_seeds == [0] and result.seed != 0
    assert not result.vacuous and result.passed and sum(r.live for r in result.reports) > 0


def test_a_case_that_stays_all_zero_never_counts_as_a_pass():
    result = check_case(DEAD_UNIT, seed=0, redraws=0)
    assert result.vacuous and not result.passed and all(r.passed for r in result.reports)


def test_a_wrong_backward_is_reported_as_failing():
    """The check can fail: a tanh derivative 1% too large is caught."""
    cell = RNN_TANH_CELL

    def wrong_backward(d_state, gates, prev, out, saved, d_gates, d_hh, scratch):
        cell.backward(d_state, gates, prev, out, saved, d_gates, d_hh, scratch)
        d_gates *= 1.01

    model = RNN(2, 3, dtype="float64", seed=0)
    model.cell = dataclasses.replace(cell, backward=wrong_backward)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))

    def loss():
        return float(model(x)[0].sum())

    model.zero_grad()
    out, _ = model(x)
    dx, _ = model.backward(np.ones_like(out))
    reports = check_gradients(loss, dict(model.grads, x=dx), dict(model.params, x=x))
    assert not all(r.passed for r in reports)
    assert max(r.max_abs_error for r in reports) > 1e-4


def test_kinks_of_relu_are_detected_and_counted():
    """A step that moves a ReLU input across zero is skipped, not reported as an error."""
    from minirnn.ops import relu_forward
    x = np.array([-1e-7, 0.5, -0.3, 2e-7])

    def loss():
        return float(relu_forward(x)[0].sum())

    analytic = {"x": (x > 0).astype(float)}
    (report,) = check_gradients(loss, analytic, {"x": x})
    assert report.kinks == 2 and report.checked == 2 and report.passed


def test_a_wrong_gradient_away_from_a_kink_is_not_excused_as_one():
    """Only the loss's own bend over the step can excuse a miss; a wrong slope of a ReLU is still a failure."""
    from minirnn.ops import relu_forward
    x = np.array([0.5, -0.3, 1e-7])

    def loss():
        return float(relu_forward(x)[0].sum())

    (report,) = check_gradients(loss, {"x": np.array([1.01, 0.0, 1.0])}, {"x": x})
    assert report.kinks == 1 and not report.passed


def test_the_report_names_the_entry_with_the_largest_error():
    x = np.array([[0.5, -0.3], [0.2, 0.9]])

    def loss():
        return float((x ** 2).sum())

    analytic = 2 * x
    analytic[1, 0] += 1e-3
    (report,) = check_gradients(loss, {"x": analytic}, {"x": x})
    assert not report.passed and report.worst_index == (1, 0)


def test_large_tensors_are_checked_on_a_subset_and_a_direction():
    weights = np.random.default_rng(0).standard_normal(1000)
    x = np.random.default_rng(1).standard_normal(1000)

    def loss():
        return float(np.tanh(weights * x).sum())

    analytic = {"x": weights * (1 - np.tanh(weights * x) ** 2)}
    (report,) = check_gradients(loss, analytic, {"x": x}, max_entries=50)
    assert report.checked == 51 and report.passed


def test_float32_tensors_are_refused():
    with pytest.raises(TypeError, match="float64"):
        check_gradients(lambda: 0.0, {"x": np.zeros(2)}, {"x": np.zeros(2, np.float32)})


def test_the_command_prints_a_row_per_case_and_exits_zero(capsys):
    from minirnn.tools.cli import main
    assert main(["gradcheck", "--model", "lstm", "--model", "charloop", "--cases", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("  ok  ") == 4 and "4 passed, 0 failed" in out


def test_the_table_aligns_and_reports_a_replaced_all_zero_draw(capsys):
    from minirnn.tools.cli import main
    assert main(["gradcheck", "--model", "rnncell", "--model", "rnn", "--cases", "6"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("model "))
    rows = [line for line in lines if line.startswith(("rnncell ", "rnn "))]
    assert len(rows) == 12 and len({len(row.split("  ok  ")[0]) for row in rows}) == 1   # the columns line up
    assert len({row.index("  ok  ") for row in rows} | {header.index("  result")}) == 1
    assert "seed 0: every gradient exactly 0 (a dead unit), which proves nothing; replaced" in out
    assert "(1 all-zero draw replaced)" in out


def test_the_summary_states_the_worst_error_as_a_share_of_its_tolerance(capsys):
    from minirnn.tools.cli import main
    assert main(["gradcheck", "--model", "grucell", "--cases", "2"]) == 0
    out = capsys.readouterr().out
    assert "a pass is at most 100%" in out
    used = float(re.search(r"the worst entry used ([\d.]+)% of its tolerance", out)[1])
    assert 0 < used <= 100


def test_the_script_exits_non_zero_when_a_gradient_is_wrong(tmp_path):
    """scripts/gradcheck.py run as a program, with the tanh cell's backward made 1% wrong."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    sabotage = tmp_path / "sitecustomize.py"
    sabotage.write_text(
        "import dataclasses\n"
        "from minirnn.gates import rnn\n"
        "real = rnn.RNN_TANH_CELL.backward\n"
        "def wrong(*args):\n"
        "    real(*args)\n"
        "    args[5][...] *= 1.01\n"
        "object.__setattr__(rnn.RNN_TANH_CELL, 'backward', wrong)\n")
    env = {"PYTHONPATH": f"{tmp_path}:{root}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, str(root / "scripts" / "gradcheck.py"), "--model", "rnncell",
                             "--cases", "2"], capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    assert "FAIL" in result.stdout and "1 passed, 1 failed" in result.stdout   # the tanh case fails, relu passes
