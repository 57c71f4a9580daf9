"""minirnn draw: the article's figures, every label read from the model (names, shapes, gradient norms)."""
from __future__ import annotations

import importlib.util
import re
import sys
import xml.etree.ElementTree as ElementTree

import numpy
import pytest

from minirnn import checkpoint
from minirnn.core.param_names import CELL_PARAM_NAMES, layer_param_names
from minirnn.models import CharRNN
from minirnn.tools import cli
from minirnn.tools.study import draw
from minirnn import reference
from minirnn.tools.study.diagram import figures, probe_input, sub
from minirnn.tools.study.explain import MODELS, build_model
from minirnn.tools.study.gradient_flow import last_step_gradient_norms

B = 4                                                      # draw's default batch
SMALL = dict(input_size=3, hidden_size=5, emb=4, vocab_size=7)
LARGE = dict(input_size=6, hidden_size=9, num_layers=2, emb=2, vocab_size=11, cell="gru", nonlinearity="relu")
SIZES = {"small": SMALL, "large": LARGE}
DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
# Drawing needs matplotlib, which is optional (the plot extra): without it these tests skip, as the README says.
needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib is not installed: drawing skipped")


def svg_texts(path) -> list:
    """Every <text> of an SVG file, one string per line of text as drawn."""
    return ["".join(element.itertext()) for element in ElementTree.parse(path).iter()
            if element.tag.endswith("}text")]


def entries(texts) -> set:
    """The texts, and the parts of those that list several parameters on one line (three spaces apart)."""
    return set(texts) | {part for text in texts for part in text.split("   ")}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """(model, {figure: its SVG's texts}) for a model and size, drawn once per test module."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: drawing skipped")
    cache = {}

    def get(name: str, size: dict, names=("cell",), dtype="float32"):
        key = (name, tuple(sorted(size.items())), names, dtype)
        if key not in cache:
            out = tmp_path_factory.mktemp(name)
            model = build_model(name, **size).astype(dtype)
            draw.draw(model, out, formats=("svg",), names=names)
            cache[key] = model, {figure: svg_texts(out / f"{figure}.svg") for figure in names}
        return cache[key]
    return get


# -- the cell: names and shapes ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", MODELS)
def test_the_cell_names_every_parameter_with_its_shape(drawn, name, size):
    model, texts = drawn(name, SIZES[size])
    for parameter, value in model.state_dict().items():
        assert f"{parameter} {tuple(value.shape)}" in entries(texts["cell"])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", MODELS)
def test_the_cells_arrows_carry_the_shapes_of_a_real_forward(drawn, name, size):
    model, texts = drawn(name, SIZES[size])
    inputs, _ = probe_input(model)
    p = model.state_dict()
    if name == "charloop":
        expected = [f"e[cₜ] {(B, model.n_fac)}", f"inpₜ {(B, model.n_hidden)}", f"log p {model(inputs).shape}"]
    elif name == "charrnn":
        logits, state = model(inputs)
        h_n = state[0] if isinstance(state, tuple) else state
        expected = [f"xₜ {(B, model.emb)}", f"hₜ {h_n.shape[1:]}", f"logitsₜ {logits.shape[1:]}", str(h_n.shape)]
    else:
        output, _ = model(inputs)
        x_proj = inputs[0] @ p["weight_ih_l0"].T                  # the GRU's arrows carry its three blocks
        expected = [f"xₜ {inputs.shape[1:]}", f"hₜ {output.shape[1:]}",
                    f"x_z {output.shape[1:]}" if name == "gru" else f"W_ih xₜ + b_ih {x_proj.shape}"]
    for label in expected:
        assert label in texts["cell"]


@pytest.mark.parametrize("name", MODELS)
def test_a_changed_hidden_size_changes_the_labels(drawn, name):
    _, five = drawn(name, SMALL)
    _, six = drawn(name, dict(SMALL, hidden_size=6))
    assert any("(4, 5)" in text for text in five["cell"]) and not any("(4, 5)" in text for text in six["cell"])
    assert any("(4, 6)" in text for text in six["cell"]) and not any("(4, 6)" in text for text in five["cell"])


def test_the_lstm_and_gru_cells_are_drawn_with_their_gates(drawn):
    _, lstm = drawn("lstm", SMALL)
    _, gru = drawn("gru", SMALL)
    assert {"i = σ", "f = σ", "g = tanh", "o = σ", "cₜ₋₁", "cₜ"} <= set(lstm["cell"])
    assert {"r = σ", "z = σ", "n = tanh"} <= set(gru["cell"])
    assert f"a_f {(B, 5)}" in lstm["cell"] and f"h_n {(B, 5)}" in gru["cell"]


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_each_cell_has_one_previous_state_node_that_every_reader_reads(name):
    cell = figures(build_model(name, **SMALL))["cell"]
    assert [node.text for node in cell.nodes].count("hₜ₋₁") == 1
    readers = {edge.end for edge in cell.edges if edge.start == "h_prev"}
    assert readers == ({"W_hh", "mix"} if name == "gru" else {"W_hh"})       # the GRU keeps z of h_{t-1}


def test_the_charrnns_input_character_is_not_called_c_which_is_the_lstms_cell_state(drawn):
    _, texts = drawn("charrnn", SMALL, names=("cell", "unrolled"))         # SMALL's CharRNN is an LSTM
    assert "idₜ" in texts["cell"] and f"idₜ {(B,)}" in texts["cell"] and "id₁" in texts["unrolled"]
    assert not any(text.startswith("cₜ") for text in texts["cell"])
    assert "hₜ₋₁, cₜ₋₁" in texts["cell"]


# -- the unrolled graph -----------------------------------------------------------------------------------

def test_the_unrolled_graph_shows_the_first_steps_then_the_last(drawn):
    model, texts = drawn("lstm", SMALL, names=("unrolled",))
    h_n, _ = model(probe_input(model)[0])[1]
    text = texts["unrolled"]
    assert {"step 1", "step 2", "…", "step 6"} <= set(text) and "step 3" not in text
    for step in drawn_steps():                             # the state each drawn arrow carries, over its shape
        assert text[text.index(f"h{sub(step)}, c{sub(step)}") + 1] == str(h_n.shape)


# -- BPTT: the gradient norms -----------------------------------------------------------------------------

def arrow_norms(texts) -> dict:
    """{("h", t): value} from the BPTT figure's labels "‖∂L/∂hₜ‖" over "= value" (two lines, two texts)."""
    found = {}
    for text, below in zip(texts, texts[1:]):
        symbol, value = re.fullmatch(r"‖∂L/∂(\w+?)([₀-₉]+)‖", text), re.fullmatch(r"= (\S+)", below)
        if symbol and value:
            found[symbol[1], int(symbol[2].translate(DIGITS))] = float(value[1])
    return found


