"""check_cell (minirnn/gradcheck/cellcheck.py and learner.py): a cell, given as gate math, a step pair
or a file, checked step by step against finite differences and against minirnn's cell of its kind.
"""
import dataclasses
import inspect
from pathlib import Path

import pytest

import minirnn.reference.lstm
from minirnn.cell_kinds import CELL_KINDS
from minirnn.gates import LSTM_GATE_MATH
from minirnn.gradcheck import check_cell


# A learner's LSTM as a step pair: the reference implementation's file, as a learner would copy it out of the package.
LSTM_STEP = inspect.getsource(minirnn.reference.lstm).replace("from .", "from minirnn.reference.")


RIGHT_F, WRONG_F = "da_f = df * f * (1 - f)", "da_f = df * f"   # sigma' forgotten


def write(tmp_path, source, name="learner.py"):
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def wrong_f(source=LSTM_STEP):
    assert RIGHT_F in source
    return source.replace(RIGHT_F, WRONG_F)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_minirnns_own_gate_math_passes(kind):
    report = check_cell(CELL_KINDS[kind].gate_math)
    assert report.passed, report.format()
    assert all(g.vs_minirnn is not None for g in report.gradients)


def test_a_cell_of_a_kind_minirnn_lacks_is_checked_by_finite_differences_alone():
    report = check_cell(dataclasses.replace(LSTM_GATE_MATH, name="peephole"))
    assert report.passed and not report.forward and all(g.vs_minirnn is None for g in report.gradients)
    assert "only finite differences check it" in str(report)


def test_the_reference_implementations_step_pairs_are_checked_in_place(kind="lstm"):
    """A file inside the package is imported by its module name, so its relative imports work."""
    report = check_cell(f"{Path(minirnn.reference.lstm.__file__)}:lstm_step")
    assert report.passed and report.cell.kind.name == "lstm"


def test_a_step_pair_of_functions_can_be_checked_from_code():
    namespace = {}
    exec(LSTM_STEP, namespace)
    report = check_cell((namespace["lstm_step_forward"], namespace["lstm_step_backward"]))
    assert report.passed and report.cell.kind.name == "lstm"


def test_each_step_is_checked_on_its_own_so_an_error_stays_where_it_is_made(tmp_path):
    """Through BPTT the wrong dh_prev would spoil every earlier step's dc; checked apart, dc_prev is right."""
    report = check_cell(write(tmp_path, wrong_f()) + ":lstm_step")
    gradients = {g.name: g for g in report.gradients}
    assert not gradients["dW_hh"].passed and gradients["dc_prev"].passed
    assert all(place.startswith("f block") for place in gradients["dW_hh"].places)
