"""minirnn visualize: activations recorded step by step, interesting units, an escaped page, a heatmap."""
from __future__ import annotations

import html.parser
import re
import sys
from pathlib import Path

import numpy
import pytest

from minirnn import checkpoint
from minirnn.data import Vocab
from minirnn.models import CharLoopModel, CharRNN
from minirnn.tools import cli
from minirnn.tools.study import visualize

TEXT = 'if a < b & c > "d":\n\treturn \'<script>\''


@pytest.fixture
def tiny(tmp_path):
    vocab = Vocab.from_text(TEXT)
    model = CharRNN(len(vocab), emb=3, hidden=5, cell="gru", seed=0)
    path = tmp_path / "tiny.npz"
    checkpoint.save(path, model, meta={"vocab": vocab.to_json()})
    return model, vocab, path


def test_activations_are_the_states_of_one_pass_over_the_text(tiny):
    model, vocab, _ = tiny
    reading = visualize.read(model, vocab, TEXT, top_k=2)
    logits, h_n = model(vocab.encode(TEXT)[:, None])
    numpy.testing.assert_allclose(reading.activations[-1], h_n[-1, 0], rtol=1e-5, atol=1e-6)
    assert reading.activations.shape == (len(TEXT), 5) and len(reading.predictions) == len(TEXT)
    p = numpy.exp(logits[3, 0] - logits[3, 0].max())
    best = int(numpy.argmax(p))
    assert reading.predictions[3][0] == (vocab.chars[best], pytest.approx(p[best] / p.sum(), rel=1e-4))


def test_interesting_units_prefer_slow_large_swings_over_flicker():
    T = 200
    slow = numpy.repeat([-0.9, 0.9], T // 2)                  # one unit holds a state for a long time
    flicker = numpy.resize([-0.9, 0.9], T)                    # another changes at every character
    still = numpy.full(T, 0.3)
    activations = numpy.stack([flicker, still, slow], axis=1)
    assert visualize.interesting_units(activations, 2)[0] == 2


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.spans, self.titles, self.data = 0, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "span":
            self.spans += 1
            self.titles.append(dict(attrs)["title"])

    def handle_data(self, data):
        self.data.append(data)


def test_page_has_one_span_per_character_and_escapes_everything(tiny):
    model, vocab, _ = tiny
    reading = visualize.read(model, vocab, TEXT)
    page = visualize.render_html(reading, [0, 4], title="<b>&</b>")
    assert "<script>" not in page and "<b>&" not in page
    parser = _Page()
    parser.feed(page)
    assert parser.spans == 2 * len(TEXT)
    shown = "".join(parser.data)
    assert TEXT.replace("\n", "\u21b5\n") in shown            # the text comes back exactly, unescaped by the parser
    assert parser.titles[0].startswith("i: unit 0 = ") and "next: " in parser.titles[0]


def test_a_unit_out_of_range_names_the_range(tiny):
    model, vocab, _ = tiny
    with pytest.raises(ValueError, match=r"unit must be an integer in \[0, 5\), got 5"):
        visualize.render_html(visualize.read(model, vocab, "ab"), [5])


def test_characters_outside_the_vocabulary_are_named(tiny):
    model, vocab, _ = tiny
    with pytest.raises(ValueError, match="not in the vocabulary: 'Z'"):
        visualize.read(model, vocab, "aZ")


def test_the_articles_windowed_model_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="model must be a CharRNN .* got CharLoopModel"):
        visualize.read(CharLoopModel(3, 2, 2), Vocab("abc"), "ab")


