"""The docs' Python runs: every ```python block of the README and of docs/*.md, each in a fresh namespace in
an empty directory, and a block followed by "prints" and a ``` block prints that text. (A block quoted from
the source, marked "<!-- quoted from ... -->", is not run: tests/test_docs.py holds it to its file.)"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?P<quoted><!-- quoted from [^>]*-->\n)?"
                   r"```python\n(?P<code>.*?)```(?:\s*\nprints\s*\n\s*```[a-z]*\n(?P<printed>.*?)```)?", re.S)
NUMBER = re.compile(r"-?\d+\.\d+")


def readme_blocks() -> list:
    """(where, code, the printed text it shows or None) for each ```python block of the docs, "README.md:12"."""
    blocks = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        blocks += [(f"{doc.relative_to(ROOT).as_posix()}:{text.count(chr(10), 0, m.start('code'))}", m["code"],
                    m["printed"]) for m in BLOCK.finditer(text) if not m["quoted"]]
    return blocks


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


@pytest.mark.parametrize("where, code, printed", [pytest.param(*block, id=block[0]) for block in readme_blocks()])
def test_each_python_block_runs_and_prints_what_the_docs_show(where, code, printed, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                          # what a block writes lands in an empty directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exec(compile(code, where, "exec"), {"__name__": "__main__"})
    if printed is not None:
        shown = capsys.readouterr().out
        assert same_printout(shown, printed), f"{where} printed\n{shown}\nbut the docs show\n{printed}"


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


def test_what_the_readme_says_of_the_course_table_holds_for_its_results():
    from minirnn.tools.course import results
    from minirnn.tools.course.table import ROWS
    recorded = results.load(README.parent / "docs" / "course_results.json")["rows"]
    for number, row in ROWS.items():
        _, last = results.losses(row, recorded[str(number)]["minirnn"])
        assert last <= row.notebook[1] + 0.03, f"row {number} ends at {last:.3f}"
    faster = [n for n in ROWS if recorded[str(n)]["minirnn"]["seconds"] < recorded[str(n)]["torch"]["seconds"]]
    slower = [n for n in ROWS if n not in faster]
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert faster == list(range(1, 8)) and slower == [8, 9]
    assert "Every row ends within 0.03 nats of the loss the notebook printed." in text
    assert "minirnn trains rows 1–7 faster than torch, and the LSTM rows 8 and 9 slower" in text
    from minirnn.tools.bench import bench          # row 8's shape in the benchmark (docs/performance.md)
    saved = bench.load_results(README.parent / "docs" / "bench_results.json")
    row = next(r for r in saved["rows"] if (r["cell"], r["mode"], r["T"], r["B"], r["I"], r["H"])
               == ("lstm", "train", 8, 64, 42, 256))
    T, B, I, H, V = (row[k] for k in "TBIHV")
    step_flops = 4 * T * B * 4 * H * H
    matmul_ms = row["step_ms"] + (bench.matmul_flops(4, T, B, I, H, V) - step_flops) / saved["info"]["matmul_gflops"] / 1e6
    assert matmul_ms > row["torch_ms"] / 2                                   # "most of the time of torch's step"
    assert row["ms"] - matmul_ms > row["torch_ms"] - matmul_ms               # "more than the rest"
    assert "minirnn's matmuls alone take most of the time of torch's whole training step" in text
