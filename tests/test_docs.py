"""The docs name only real code: every `minirnn.x.y` reference resolves, every file and image exists,
and every source line quoted from a ``minirnn explain`` printout is still in the file it names."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [p for p in [ROOT / "README.md"] if p.exists()]


def _all(pattern: str, flags=0) -> list:
    return sorted({(doc.relative_to(ROOT).as_posix(), m) for doc in DOCS
                   for m in re.findall(pattern, doc.read_text(encoding="utf-8"), flags)})


REFERENCES = _all(r"`(minirnn(?:\.\w+)+)`")
FILES = _all(r"`((?:docs|scripts|tests|minirnn)/[\w./-]+\.(?:py|png|html|md))`")
LINKS = _all(r"\]\(((?!https?:|#)[^)\s]+)\)")
QUOTED = _all(r"^\s*(minirnn/[\w/]+\.py):\d+\s+(.+?)(?:\s{3}# .*)?$", re.M)


def resolve(dotted: str):
    """The object a dotted name refers to: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError as err:
            if err.name is None or not ".".join(parts[:split]).startswith(err.name):
                raise
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(dotted)


def test_the_docs_have_references_to_check():
    assert len(REFERENCES) > 20 and QUOTED and LINKS


@pytest.mark.parametrize("doc, dotted", REFERENCES)
def test_each_code_reference_names_a_real_module_or_attribute(doc, dotted):
    assert resolve(dotted) is not None, f"{doc} names {dotted}"


@pytest.mark.parametrize("doc, path", FILES)
def test_each_named_file_exists(doc, path):
    assert (ROOT / path).is_file(), f"{doc} names {path}"


@pytest.mark.parametrize("doc, link", LINKS)
def test_each_link_and_image_exists(doc, link):
    assert ((ROOT / doc).parent / link.split("#")[0]).is_file(), f"{doc} links to {link}"


@pytest.mark.parametrize("doc, quoted", QUOTED)
def test_each_quoted_source_line_is_still_in_its_file(doc, quoted):
    path, code = quoted
    source = " ".join((ROOT / path).read_text(encoding="utf-8").split())
    assert " ".join(code.split()) in source, f"{doc} quotes {code!r} from {path}"


def test_the_walkthroughs_printouts_are_what_explain_prints_now(capsys):
    """The walkthrough quotes ``minirnn explain charloop --hidden-size 256``: each line it shows (the
    source line numbers aside, which it says are from the time of writing) and the norms it reads off."""
    from minirnn.tools import cli
    assert cli.main(["explain", "charloop", "--hidden-size", "256"]) == 0
    numbered = lambda line: re.sub(r"(minirnn/[\w/]+\.py):\d+", r"\1:N", line.rstrip())   # noqa: E731
    printed = [numbered(line) for line in capsys.readouterr().out.splitlines()]
    text = (ROOT / "docs" / "walkthrough.md").read_text(encoding="utf-8")
    blocks = [block for block in re.findall(r"```text\n(.*?)```", text, re.S)
              if re.search(r"^(ONE STEP|parameter |  step t=)", block, re.M)]
    assert len(blocks) == 3
    shown = [line for block in blocks for line in block.splitlines() if line.strip() not in ("", "...")]
    assert [line for line in shown if numbered(line) not in printed] == []
    norms = re.findall(r"=> dL/dh_\d \(4, 256\) norm ([\d.]+)", "\n".join(printed))
    assert f"The norms shrink on the way back: {norms[0]}, then {norms[1]}, then {norms[2]}." in " ".join(text.split())


QUOTES = _all(r"<!-- quoted from ([\w/.]+)[^>]*-->\n```\w*\n(.*?)```", re.S)


def test_the_readme_quotes_the_articles_loop():
    assert ("README.md", "minirnn/reference/charloop.py") in {(doc, path) for doc, (path, _) in QUOTES}


@pytest.mark.parametrize("doc, quote", QUOTES)
def test_each_quoted_block_is_in_its_file_as_shown(doc, quote):
    path, lines = quote
    assert lines in (ROOT / path).read_text(encoding="utf-8"), f"{doc} quotes lines that {path} no longer has"


def test_the_readme_layout_lists_every_script():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("\nscripts/ "):readme.index("\ndocs/ ")]
    assert [p.name for p in sorted((ROOT / "scripts").glob("*.py")) if p.name not in layout] == []


def _bench_results():
    from minirnn.tools.bench import bench
    return bench, bench.load_results(ROOT / "docs" / "bench_results.json")


def test_the_performance_table_is_the_one_its_results_file_makes():
    bench, results = _bench_results()
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    start = text.index("<!-- bench table: ")
    block = text[text.index("```text\n", start) + len("```text\n"):text.index("```\n<!-- end of bench table -->")]
    assert block.strip() == bench.table(results).strip(), \
        "refresh docs/performance.md's table: python scripts/bench.py --show docs/bench_results.json"


def test_what_the_performance_page_says_of_the_courses_lstm_shape_holds_for_its_results():
    bench, results = _bench_results()
    row = next(r for r in results["rows"] if (r["cell"], r["mode"], r["T"], r["B"], r["I"], r["H"])
               == ("lstm", "train", 8, 64, 42, 256))
    rate = results["info"]["matmul_gflops"] * 1e9
    step_flops = 4 * row["T"] * row["B"] * 4 * row["H"] ** 2              # h W_hh^T and d_hh W_hh, T of each
    other_ms = (bench.matmul_flops(4, row["T"], row["B"], row["I"], row["H"], row["V"]) - step_flops) / rate * 1e3
    floor_ms = row["step_ms"] + other_ms
    said = {f"{row['ms']:.2f} ms", f"torch's {row['torch_ms']:.2f} ms", f"alone take {row['step_ms']:.2f} ms",
            f"{row['step_gflops']:.1f} GFLOP/s on them", f"take {other_ms:.2f} ms more",
            f"{results['info']['matmul_gflops']:.1f} GFLOP/s", f"at least {floor_ms:.2f} ms",
            f"torch's step {row['torch_ms'] - floor_ms:.2f} ms", f"spends {row['ms'] - floor_ms:.2f} ms"}
    text = " ".join((ROOT / "docs" / "performance.md").read_text(encoding="utf-8").split())
    assert [phrase for phrase in said if phrase not in text] == []
    summary = results["summary"]
    assert summary["rnn fwd+bwd"]["median_speedup"] < 2 and summary["gru fwd+bwd"]["median_speedup"] < 1.5
    assert summary["lstm fwd+bwd"]["median_speedup"] < 0.9 and summary["lstm char"]["median_speedup"] < 1  # "none is met"
