"""Gradient flow through time: dL/dh_t read from minirnn's backward, held against torch."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy
import pytest

from minirnn.study import gradient_flow
from minirnn.study.gradient_flow import Flow, make_model, probe_batch, state_gradient_norms
from minirnn.ops import cross_entropy

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gradient_flow.py"


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
    states = []
    for t in range(ids.shape[0]):
        h.retain_grad()
        states.append(h)
        x = p["embedding.weight"][torch.tensor(ids[t])]
        h = torch.tanh(x @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T
                       + p["rnn.bias_hh_l0"])
    logits = h @ p["head.weight"].T + p["head.bias"]
    torch.nn.functional.cross_entropy(logits, torch.tensor(target), reduction="sum").backward()
    expected = [s.grad.norm(dim=1).mean().item() for s in states]
    numpy.testing.assert_allclose(h_norms, expected, rtol=1e-10)


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


def test_script_trains_and_plots_four_cells_on_a_small_text(tmp_path):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("gradient_flow_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat; the dog sat on the log. " * 40)
    out = tmp_path / "flow.png"
    assert script.main(["--out", str(out), "--text", str(text), "--steps", "6", "--batch", "2",
                        "--train-steps", "2", "--hidden", "4"]) == 0
    assert out.stat().st_size > 1000
