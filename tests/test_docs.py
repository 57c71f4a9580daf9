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
