"""The study tools read a checkpoint's model over the text its run trained on, or say to give --text."""
from __future__ import annotations

import importlib.util
import shutil

import numpy
import pytest

from minirnn import checkpoint
from minirnn.data import Vocab
from minirnn.models import CharRNN
from minirnn.tools import cli
from minirnn.tools.study.run_text import run_text
from minirnn.tools.train.trainer import TrainConfig, train

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib is not installed: drawing skipped")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(text file, best.npz) of a run trained with --text on characters the built-in corpus never has."""
    rng = numpy.random.default_rng(0)
    words = "λx. ↦ ∀ç àé ñø ß Ω δ".split()
    folder = tmp_path_factory.mktemp("run")
    text = folder / "greek.txt"
    text.write_text("\n".join(" ".join(rng.choice(words, size=6)) for _ in range(300)) + "\n", encoding="utf-8")
    train(TrainConfig(text=str(text), emb=4, hidden=8, batch=4, bptt=16, epochs=0.5, eval_every=50,
                      out=str(folder / "run"), progress=False), log=lambda line: None)
    return text, folder / "run" / "best.npz"


@pytest.fixture
def moved(trained, tmp_path):
    """A copy of the run's checkpoint, and of its text, which the test may move or change."""
    text, best = trained
    copy = tmp_path / "best.npz"
    shutil.copy(best, copy)
    return text, copy


def test_the_runs_text_is_found_with_the_part_it_held_out(trained):
    text, best = trained
    found = run_text(checkpoint.load(best))
    contents = text.read_text(encoding="utf-8")
    assert found.text == contents and found.source == str(text)
    assert found.validation == contents[len(contents) - int(len(contents) * 0.1):]   # --val-fraction 0.1


def test_a_text_that_is_gone_is_named_with_the_flag_that_gives_it(trained, tmp_path):
    text, best = trained
    moved_text = tmp_path / "elsewhere.txt"
    shutil.move(text, moved_text)
    try:
        with pytest.raises(ValueError, match=rf"was trained on {text}, which cannot be read .*give the text with "
                                             r"--text"):
            run_text(checkpoint.load(best))
    finally:
        shutil.move(moved_text, text)


def test_a_changed_text_is_refused(trained, tmp_path):
    text, best = trained
    original = text.read_bytes()
    text.write_bytes(original + b"one more line\n")
    try:
        with pytest.raises(ValueError, match=r"which has changed since the run trained on it .*give that text with"):
            run_text(checkpoint.load(best))
    finally:
        text.write_bytes(original)


def test_a_checkpoint_that_records_no_run_says_to_give_the_text(tmp_path):
    path = tmp_path / "bare.npz"
    checkpoint.save(path, CharRNN(3, 2, 2), meta={"vocab": Vocab("abc").to_json()})
    with pytest.raises(ValueError, match="does not record the text its model was trained on .*--text or --string"):
        run_text(checkpoint.load(path), flag="--text or --string")


@needs_matplotlib
def test_gradient_flow_probes_a_model_trained_with_text_on_that_text(trained, tmp_path):
    from PIL import Image
    text, best = trained
    out = tmp_path / "flow.png"
    assert cli.main(["gradient-flow", "--checkpoint", str(best), "--steps", "8", "--batch", "3",
                     "--out", str(out)]) == 0
    assert Image.open(out).text["Source"].startswith(f"the validation part of {text}; the text read has SHA-256 ")


@needs_matplotlib
def test_gradient_flow_without_the_runs_text_names_text_in_one_line(trained, tmp_path, capsys):
    text, best = trained
    shutil.move(text, tmp_path / "gone.txt")
    try:
        assert cli.main(["gradient-flow", "--checkpoint", str(best), "--out", str(tmp_path / "f.png")]) == 2
    finally:
        shutil.move(tmp_path / "gone.txt", text)
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.endswith("give the text with --text\n")


def test_visualize_reads_the_part_of_the_runs_text_it_held_out(trained, tmp_path, capsys):
    text, best = trained
    out = tmp_path / "units.html"
    assert cli.main(["visualize", str(best), "--out", str(out), "--units", "2"]) == 0
    held_out = run_text(checkpoint.load(best)).validation
    page = out.read_text(encoding="utf-8")
    assert f"reading {len(held_out)} characters" in page and page.count("<span ") == 2 * len(held_out)


def test_visualize_of_a_bare_checkpoint_says_to_give_a_text(tmp_path, capsys):
    path = tmp_path / "bare.npz"
    checkpoint.save(path, CharRNN(3, 2, 2), meta={"vocab": Vocab("abc").to_json()})
    assert cli.main(["visualize", str(path), "--out", str(tmp_path / "u.html")]) == 2
    assert capsys.readouterr().err.endswith("give the text with --text or --string\n")


def test_a_built_in_corpus_of_another_python_is_refused_with_the_flag_to_give_it(tmp_path):
    path = tmp_path / "elsewhere.npz"
    settings = TrainConfig(corpus_bytes=1000).run_settings()
    checkpoint.save(path, CharRNN(3, 2, 2), meta={"vocab": Vocab("abc").to_json(), "train_config": settings,
                                                  "text_sha256": "0" * 64})
    with pytest.raises(ValueError, match=r"was trained on the built-in corpus \(1000 bytes of Python 3\.\d+'s "
                                         r"standard library\), which is not the one the run trained on \(another "
                                         r"Python version\?\); give that text with --text"):
        run_text(checkpoint.load(path))