def assert_labels_equal(labels: dict, reference: dict) -> None:
    # A label prints 4 significant digits: it is within half a unit of the 4th digit, 5e-4 relative.
    assert labels.keys() == reference.keys()
    for key, value in reference.items():
        assert labels[key] == pytest.approx(value, rel=5e-4), key


def drawn_steps() -> list:
    """The states whose arrows draw's defaults show (6 steps, 3 drawn): into steps 1-2, the "…" and step 6."""
    return [0, 1, 2, 5]


def mean_row_norm(array) -> float:
    return float(numpy.linalg.norm(array, axis=-1).mean())


def test_the_bptt_arrows_of_the_rnn_carry_its_backwards_norms(drawn):
    model, texts = drawn("rnn", SMALL, names=("bptt",), dtype="float64")
    x, _ = probe_input(model)
    output, _ = model(x)
    W_hh = model.params["weight_hh_l0"]
    d_h, norms = numpy.ones((B, 5)), {}                    # L = the sum of the last step's outputs
    for t in range(len(x), 0, -1):                         # dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) W_hh
        d_h = (d_h * (1 - output[t - 1] ** 2)) @ W_hh
        norms[t - 1] = mean_row_norm(d_h)
    into_last = {("y", len(x)): mean_row_norm(numpy.ones((B, 5)))}   # the arrow from y_T carries dL/dy_T
    assert_labels_equal(arrow_norms(texts["bptt"]), {("h", t): norms[t] for t in drawn_steps()} | into_last)


