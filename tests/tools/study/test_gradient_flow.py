"""Gradient flow through time: dL/dh_t read from one backward pass of the reference, held against torch."""
from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from minirnn import checkpoint
from minirnn.data import Vocab
from minirnn.models import CharLoopModel, CharRNN
from minirnn.ops import cross_entropy
from minirnn.tools import cli
from minirnn.tools.study import gradient_flow
from minirnn.tools.study.gradient_flow import Flow, make_model, probe_batch, state_gradient_norms

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gradient_flow.py"


def tiny_batch(vocab=7, T=6, B=3, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.integers(0, vocab, (T, B)), rng.integers(0, vocab, (B,))


@pytest.mark.parametrize("kind", gradient_flow.KINDS)
def test_gradient_at_step_0_is_the_full_backwards_gradient_of_the_initial_state(kind):
    model = make_model(kind, 7, emb=3, hidden=4, seed=1).astype("float64")
    ids, target = tiny_batch()
    h_norms, c_norms = state_gradient_norms(model, ids, target)
    zeros = model.initial_state(ids.shape[1])
    logits, _ = model(ids, zeros)
    _, d_last = cross_entropy(logits[-1], target)
    d_logits = numpy.zeros_like(logits)
    d_logits[-1] = d_last * ids.shape[1]
    d_state0 = model.backward(d_logits)
    d_h = d_state0[0] if kind == "lstm" else d_state0
    assert h_norms[0] == pytest.approx(numpy.linalg.norm(d_h[0], axis=1).mean(), rel=1e-12)
    assert (c_norms is not None) == (kind == "lstm")


def test_every_step_matches_torch_autograd_through_the_unrolled_tanh_rnn():
    torch = pytest.importorskip("torch")
    model = make_model("rnn_tanh", 7, emb=3, hidden=4, seed=2).astype("float64")
    ids, target = tiny_batch(seed=3)
    h_norms, _ = state_gradient_norms(model, ids, target)
    p = {k: torch.tensor(v) for k, v in model.state_dict().items()}
    h = torch.zeros(ids.shape[1], 4, dtype=torch.float64, requires_grad=True)
    states = [h]                                                # h_0 .. h_T
    for t in range(ids.shape[0]):
        x = p["embedding.weight"][torch.tensor(ids[t])]
        h = torch.tanh(x @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T
                       + p["rnn.bias_hh_l0"])
        h.retain_grad()
        states.append(h)
    logits = h @ p["head.weight"].T + p["head.bias"]
    torch.nn.functional.cross_entropy(logits, torch.tensor(target), reduction="sum").backward()
    expected = [s.grad.norm(dim=1).mean().item() for s in states]
    numpy.testing.assert_allclose(h_norms, expected, rtol=1e-10)


@pytest.mark.parametrize("kind", gradient_flow.KINDS)
def test_one_backward_pass_gives_every_steps_gradient(kind, monkeypatch):
    # One forward and one backward of the reference: each step function runs once per step, not once per
    # step for every step after it (as rerunning the model from each step would).
    model = make_model(kind, 7, emb=3, hidden=4, seed=1)
    ids, target = tiny_batch(T=9)
    pair, calls = gradient_flow.reference_steps(model.rnn), []

    def counted(function):
        def step(*args):
            calls.append(function)
            return function(*args)
        return step
    monkeypatch.setattr(gradient_flow, "reference_steps", lambda layer: tuple(map(counted, pair)))
    h_norms, _ = state_gradient_norms(model, ids, target)
    assert len(h_norms) == 9 + 1
    assert calls.count(pair[0]) == 9 and calls.count(pair[1]) == 9


def test_the_lstm_cell_state_is_read_from_the_same_backward_and_reaches_the_loss_through_h_alone():
    model = make_model("lstm", 7, emb=3, hidden=4, seed=1)
    ids, target = tiny_batch()
    h_norms, c_norms = state_gradient_norms(model, ids, target)
    assert len(c_norms) == len(h_norms) == ids.shape[0] + 1
    assert c_norms[-1] == 0 and (c_norms[:-1] > 0).all()        # c_T enters the loss inside step T, via h_T


def test_a_layer_that_is_not_one_direction_is_refused():
    from minirnn.layers import GRU
    with pytest.raises(ValueError, match="must not be bidirectional"):
        gradient_flow.last_step_gradient_norms(GRU(2, 3, bidirectional=True), numpy.zeros((2, 1, 2)),
                                               numpy.ones_like)


def test_the_relu_rnn_really_runs_relu():
    model = make_model("rnn_relu", 5, emb=2, hidden=3)
    assert model.rnn.nonlinearity == "relu" and model.params.keys() == make_model("rnn_tanh", 5, 2, 3).params.keys()


def test_a_text_too_short_for_one_window_is_refused_with_its_length():
    with pytest.raises(ValueError, match="text of 4 characters is too short for windows of 4 steps"):
        probe_batch(numpy.arange(4), steps=4, batch=2)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    flows = [Flow("LSTM at init", numpy.geomspace(1e-6, 1, 5), None),
             Flow("LSTM after 3 steps", numpy.geomspace(1e-3, 1, 5), numpy.ones(5))]
    gradient_flow.plot_flows(flows, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_trains_and_plots_four_cells_on_a_small_text(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat; the dog sat on the log. " * 40)
    out = tmp_path / "flow.png"
    assert cli.main(["gradient-flow", "--out", str(out), "--text", str(text), "--steps", "6", "--batch", "2",
                     "--train-steps", "2", "--hidden", "4"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().err.count("training steps\n") == 4   # one line per cell as it is trained


# -- the committed figure and the walkthrough's reading of it ---------------------------------------------

FIGURE = ROOT / "docs" / "images" / "gradient_flow.png"


def png_text(path) -> dict:
    from PIL import Image                                   # matplotlib brings Pillow
    return dict(Image.open(path).text)


def orders_fallen(description: str) -> dict:
    """{cell: log10(||dL/dh_T|| / ||dL/dh_0||)} of the trained curves, from a figure's text."""
    found = re.findall(r"^(.+) after \d+ training steps: \|\|dL/dh_0\|\| = (\S+), \|\|dL/dh_\d+\|\| = (\S+)$",
                       description, re.M)
    return {cell: numpy.log10(float(last) / float(first)) for cell, first, last in found}


def walkthrough_orders() -> dict:
    """{(3, minor): {cell: orders}} as section 6 of the walkthrough states them, for two Pythons."""
    text = " ".join((ROOT / "docs" / "walkthrough.md").read_text(encoding="utf-8").split())
    stated = re.search(r"has fallen by about (\d+) orders of magnitude for the tanh RNN, by about (\d+) for "
                       r"the LSTM and by about (\d+) for the GRU \(on Python 3\.(\d+), whose standard library is "
                       r"the text the models read; Python 3\.(\d+)'s gives about (\d+), (\d+) and (\d+)\)", text)
    cells = ("RNN (tanh)", "LSTM", "GRU")
    return {(3, int(stated[4])): dict(zip(cells, map(int, stated.groups()[0:3]))),
            (3, int(stated[5])): dict(zip(cells, map(int, stated.groups()[5:8])))}


@pytest.fixture(scope="module")
def drawn_now(tmp_path_factory):
    """The PNG text of the figure minirnn gradient-flow draws now with its defaults (run once: a few seconds)."""
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("flow") / "flow.png"
    with one_blas_thread():
        assert cli.main(["gradient-flow", "--out", str(out)]) == 0
    return png_text(out)


def one_blas_thread():
    """The models are small (64 units): a second BLAS thread gains nothing, and on a busy machine it waits for a
    core at every matmul (the run took 40 s instead of 5 on 2 shared cores). threadpoolctl is optional."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def test_the_committed_figure_is_what_the_command_draws_now(drawn_now):
    committed = png_text(FIGURE)
    if drawn_now["Source"] != committed["Source"]:
        pytest.skip(f"the figure was drawn from {committed['Source']}, this Python's is {drawn_now['Source']}")
    number = re.compile(r"\d+\.?\d*e?-?\d*")
    for old, new in zip(committed["Description"].splitlines(), drawn_now["Description"].splitlines(), strict=True):
        assert number.sub("#", old) == number.sub("#", new)
        for a, b in zip(number.findall(old), number.findall(new)):   # 4 digits printed, 3 held
            assert float(a) == pytest.approx(float(b), rel=5e-3), (old, new)


def test_the_walkthroughs_orders_of_magnitude_are_read_off_its_figure():
    pytest.importorskip("matplotlib")
    committed = png_text(FIGURE)
    version = tuple(map(int, re.search(r"Python (\d+)\.(\d+)'s", committed["Source"]).groups()))
    measured = orders_fallen(committed["Description"])
    for cell, orders in walkthrough_orders()[version].items():
        assert abs(measured[cell] - orders) < 0.5, cell                   # "about N": N is the nearest integer


def test_the_walkthroughs_orders_of_magnitude_for_this_python_are_what_the_command_measures(drawn_now):
    stated = walkthrough_orders()
    if sys.version_info[:2] not in stated:
        pytest.skip(f"the walkthrough gives the figures of Python {sorted(stated)} only")
    measured = orders_fallen(drawn_now["Description"])
    for cell, orders in stated[sys.version_info[:2]].items():
        assert abs(measured[cell] - orders) < 0.5, cell


@pytest.mark.parametrize("out, message", [
    ("nodir/x.png", "cannot be written, there is no directory"),
    ("taken.png", "already exists; pass --force to replace it"),
])
def test_a_bad_out_is_refused_before_any_model_trains(out, message, tmp_path, monkeypatch, capsys):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")
    monkeypatch.setattr(gradient_flow, "gradient_flow", no_training)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.png").write_bytes(b"someone's picture")
    assert cli.main(["gradient-flow", "--out", out]) == 2
    assert message in capsys.readouterr().err
    assert (tmp_path / "taken.png").read_bytes() == b"someone's picture"


def test_a_checkpoint_that_is_not_a_charrnn_is_refused_by_flag(tmp_path, capsys):
    pytest.importorskip("matplotlib")                           # without it, that is the error
    path = tmp_path / "loop.npz"
    checkpoint.save(path, CharLoopModel(3, 2, 2), meta={"vocab": Vocab("abc").to_json()})
    assert cli.main(["gradient-flow", "--checkpoint", str(path), "--out", str(tmp_path / "f.png")]) == 2
    assert f"--checkpoint {path} must hold a CharRNN" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--hidden", "--train-steps"])
def test_a_flag_of_the_training_run_is_refused_with_a_checkpoint(flag, tmp_path, capsys):
    path = tmp_path / "rnn.npz"
    checkpoint.save(path, CharRNN(3, 2, 2), meta={"vocab": Vocab("abc").to_json()})
    out = tmp_path / "f.png"
    assert cli.main(["gradient-flow", "--checkpoint", str(path), flag, "5", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"minirnn: error: {flag} does not apply to --checkpoint, whose model is "
                                       "trained already; leave it out\n")
    assert not out.exists()


def test_the_script_is_the_command(tmp_path):
    """scripts/gradient_flow.py run as a program goes through the minirnn command and its errors."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", "nodir/x.png"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "minirnn: error: --out: nodir/x.png cannot be written, there is no directory 'nodir'\n"
