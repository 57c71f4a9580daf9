"""`minirnn gradcheck` and scripts/gradcheck.py: a row per case and exit 0, exit 1 when a gradient is
wrong; with --cell FILE.py:NAME, a learner's own cell checked step by step against finite differences
and against minirnn's cell of the same kind, and a file or name that cannot be used is one line;
and the LSTM exercise page (docs/exercise_lstm_backward.md), whose commands and printouts it runs.
"""
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import minirnn.reference.lstm
from minirnn.tools.cli import main


def test_the_command_prints_a_row_per_case_and_exits_zero(capsys):
    from minirnn.tools.cli import main
    assert main(["gradcheck", "--model", "lstm", "--model", "charloop", "--cases", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("  ok  ") == 4 and "4 passed, 0 failed" in out


def test_the_table_aligns_and_reports_a_replaced_all_zero_draw(capsys):
    from minirnn.tools.cli import main
    assert main(["gradcheck", "--model", "rnncell", "--model", "rnn", "--cases", "6"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("model "))
    rows = [line for line in lines if line.startswith(("rnncell ", "rnn "))]
    assert len(rows) == 12 and len({len(row.split("  ok  ")[0]) for row in rows}) == 1   # the columns line up
    assert len({row.index("  ok  ") for row in rows} | {header.index("  result")}) == 1
    assert "seed 0: every gradient exactly 0 (a dead unit), which proves nothing; replaced" in out
    assert "(1 all-zero draw replaced)" in out


def test_the_summary_states_the_worst_error_as_a_share_of_its_tolerance(capsys):
    from minirnn.tools.cli import main
    assert main(["gradcheck", "--model", "grucell", "--cases", "2"]) == 0
    out = capsys.readouterr().out
    assert "a pass is at most 100%" in out
    used = float(re.search(r"the worst entry used ([\d.]+)% of its tolerance", out)[1])
    assert 0 < used <= 100


def test_the_script_exits_non_zero_when_a_gradient_is_wrong(tmp_path):
    """scripts/gradcheck.py run as a program, with the tanh gate math's backward made 1% wrong."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[3]
    sabotage = tmp_path / "sitecustomize.py"
    sabotage.write_text(
        "import dataclasses\n"
        "from minirnn.gates import rnn\n"
        "real = rnn.RNN_TANH_GATE_MATH.backward\n"
        "def wrong(*args):\n"
        "    real(*args)\n"
        "    args[6][...] *= 1.01\n"
        "object.__setattr__(rnn.RNN_TANH_GATE_MATH, 'backward', wrong)\n")
    env = {"PYTHONPATH": f"{tmp_path}:{root}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, str(root / "scripts" / "gradcheck.py"), "--model", "rnncell",
                             "--cases", "2"], capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    assert "FAIL" in result.stdout and "1 passed, 1 failed" in result.stdout   # the tanh case fails, relu passes


# A learner's LSTM as a step pair: the reference implementation's file, as a learner would copy it out of the package.
LSTM_STEP = inspect.getsource(minirnn.reference.lstm).replace("from .", "from minirnn.reference.")


RIGHT_F, WRONG_F = "da_f = df * f * (1 - f)", "da_f = df * f"   # sigma' forgotten


# The same mistake in gate math, the fast path's interface, where the gates hold their activations.
WRONG_F_GATE_MATH = textwrap.dedent('''
    import dataclasses
    from minirnn.gates import LSTM_GATE_MATH


    def backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
        LSTM_GATE_MATH.backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch)
        H = gates.shape[1] // 4
        d_gates[:, H:2 * H] /= 1 - gates[:, H:2 * H]     # dL/da_f = dc c_prev f, without (1 - f)


    MY_LSTM = dataclasses.replace(LSTM_GATE_MATH, backward=backward)
''')


# A tanh RNN written against the GateMath interface by a learner.
RNN_GATE_MATH = textwrap.dedent('''
    import numpy as np
    from minirnn.gates import GateMath


    def forward(gates, hh, prev, out, saved, scratch):
        out[0][...] = np.tanh(gates + hh)


    def backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch):
        d_gates[...] = d_state[0] * (1 - out[0] ** 2)


    MY_RNN = GateMath("rnn_tanh", ("h",), ("h",), 0, (), True, forward, backward, forward, backward)
''')


def write(tmp_path, source, name="learner.py"):
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def gradcheck(*args):
    return main(["gradcheck", *args])


def wrong_f(source=LSTM_STEP):
    assert RIGHT_F in source
    return source.replace(RIGHT_F, WRONG_F)


# -- a right cell passes -------------------------------------------------------------------------
def test_a_right_step_pair_passes_and_the_command_exits_zero(tmp_path, capsys):
    assert gradcheck("--cell", write(tmp_path, LSTM_STEP) + ":lstm_step") == 0
    out = capsys.readouterr().out
    assert "an LSTM, from the name's prefix lstm_" in out and "against minirnn.LSTMCell" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("dW_", "db_", "dx ", "dh_", "dc_"))]
    assert [r[0] for r in rows] == ["dW_ih", "dW_hh", "db_ih", "db_hh", "dx", "dh_prev", "dc_prev"]
    assert all(r[-1] == "ok" and float(r[3]) < 1e-8 and float(r[-2]) < 1e-12 for r in rows)
    assert "passed: every gradient of every step agrees" in out


def test_a_right_cell_written_to_the_gate_math_interface_passes(tmp_path, capsys):
    assert gradcheck("--cell", write(tmp_path, RNN_GATE_MATH) + ":MY_RNN") == 0
    assert "the gate math MY_RNN, one step at a time" in capsys.readouterr().out


# -- a wrong backward is found where it is made ----------------------------------------------------
@pytest.mark.parametrize("source, name", [(wrong_f(), "lstm_step"), (WRONG_F_GATE_MATH, "MY_LSTM")],
                         ids=["step pair", "gate math"])
def test_a_wrong_forget_gate_derivative_is_reported_on_the_f_block_of_dW_hh(tmp_path, capsys, source, name):
    assert gradcheck("--cell", write(tmp_path, source) + f":{name}", "--kind", "lstm") == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("dW_hh"))
    assert "FAIL" in row and ", f block, " not in row and row.split()[4:6] == ["f", "block,"]
    step_rows = out.splitlines()[out.splitlines().index(row) + 1:][:3]
    assert [r.split()[:2] for r in step_rows] == [["step", "1"], ["step", "2"], ["step", "3"]]
    assert all(" f block, " in r and r.endswith("FAIL") for r in step_rows)
    assert out.rstrip().endswith("FAILED: dW_ih, dW_hh, db_ih, db_hh, dx, dh_prev")


def test_a_forward_that_is_not_minirnns_cell_is_reported_as_such(tmp_path, capsys):
    """Gates taken in the order i, f, o, g: forward and backward agree, but it is not torch's LSTM."""
    swapped = LSTM_STEP.replace("a_i, a_f, a_g, a_o = np.split", "a_i, a_f, a_o, a_g = np.split") \
                       .replace("[da_i, da_f, da_g, da_o]", "[da_i, da_f, da_o, da_g]")
    assert gradcheck("--cell", write(tmp_path, swapped) + ":lstm_step") == 1
    out = capsys.readouterr().out
    said = " ".join(out.split())
    assert "so this is not minirnn.LSTMCell's forward (torch's equations, gates i, f, g, o): h_next at " in said
    assert "the gradients are not compared with minirnn's" in said
    failing = [line.split()[0] for line in out.splitlines() if line.endswith("FAIL")]
    assert failing == ["h_next", "c_next"] and out.rstrip().endswith("FAILED: h_next, c_next")   # its backward is right


# -- what cannot be checked is one line and exit 2 ---------------------------------------------------
NOT_WRITTEN = LSTM_STEP.replace("    dh, dc_next = d_next_state\n",
                                "    raise NotImplementedError('write the backward')\n")


THREE_GATES = LSTM_STEP.replace("np.split(a, 4", "np.split(a, 3")


DX_TRANSPOSED = LSTM_STEP.replace("dx = da @ W_ih ", "dx = (da @ W_ih).T ")


def line_of(source, text):
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


ERRORS = [
    ("missing.py:lstm_step", None, None, "--cell: no file missing.py"),
    ("learner.py", None, LSTM_STEP, "--cell takes FILE.py:NAME"),
    ("learner.py:lstm_step", None, "def lstm_step_forward(x:\n", "does not load: SyntaxError at .*learner.py:1"),
    ("learner.py:lstm_step", None, "import numpy\nnp.zeros(2)\n", "does not load: NameError at .*learner.py:2: "
                                                                   "name 'np' is not defined"),
    ("learner.py:lstm_step", None, "import sys\nsys.exit(0)\n", "does not load: SystemExit at .*learner.py:2: 0"),
    ("learner.py:lstm_step", None, LSTM_STEP.replace("    dh, dc_next = d_next_state", "    raise SystemExit"),
     "lstm_step_backward raised SystemExit at .*learner.py:"),
    ("learner.py:gru_step", None, LSTM_STEP, "has no gru_step, nor gru_step_forward and gru_step_backward; "
                                             "it has .*lstm_step \\(a step pair\\)"),
    ("learner.py:sigmoid", None, LSTM_STEP, "sigmoid is a function, not a minirnn.gates.GateMath"),
    ("learner.py:lstm_step_forward", None, LSTM_STEP, "name a step pair by its prefix, .*learner.py:lstm_step$"),
    ("learner.py:lstm_step", None, LSTM_STEP.replace("def lstm_step_backward", "def lstm_backward"),
     "has lstm_step_forward but no lstm_step_backward"),
    ("learner.py:my_step", None, LSTM_STEP.replace("lstm_step", "my_step"),
     "cannot tell which cell my_step is: its name starts with none of rnn_tanh_, rnn_relu_, lstm_, gru_"),
    ("learner.py:lstm_step", "gru", LSTM_STEP, "the kind gru contradicts the name lstm_step"),
    ("learner.py:MY_RNN", "lstm", RNN_GATE_MATH, "has n_gates=1 and state_names=\\('h',\\), but an LSTM"),
    ("learner.py:lstm_step", None, NOT_WRITTEN, "lstm_step_backward raised NotImplementedError at .*learner.py:"
                                                f"{line_of(NOT_WRITTEN, 'raise')}: write the backward$"),
    ("learner.py:lstm_step", None, LSTM_STEP.replace("return (h, c), LSTMStepCache", "return h, LSTMStepCache"),
     "lstm_step_forward's next_state must be a tuple \\(h_next, c_next\\) of \\(2, 5\\) float64 arrays, "
     "got \\(2, 5\\) float64$"),
    ("learner.py:lstm_step", None, LSTM_STEP.replace("grads = weight_grads(params, x, da, h_prev, da)", 'grads = {"weight_ih": da.T @ x}'),
     "lstm_step_backward's grads must be a dict with the keys of params"),
    ("learner.py:lstm_step", None, DX_TRANSPOSED,
     "lstm_step_backward's dx must be a \\(2, 3\\) float64 array, got \\(3, 2\\) float64$"),
    ("learner.py:lstm_step", None, THREE_GATES,
     f"lstm_step_forward raised ValueError at .*learner.py:{line_of(THREE_GATES, 'np.split')}: .* "
     "\\(checked as an LSTM, from the name's prefix lstm_: weights in 4 gate blocks of H rows \\(i, f, g, o\\), "
     "state \\(h, c\\)\\)"),
]


@pytest.mark.parametrize("spec, kind, source, message", ERRORS, ids=[e[3][:40] for e in ERRORS])
def test_what_cannot_be_checked_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, spec, kind, source, message):
    monkeypatch.chdir(tmp_path)
    if source is not None:
        write(tmp_path, source)
    assert gradcheck("--cell", spec, *(["--kind", kind] if kind else [])) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    assert re.search(message, captured.err.strip()), captured.err


@pytest.mark.parametrize("args, message", [
    (["--kind", "lstm"], "--kind goes with --cell"),
    (["--cell", "x.py:lstm_step", "--model", "lstm"], "takes no --model, --cases or --backend")])
def test_flags_that_do_not_go_together_are_refused(capsys, args, message):
    assert gradcheck(*args) == 2 and message in capsys.readouterr().err


# -- code that never ends, or ends the process: an error, never a hang or a pass ---------------------
@pytest.mark.parametrize("where, source", [
    ("at import", LSTM_STEP + "\nwhile True:\n    pass\n"),
    ("in the step", LSTM_STEP.replace(RIGHT_F, RIGHT_F + "\n    while True:\n        pass")),
])
def test_a_cell_whose_code_never_ends_is_stopped_at_the_time_limit(tmp_path, capsys, monkeypatch, where, source):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, source)
    assert gradcheck("--cell", "learner.py:lstm_step", "--time-limit", "1.5") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        "minirnn: error: learner.py:lstm_step: the cell check did not finish within --time-limit 1.5 s; the cell's "
        "code may never end (a loop at import or in a step)\n")