def test_the_bptt_arrows_of_the_articles_model_carry_its_backwards_norms(drawn):
    model, texts = drawn("charloop", SMALL, names=("bptt",), dtype="float64")
    ids, target = probe_input(model)
    p = model.params
    inp = numpy.maximum(p["e.weight"][ids] @ p["l_in.weight"].T + p["l_in.bias"], 0)
    hs = [numpy.zeros((B, 5))]
    for t in range(len(ids)):                              # the article's loop: h = tanh(l_hidden(h + inp))
        hs.append(numpy.tanh((hs[-1] + inp[t]) @ p["l_hidden.weight"].T + p["l_hidden.bias"]))
    logits = hs[-1] @ p["l_out.weight"].T + p["l_out.bias"]
    softmax = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    d_h = (softmax - numpy.eye(model.vocab_size)[target]) @ p["l_out.weight"]  # L = sum_b -log p_b[target_b]
    norms = {len(ids): mean_row_norm(d_h)}                 # the head's arrow into the last step carries dL/dh_T
    for t in range(len(ids), 0, -1):
        d_h = (d_h * (1 - hs[t] ** 2)) @ p["l_hidden.weight"]
        norms[t - 1] = mean_row_norm(d_h)
    assert_labels_equal(arrow_norms(texts["bptt"]), {("h", t): norms[t] for t in drawn_steps() + [len(ids)]})


@pytest.mark.parametrize("name", ["lstm", "gru", "charrnn"])
def test_the_bptt_arrows_carry_torchs_norms(drawn, torch, name):
    model, texts = drawn(name, SMALL, names=("bptt",), dtype="float64")
    inputs, target = probe_input(model)
    p = {key: torch.tensor(value) for key, value in model.state_dict().items()}
    kind = "lstm" if name == "charrnn" else name
    prefix = "rnn." if name == "charrnn" else ""
    cell = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](p[f"{prefix}weight_ih_l0"].shape[1], 5).double()
    cell.load_state_dict({key: p[prefix + in_layer]
                          for key, in_layer in zip(CELL_PARAM_NAMES, layer_param_names(0, 0))})
    x = p["embedding.weight"][torch.tensor(inputs)] if name == "charrnn" else torch.tensor(inputs)
    # states[t]: what step t+1 is given, a copy of step t's state whose gradient is what step t+1 sends back.
    states = [[torch.zeros(B, 5, requires_grad=True) for _ in range(2 if kind == "lstm" else 1)]]
    for t in range(len(x)):
        given = tuple(states[t]) if kind == "lstm" else states[t][0]
        state = cell(x[t], given)
        states.append([part + 0 for part in (state if kind == "lstm" else (state,))])
        for part in states[-1]:
            part.retain_grad()
    h_last = states[-1][0]
    if name == "charrnn":
        logits = h_last @ p["head.weight"].T + p["head.bias"]
        logits.retain_grad()
        torch.nn.functional.cross_entropy(logits, torch.tensor(target), reduction="sum").backward()
        expected = {("logits", len(x)): logits.grad.norm(dim=1).mean().item()}   # the arrow from logits_T
    else:
        h_last.sum().backward()
        expected = {("y", len(x)): h_last.grad.norm(dim=1).mean().item()}        # the arrow from y_T = h_T
    for t in drawn_steps():
        for symbol, part in zip("hc", states[t]):
            expected[symbol, t] = part.grad.norm(dim=1).mean().item()
    assert_labels_equal(arrow_norms(texts["bptt"]), expected)


def test_wider_and_darker_arrows_for_larger_norms():
    model = build_model("rnn", **SMALL)
    backward = [edge for edge in figures(model)["bptt"].edges if edge.kind == "backward"]
    norms = [float(edge.label.split("= ")[1]) for edge in backward]
    assert max(edge.strength for edge in backward) == 1.0
    for edge, norm in zip(backward, norms):
        assert edge.strength == pytest.approx(norm / max(norms), rel=1e-3)


def test_the_layers_state_gradients_are_its_bptt_exactly():
    model = build_model("rnn", **SMALL).astype("float64")
    x, _ = probe_input(model)
    output, _ = model(x)
    norms, c_norms = last_step_gradient_norms(model, x, numpy.ones_like)
    d_h = numpy.ones((B, 5))
    assert norms[len(x)] == pytest.approx(mean_row_norm(d_h), rel=1e-12)
    for t in range(len(x), 0, -1):
        d_h = (d_h * (1 - output[t - 1] ** 2)) @ model.params["weight_hh_l0"]
        assert norms[t - 1] == pytest.approx(mean_row_norm(d_h), rel=1e-12)
    assert c_norms is None


