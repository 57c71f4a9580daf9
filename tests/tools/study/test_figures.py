"""The committed figures are what the code draws now: each is redrawn and its text compared, numbers to 3 digits.

docs/images holds the figures of scripts/draw_figures.py (SVG, whose labels are text), of minirnn gradient-flow
and of minirnn visualize (PNG, whose numbers the commands keep in the PNG's text). The commands that drew them are
the ones the README and docs/walkthrough.md give.
"""
from __future__ import annotations

import argparse
import re
import shlex
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from minirnn import checkpoint
from minirnn.tools import cli
from minirnn.tools.cli.draw import add_arguments
from minirnn.tools.cli.explain import model_from
from minirnn.tools.study import diagram, draw, visualize

pytest.importorskip("matplotlib", reason="matplotlib is not installed: drawing skipped")
from PIL import Image  # noqa: E402  (matplotlib brings Pillow)

ROOT = Path(__file__).resolve().parents[3]
IMAGES = ROOT / "docs" / "images"
DOCS_MODEL = ROOT / "docs" / "models" / "lstm128.npz"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def svg_texts(path) -> list:
    return ["".join(element.itertext()) for element in ElementTree.parse(path).iter()
            if element.tag.endswith("}text")]


def same_to_3_digits(a: float, b: float) -> bool:
    """Whether a and b agree to 3 significant digits: within half a unit of the third."""
    if a == b:
        return True
    magnitude = max(abs(a), abs(b))
    return abs(a - b) <= 0.5 * 10 ** (int(f"{magnitude:e}".split("e")[1]) - 2)


def assert_same_text(committed: str, drawn: str, where: str) -> None:
    """The same words, and numbers equal to 3 significant digits."""
    assert NUMBER.sub("#", committed) == NUMBER.sub("#", drawn), f"{where}: {committed!r} is drawn as {drawn!r}"
    for a, b in zip(NUMBER.findall(committed), NUMBER.findall(drawn)):
        assert same_to_3_digits(float(a), float(b)), f"{where}: {committed!r} is drawn as {drawn!r}"


def png_text(path) -> dict:
    return dict(Image.open(path).text)


def test_the_comparison_is_to_3_significant_digits():
    assert same_to_3_digits(0.003974, 0.003971) and same_to_3_digits(2.349, 2.3494)
    assert not same_to_3_digits(0.004328, 0.003974) and not same_to_3_digits(1.5e-16, 1.7e-16)


# -- scripts/draw_figures.py ------------------------------------------------------------------------------

def test_the_drawn_figures_are_what_scripts_draw_figures_draws_now(script, tmp_path):
    assert script("draw_figures").draw_all(["--out", str(tmp_path)]) == 0
    committed = sorted(path.relative_to(IMAGES) for path in IMAGES.rglob("*.svg"))
    assert committed == sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.svg"))
    for name in committed:
        old, new = svg_texts(IMAGES / name), svg_texts(tmp_path / name)
        assert len(old) == len(new), f"{name}: {len(old)} labels committed, {len(new)} drawn"
        for a, b in zip(old, new):
            assert_same_text(a, b, str(name))
        assert (IMAGES / name.with_suffix(".png")).is_file()