def test_a_cell_that_ends_the_process_is_an_error_not_a_pass(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, LSTM_STEP.replace(RIGHT_F, RIGHT_F + "\n    __import__('os')._exit(0)"))
    assert gradcheck("--cell", "learner.py:lstm_step") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        "minirnn: error: learner.py:lstm_step: the cell check ended without a report (exit status 0): the cell's "
        "code ended the process, so nothing was checked\n")


def test_a_keyboard_interrupt_raised_by_the_cells_code_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, LSTM_STEP.replace(RIGHT_F, RIGHT_F + "\n    raise KeyboardInterrupt"))
    assert gradcheck("--cell", "learner.py:lstm_step") == 2
    assert capsys.readouterr().err == ("minirnn: error: learner.py:lstm_step: the cell's code raised "
                                       "KeyboardInterrupt\n")


@pytest.mark.parametrize("args, message", [
    (["--time-limit", "5"], "--time-limit goes with --cell"),
    (["--cell", "x.py:lstm_step", "--time-limit", "0"], "--time-limit must be a finite number > 0, got 0.0"),
])
def test_a_time_limit_needs_a_cell_and_a_positive_number(capsys, args, message):
    assert gradcheck(*args) == 2 and message in capsys.readouterr().err


# -- the exercise page: its quote, its commands and its printouts ----------------------------------
PAGE = Path(__file__).resolve().parents[3] / "docs" / "exercise_lstm_backward.md"


