"""The README's Python runs: every ```python block, each in a fresh namespace in an empty directory, and a
block followed by "prints" and a ``` block prints that text."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```python\n(?P<code>.*?)```(?:\s*\nprints\s*\n\s*```[a-z]*\n(?P<printed>.*?)```)?", re.S)
NUMBER = re.compile(r"-?\d+\.\d+")


def readme_blocks() -> list:
    """(line number, code, the printed text it shows or None) for each ```python block of the README."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m["code"], m["printed"]) for m in BLOCK.finditer(text)]


def same_printout(actual: str, expected: str) -> bool:
    """The same text, its decimal numbers equal to one unit in their last printed digit: the README was
    run on one machine, and another BLAS may round the last digit the other way."""
    if NUMBER.sub("#", actual.strip()) != NUMBER.sub("#", expected.strip()):
        return False
    return all(abs(float(a) - float(e)) <= 1.01 * 10.0 ** -len(e.split(".")[1])
               for a, e in zip(NUMBER.findall(actual), NUMBER.findall(expected)))


def test_the_readme_has_python_to_run():
    blocks = readme_blocks()
    assert len(blocks) >= 4 and sum(printed is not None for _, _, printed in blocks) >= 2


@pytest.mark.parametrize("line, code, printed", [pytest.param(*block, id=f"README.md:{block[0]}")
                                                  for block in readme_blocks()])
def test_each_python_block_runs_and_prints_what_the_readme_shows(line, code, printed, tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.chdir(tmp_path)                          # what a block writes lands in an empty directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__main__"})
    if printed is not None:
        shown = capsys.readouterr().out
        assert same_printout(shown, printed), f"README.md:{line} printed\n{shown}\nbut the README shows\n{printed}"


def test_printouts_are_compared_to_the_last_digit():
    assert same_printout("step 0  loss 1.1064\n", "step 0  loss 1.1065")
    assert not same_printout("step 0  loss 1.1062", "step 0  loss 1.1064")
    assert not same_printout("step 1  loss 1.1064", "step 0  loss 1.1064")


def test_the_course_table_is_the_one_its_results_file_makes():
    from minirnn.tools.course import results
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- course table: ")
    block = text[text.index("\n", start) + 1:text.index("<!-- end of course table -->")]
    recorded = results.load(README.parent / "docs" / "course_results.json")
    assert block.strip() == results.markdown(recorded).strip(), \
        "refresh the README's course table: minirnn course --markdown --results docs/course_results.json"
