"""docs/course.ipynb: stored without outputs, and run whole in its quick setting where a notebook runner
(nbclient, the ``notebook`` extra) is installed."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "course.ipynb"


def test_the_notebook_is_stored_without_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert len(code) > 10
    assert [i for i, cell in enumerate(code) if cell["outputs"] or cell["execution_count"] is not None] == []


def test_the_notebook_runs_in_its_quick_setting(nietzsche, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed: the notebook is not run")
    nbclient = pytest.importorskip("nbclient", reason="the notebook extra is not installed: the notebook is not run")
    monkeypatch.setenv("MINIRNN_COURSE_QUICK", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.outputs)
    assert "corpus length: 600893\n" in printed and "total chars: 85\n" in printed
    assert "[40, 42, 29, 30, 25, 27, 29, 1, 1, 1]\n" in printed
    compared = re.findall(r"loss after the first phase and at the end: here [\d.]+ -> [\d.]+; "
                          r"the 2017 notebook ([\d.]+) -> ([\d.]+)", printed)
    assert len(compared) == 9                                       # every row of the course, in order
    assert compared[0] == ("2.096", "1.845") and compared[-1] == ("1.506", "1.263")
