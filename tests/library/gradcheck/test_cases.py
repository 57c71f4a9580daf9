"""Every backward proven by central finite differences in float64 (minirnn/gradcheck/cases.py), over
hypothesis-drawn shapes and options, on every backend.
"""
import pytest
from conftest import BACKENDS
from hypothesis import given
from hypothesis import strategies as st

from minirnn.cell_kinds import CELL_KINDS, CELLS, LAYERS
from minirnn.gradcheck import Case, check_case, draw_cases, run_case


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
    options.update(draw(st.sampled_from([kind.options for kind in CELL_KINDS.values() if kind.layer_name == model])))
    return options


@pytest.mark.parametrize("model", LAYERS)
@given(data=st.data())
def test_sequence_model_gradients_match_finite_differences(model, data):
    options = data.draw(sequence_options(model))
    assert_all_pass(check_case(Case(model, options), seed=data.draw(st.integers(0, 2**16)), max_entries=150))


@pytest.mark.parametrize("model", [*CELLS, "charloop", "charrnn", "nll_loss", "cross_entropy"])
@pytest.mark.parametrize("seed", range(4))
def test_step_cell_model_and_loss_gradients_match_finite_differences(model, seed):
    for case in draw_cases(model, 3, seed=seed):
        assert_all_pass(check_case(case, seed=seed))


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_every_default_case_passes_on_each_backend(backend_name):
    for model in LAYERS:
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