def page_block(language, containing):
    blocks = re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if containing in block)


def page_command(containing):
    """The page's `python -m minirnn ...` line that contains ``containing``, as arguments for main."""
    words = next(line for line in page_block("bash", containing).splitlines() if containing in line).split()
    assert words[:3] == ["python", "-m", "minirnn"]
    return words[3:]


def printout(text):
    """A printout line by line; a row that passed is kept as its name and verdict, since its tiny errors
    are rounding, which another machine's BLAS may round differently."""
    return [(line.split()[0], "ok") if line.endswith(" ok") else line.rstrip() for line in text.splitlines()]


def test_the_exercise_quotes_the_reference_implementations_forward_as_it_is():
    assert page_block("python", "def lstm_step_forward") == inspect.getsource(minirnn.reference.lstm.lstm_step_forward)


def test_the_exercise_as_given_says_in_one_line_that_the_backward_is_not_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lstm_exercise.py").write_text(page_block("python", "def lstm_step_backward"))
    assert main(page_command("lstm_exercise.py:lstm_step")) == 2
    assert capsys.readouterr().err == page_block("text", "minirnn: error:")


@pytest.mark.parametrize("answer, shown, status", [(LSTM_STEP, "passed:", 0), (wrong_f(), "FAILED:", 1)],
                         ids=["right", "without the forget gate's derivative"])
def test_the_exercise_answered_prints_what_the_page_shows(tmp_path, monkeypatch, capsys, answer, shown, status):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lstm_exercise.py").write_text(answer)
    assert main(page_command("lstm_exercise.py:lstm_step")) == status
    assert printout(capsys.readouterr().out) == printout(page_block("text", shown))


def test_the_exercise_names_the_mistake_whose_printout_it_shows():
    assert f"`{WRONG_F}` without its `(1 − f)`" in PAGE.read_text(encoding="utf-8")


def test_the_exercise_checks_the_fast_paths_cell_the_same_way(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_cells.py").write_text(page_block("python", "import LSTM_GATE_MATH"))
    assert main(page_command("my_cells.py:LSTM_GATE_MATH")) == 0
    assert "the gate math LSTM_GATE_MATH, one step at a time through minirnn's time loop" in capsys.readouterr().out