def test_the_articles_model_is_read_by_its_reference_backward_not_rebuilt(monkeypatch):
    model = build_model("charloop", **SMALL)
    calls = []
    monkeypatch.setattr(reference, "charloop_backward",
                        lambda *args: calls.append(1) or reference.charloop.charloop_backward(*args))
    bptt = figures(model)["bptt"]
    assert calls == [1]                                    # one backward pass gives every arrow its norm
    last = next(edge for edge in bptt.edges if edge.start == "head" and edge.end == "step6")
    assert last.kind == "backward" and last.label.startswith("‖∂L/∂h₆‖\n= ")


# -- the command ------------------------------------------------------------------------------------------

@needs_matplotlib
def test_the_command_writes_three_svgs_and_three_pngs(tmp_path, capsys):
    assert cli.main(["draw", "gru", "--hidden-size", "3", "--steps", "3", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.{fmt}" for name in draw.FIGURES
                                                                 for fmt in ("svg", "png"))
    assert (tmp_path / "bptt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


@needs_matplotlib
def test_a_checkpoint_is_drawn_with_its_own_names_and_shapes(tmp_path):
    model = CharRNN(vocab_size=7, emb=3, hidden=6, layers=2, cell="gru", seed=1)
    checkpoint.save(tmp_path / "tiny.npz", model)
    out = tmp_path / "figures"
    assert cli.main(["draw", str(tmp_path / "tiny.npz"), "--format", "svg", "--out", str(out)]) == 0
    cell = svg_texts(out / "cell.svg")
    assert all(f"{name} {value.shape}" in entries(cell) for name, value in model.state_dict().items())
    assert any(text.startswith("The cell of tiny.npz: CharRNN(vocab_size=7, emb=3, hidden=6") for text in cell)


@needs_matplotlib
def test_files_it_did_not_write_are_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "unrolled.svg").write_text("mine")
    assert cli.main(["draw", "rnn", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unrolled.svg" in error and "--force" in error
    assert [p.name for p in tmp_path.iterdir()] == ["unrolled.svg"]
    assert (tmp_path / "unrolled.svg").read_text() == "mine"


@needs_matplotlib
def test_force_replaces_them_and_a_second_draw_replaces_its_own(tmp_path):
    (tmp_path / "cell.svg").write_text("mine")
    args = ["draw", "rnn", "--hidden-size", "3", "--steps", "2", "--format", "svg", "--out", str(tmp_path)]
    assert cli.main(args + ["--force"]) == 0 and draw.written_by_draw(tmp_path / "cell.svg")
    assert cli.main(args) == 0


@needs_matplotlib
def test_the_checkpoint_drawn_is_never_replaced_even_with_force(tmp_path, capsys):
    drawn_from = tmp_path / "cell.png"                     # a checkpoint under the name of a figure
    checkpoint.save(drawn_from, CharRNN(vocab_size=5, emb=2, hidden=3, seed=0))
    before = drawn_from.read_bytes()
    assert cli.main(["draw", str(drawn_from), "--out", str(tmp_path), "--force"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "would replace MODEL" in error
    assert drawn_from.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["cell.png"]


@needs_matplotlib                    # without it, every draw stops at that one line first
@pytest.mark.parametrize("bad", ["out_is_a_file", "unknown_model", "steps_zero"])
def test_a_mistake_is_one_line_and_exit_2(tmp_path, capsys, bad):
    (tmp_path / "file").write_text("")
    model, out, steps = "lstm", tmp_path / "figures", "3"
    if bad == "out_is_a_file":
        out = tmp_path / "file"
    elif bad == "unknown_model":
        model = "transformer"
    else:
        steps = "0"
    assert cli.main(["draw", model, "--steps", steps, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("minirnn: error:") and error.count("\n") == 1
    assert not (tmp_path / "figures").exists()


def test_without_matplotlib_it_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)     # import matplotlib.figure now fails
    assert cli.main(["draw", "rnn", "--out", str(tmp_path / "figures")]) == 2
    assert capsys.readouterr().err == "minirnn: error: drawing needs matplotlib: pip install 'minirnn[plot]'\n"
    assert not (tmp_path / "figures").exists()
