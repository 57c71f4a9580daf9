"""check_cell_file (minirnn/gradcheck/isolated.py): a learner's file checked in a child process, whose end
without a report is an error naming how it ended, and whose prints still show."""
import inspect

import pytest

import minirnn.reference.lstm
from minirnn.gradcheck import check_cell_file

# A learner's LSTM as a step pair: the reference implementation's own file, as a learner would copy it.
LSTM_STEP = inspect.getsource(minirnn.reference.lstm).replace("from .", "from minirnn.reference.")


def write(tmp_path, source, name="learner.py"):
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def test_a_cell_that_kills_its_process_is_named_by_its_signal(tmp_path):
    write(tmp_path, LSTM_STEP + "\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    with pytest.raises(RuntimeError, match=r"ended without a report \(killed by signal SIGKILL\)"):
        check_cell_file(str(tmp_path / "learner.py") + ":lstm_step")


def test_what_the_cells_code_prints_still_shows_and_the_report_is_its_own(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, LSTM_STEP + '\nprint("debugging my step")\n')
    report = check_cell_file("learner.py:lstm_step")
    assert report.passed and report.text.startswith("Cell check of learner.py:lstm_step")
    assert "debugging my step" in capfd.readouterr().out