def test_the_docs_draw_commands_are_the_ones_that_drew_the_figures(script):
    """`minirnn draw charloop ...` in the README and the walkthrough: the arguments scripts/draw_figures.py uses."""
    drawn = dict(script("draw_figures").FIGURES)["charloop"]
    for doc in ("README.md", "docs/walkthrough.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        commands = re.findall(r"minirnn (draw charloop[^`#\n]*)", text)
        assert commands, doc
        for command in commands:
            words = shlex.split(command)[1:]
            if "--out" in words:
                del words[words.index("--out"):words.index("--out") + 2]
            assert words == drawn, f"{doc}: minirnn {command.strip()} does not draw the figures in docs/images"


# -- minirnn gradient-flow ---------------------------------------------------------------------------------

def assert_same_description(committed_path, drawn_path) -> None:
    """The figures' numbers, as the commands keep them in the PNG's text, equal to 3 significant digits."""
    committed = png_text(committed_path)["Description"].splitlines()
    drawn = png_text(drawn_path)["Description"].splitlines()
    assert len(committed) == len(drawn), f"{committed_path.name}: {committed} is drawn as {drawn}"
    for a, b in zip(committed, drawn):
        assert_same_text(a, b, committed_path.name)


def test_the_trained_lstms_gradient_flow_is_what_the_command_draws_from_the_docs_model(tmp_path, capsys):
    out = tmp_path / "flow.png"
    if cli.main(["gradient-flow", "--checkpoint", str(DOCS_MODEL), "--out", str(out)]) != 0:
        error = capsys.readouterr().err
        if "another Python version" in error:
            pytest.skip("the docs model was trained on another Python's standard library: " + error)
        pytest.fail(error)
    assert png_text(out)["Source"] == png_text(IMAGES / "gradient_flow_trained_lstm.png")["Source"]
    assert_same_description(IMAGES / "gradient_flow_trained_lstm.png", out)


# -- minirnn visualize -------------------------------------------------------------------------------------

def test_the_heatmap_is_what_the_command_draws_from_the_docs_model(tmp_path, capsys):
    out = tmp_path / "units.html"
    assert cli.main(["visualize", str(DOCS_MODEL), "--text", str(ROOT / "docs" / "stack_example.py"),
                     "--unit", "79", "--unit", "13", "--out", str(out), "--heatmap", str(tmp_path / "h.png")]) == 0
    committed = png_text(IMAGES / "heatmap.png")["Description"]
    drawn = png_text(tmp_path / "h.png")["Description"]
    title, units = committed.splitlines()
    assert title == drawn.splitlines()[0]
    scores = dict(pair.split(" ") for pair in units.split(": ", 1)[1].split(", "))
    drawn_scores = dict(pair.split(" ") for pair in drawn.splitlines()[1].split(": ", 1)[1].split(", "))
    assert scores.keys() == drawn_scores.keys()
    for unit, score in scores.items():
        assert same_to_3_digits(float(score), float(drawn_scores[unit])), unit
    assert out.read_text(encoding="utf-8") == (ROOT / "docs" / "units.html").read_text(encoding="utf-8")


def test_the_docs_model_records_the_run_that_trained_it():
    saved = checkpoint.load(DOCS_MODEL)
    assert saved.meta["train_config"]["hidden"] == 128 and saved.meta["train_config"]["epochs"] == 16
    assert re.fullmatch(r"[0-9a-f]{64}", saved.meta["text_sha256"])


# -- text that can be read ---------------------------------------------------------------------------------

def smallest_text_against_width(figure) -> float:
    """The smallest font size of the figure's visible text, in points, over the figure's width in points."""
    from matplotlib.text import Text
    sizes = [text.get_fontsize() for text in figure.findobj(Text) if text.get_visible() and text.get_text()]
    return min(sizes) / (figure.get_size_inches()[0] * 72)


@pytest.mark.parametrize("arguments", [["charloop", "--hidden-size", "256", "--steps", "8"], ["lstm"], ["gru"],
                                       ["charrnn", "--steps", "8"], ["rnn", "--num-layers", "2"]])
def test_the_smallest_text_of_a_drawn_figure_is_at_least_a_125th_of_its_width(arguments):
    # A page shows a figure at its column's width, about 800 pixels: there, a 125th of it is 6.4 pixels.
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([*arguments, "--out", "unused"])
    for name, figure in diagram.figures(model_from(args), args.steps, show_steps=args.show_steps).items():
        assert smallest_text_against_width(draw.render(figure)) >= 1 / 125, name


def test_the_heatmaps_smallest_text_is_at_least_a_125th_of_its_width():
    saved = checkpoint.load(DOCS_MODEL)
    reading = visualize.read(saved.build_model(), saved.vocab(),
                             (ROOT / "docs" / "stack_example.py").read_text(encoding="utf-8"))
    figure, _ = visualize.heatmap_figure(reading)
    assert smallest_text_against_width(figure) >= 1 / 125