def test_command_line_writes_the_page_and_the_heatmap(tiny, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    _, _, path = tiny
    out = tmp_path / "units.html"
    assert cli.main(["visualize", str(path), "--string", TEXT, "--out", str(out), "--unit", "1"]) == 0
    assert out.read_text(encoding="utf-8").count("<span ") == len(TEXT)
    assert (tmp_path / "units.png").read_bytes()[:4] == b"\x89PNG"
    assert "units 1" in capsys.readouterr().out


def visualize_cli(path, out, *flags, text=TEXT):
    return cli.main(["visualize", str(path), "--string", text, "--out", str(out), *flags])


def test_characters_outside_the_vocabulary_are_named_with_the_flag_that_gave_them(tiny, tmp_path, capsys):
    _, _, path = tiny
    assert visualize_cli(path, tmp_path / "u.html", text="aZ") == 2
    assert capsys.readouterr().err == ("minirnn: error: --string must use only the vocabulary's characters, got "
                                       "some not in the vocabulary: 'Z'\n")


def test_a_checkpoint_of_the_articles_model_is_refused_by_its_argument(tmp_path, capsys):
    path = tmp_path / "loop.npz"
    checkpoint.save(path, CharLoopModel(3, 2, 2), meta={"vocab": Vocab("abc").to_json()})
    assert visualize_cli(path, tmp_path / "u.html", text="ab") == 2
    assert capsys.readouterr().err == (f"minirnn: error: CHECKPOINT {path} must hold a CharRNN (the model that "
                                       "carries its state from character to character), got a CharLoopModel\n")


def test_out_naming_the_checkpoint_is_refused_even_with_force(tiny, capsys):
    _, _, path = tiny
    before = path.read_bytes()
    assert visualize_cli(path, path, "--force") == 2
    assert "--out and CHECKPOINT name the same file" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_the_default_heatmap_never_replaces_a_file_it_did_not_write(tiny, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    _, _, path = tiny
    (tmp_path / "loss.png").write_bytes(b"the run's loss curve")
    assert visualize_cli(path, tmp_path / "loss.html") == 2
    assert "the heatmap (--out with .png): " in capsys.readouterr().err
    assert (tmp_path / "loss.png").read_bytes() == b"the run's loss curve"
    assert not (tmp_path / "loss.html").exists()                 # nothing written: the check comes first


def test_a_page_named_png_is_refused_as_its_own_heatmap(tiny, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    _, _, path = tiny
    assert visualize_cli(path, tmp_path / "x.png") == 2
    assert "the heatmap (--out with .png) and --out name the same file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [path]


def test_an_existing_page_is_replaced_only_with_force(tiny, tmp_path, capsys):
    _, _, path = tiny
    out = tmp_path / "units.html"
    out.write_text("mine")
    assert visualize_cli(path, out) == 2
    assert f"--out: {out} already exists; pass --force to replace it" in capsys.readouterr().err
    assert out.read_text() == "mine"
    assert visualize_cli(path, out, "--force") == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temporary left behind


def test_a_missing_directory_is_refused_before_the_checkpoint_is_read(tmp_path, capsys):
    # Were the checkpoint read first, the error would be that absent.npz does not exist.
    assert visualize_cli(tmp_path / "absent.npz", tmp_path / "nodir" / "u.html") == 2
    assert f"--out: {tmp_path / 'nodir' / 'u.html'} cannot be written, there is no directory" in capsys.readouterr().err


def test_without_matplotlib_the_page_is_written_and_the_heatmap_left_out(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)         # makes its import fail
    _, _, path = tiny
    assert visualize_cli(path, tmp_path / "units.html") == 0
    assert "no heatmap: pip install 'minirnn[plot]'" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.npz", "units.html"]


def test_an_asked_for_heatmap_without_matplotlib_is_refused_before_any_work(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    _, _, path = tiny
    assert visualize_cli(path, tmp_path / "units.html", "--heatmap", str(tmp_path / "h.png")) == 2
    assert "plotting needs matplotlib" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.npz"]


def test_the_heatmaps_rows_are_sorted_the_units_that_vary_most_and_most_slowly_first(tiny):
    pytest.importorskip("matplotlib")
    model, vocab, _ = tiny
    reading = visualize.read(model, vocab, TEXT * 3)
    figure, description = visualize.heatmap_figure(reading, max_chars=50)
    scores = visualize.unit_scores(reading.activations[:50])
    order = [int(pair.split(" ")[0]) for pair in description.splitlines()[1].split(": ")[1].split(", ")]
    assert sorted(order) == list(range(5)) and list(scores[order]) == sorted(scores, reverse=True)
    shown = figure.axes[0].images[0].get_array()
    numpy.testing.assert_array_equal(shown, reading.activations[:50, order].T)   # row k is unit order[k]
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == [str(unit) for unit in order]


def test_the_walkthroughs_units_do_what_it_says():
    """Section 8: in the docs model reading stack_example.py, unit 79 is positive inside the docstring, the
    comment and the error message's string and negative along each def line; unit 13 is positive on the
    indentation at the start of each line and negative in the code after it."""
    root = Path(__file__).resolve().parents[3]
    saved = checkpoint.load(root / "docs" / "models" / "lstm128.npz")
    text = (root / "docs" / "stack_example.py").read_text(encoding="utf-8")
    activations = visualize.read(saved.build_model(), saved.vocab(), text).activations
    walkthrough = " ".join((root / "docs" / "walkthrough.md").read_text(encoding="utf-8").split())
    assert ("unit 79 is positive inside the docstring, the comment and the error message's string, and negative "
            "along each `def` line; unit 13 is positive on the indentation at the start of each line and negative "
            "in the code after it") in walkthrough

    def mean(unit, start, end):
        return activations[start:end, unit].mean()
    prose = [re.search(pattern, text).span(1) for pattern in (r'"""(.*?)"""', r"# (.*)\n", r'"(pop from .*?)"')]
    assert all(mean(79, *span) > 0.3 for span in prose)
    defs = [m.span(1) for m in re.finditer(r"    (def .*)\n", text)]
    assert len(defs) == 3 and all(mean(79, *span) < -0.3 for span in defs)
    lines = [m for m in re.finditer(r"^( +)(\S.*)$", text, re.M)]
    assert all(mean(13, *m.span(1)) > 0.3 and mean(13, *m.span(2)) < 0 for m in lines)
