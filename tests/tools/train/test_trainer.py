"""Training end to end: exact resume with the saved settings, the NaN guard, time limits, Ctrl-C, what the run
shows, and the minirnn command line's training flags."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

import minirnn.tools.train.tasks
from minirnn import checkpoint
from minirnn.data import Vocab
from minirnn.models import CharLoopModel, CharRNN
from minirnn.sample import sample
from minirnn.tools import cli
from minirnn.tools.train import terminal
from minirnn.tools.train.trainer import TrainConfig, train

REPO = Path(__file__).resolve().parents[3]
WORDS = "def class return self import for while if else elif try except with lambda yield pass".split()
TINY = ["--emb", "8", "--hidden", "16", "--batch", "4", "--bptt", "16", "--no-progress"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """About 3 kB of Python-like lines, the same every time."""
    rng = numpy.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(2, 6))) + ":" for _ in range(200)]
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def small(corpus, out, **overrides):
    """A config that trains in well under a second."""
    settings = dict(text=str(corpus), emb=8, hidden=16, batch=4, bptt=16, lr=0.01, eval_every=5, out=str(out),
                    progress=False, epochs=1.0)
    settings.update(overrides)
    return TrainConfig(**settings)


def quiet(message):
    pass


def metrics(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def interrupt_at(monkeypatch, step, interrupt=lambda: signal.raise_signal(signal.SIGINT)):
    """Press Ctrl-C (once) during the given training step, or call ``interrupt()`` there instead."""
    real, calls = minirnn.tools.train.tasks.cross_entropy, []

    def pressed(logits, target):
        calls.append(1)
        if len(calls) == step:
            interrupt()
        return real(logits, target)

    monkeypatch.setattr(minirnn.tools.train.tasks, "cross_entropy", pressed)


def train_cli(capsys, *argv):
    """(exit status, stdout, stderr) of ``minirnn train ARGV`` run in this process."""
    status = cli.main(["train", *argv])
    out, err = capsys.readouterr()
    return status, out, err


# -- exact resume ---------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["charrnn", "charloop"])
def test_resume_equals_uninterrupted_training(corpus, tmp_path, model):
    # Dropout makes the run depend on the restored generators; CharLoopModel on the restored window order.
    overrides = dict(model="charrnn", layers=2, dropout=0.2, cell="lstm", batch=4) if model == "charrnn" \
        else dict(model="charloop", batch=32, bptt=TrainConfig.bptt)
    whole = train(small(corpus, tmp_path / "whole", epochs=0.6, **overrides), quiet)
    first = train(small(corpus, tmp_path / "split", epochs=0.3, **overrides), quiet)
    second = train(small(corpus, tmp_path / "split", epochs=0.6, resume=True, **overrides), quiet)
    assert len(first.losses) > 3 and len(second.losses) > 3
    assert first.losses + second.losses == whole.losses       # bit-identical, step by step
    assert second.val_loss == whole.val_loss


def test_train_loss_after_resuming_between_evaluations_equals_uninterrupted(corpus, tmp_path, monkeypatch):
    train(small(corpus, tmp_path / "whole", epochs=0.5), quiet)
    interrupt_at(monkeypatch, 7)                              # stopped at step 7, between the evaluations at 5 and 10
    assert train(small(corpus, tmp_path / "split", epochs=0.5), quiet).step == 7
    monkeypatch.undo()
    train(TrainConfig(out=str(tmp_path / "split"), resume=True, progress=False), quiet)
    expected = {r["step"]: r for r in metrics(tmp_path / "whole")}
    resumed = {r["step"]: r for r in metrics(tmp_path / "split")}
    assert resumed[10]["train_loss"] == expected[10]["train_loss"]     # the mean over steps 6..10, as if never stopped
    assert [resumed[s]["val_loss"] for s in expected] == [r["val_loss"] for r in expected.values()]


def test_resume_keeps_the_saved_epochs_and_eval_every(corpus, tmp_path, monkeypatch, capsys):
    interrupt_at(monkeypatch, 9)
    status, _, _ = train_cli(capsys, "--text", str(corpus), *TINY, "--epochs", "0.5", "--eval-every", "4",
                             "--out", str(tmp_path))
    assert status == 130 and [r["step"] for r in metrics(tmp_path)] == [4, 8, 9]
    monkeypatch.undo()
    status, out, _ = train_cli(capsys, "--resume", "--out", str(tmp_path), "--no-progress")
    assert status == 0 and out.startswith("step 29:")                 # 0.5 of 57 batches, evaluated every 4
    assert [r["step"] for r in metrics(tmp_path)] == [4, 8, 9, 12, 16, 20, 24, 28, 29]


def test_a_resumed_run_says_the_step_it_goes_on_from(corpus, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, 7)                              # Ctrl-C: the run evaluates and commits step 7
    train(small(corpus, tmp_path, epochs=0.5), quiet)
    monkeypatch.undo()
    lines = []
    train(TrainConfig(out=str(tmp_path), resume=True, progress=False), lines.append)
    assert lines[0].endswith("; resuming at step 7")


def test_a_run_killed_before_its_first_evaluation_says_it_resumes_at_step_0_and_why(corpus, tmp_path, monkeypatch):
    def killed():                                             # as kill -9 would: nothing after step 0 committed
        raise SystemExit(137)

    interrupt_at(monkeypatch, 3, killed)
    with pytest.raises(SystemExit):
        train(small(corpus, tmp_path, epochs=0.5, eval_every=100), quiet)
    monkeypatch.undo()
    lines = []
    train(TrainConfig(out=str(tmp_path), resume=True, progress=False), lines.append)
    assert lines[0].endswith("; resuming at step 0: no evaluation was reached before it stopped (a run commits "
                             "its progress at each, every --eval-every 100 steps)")


def test_resume_with_more_minutes_extends_a_timed_run(corpus, tmp_path, capsys):
    train(small(corpus, tmp_path, epochs=None, minutes=0.1 / 60, eval_every=10**6), quiet)
    first = metrics(tmp_path)[-1]
    status, _, _ = train_cli(capsys, "--resume", "--out", str(tmp_path), "--minutes", str(0.3 / 60), "--no-progress")
    last = metrics(tmp_path)[-1]
    assert status == 0 and last["step"] > first["step"] and 0.3 <= last["elapsed_sec"] < 2.0


def test_resume_of_a_finished_run_trains_nothing_and_says_so_once(corpus, tmp_path, capsys):
    train(small(corpus, tmp_path, epochs=0.2), quiet)
    before = (tmp_path / "metrics.jsonl").read_bytes()
    status, out, err = train_cli(capsys, "--resume", "--out", str(tmp_path))     # progress on, but not a terminal
    assert status == 0 and (tmp_path / "metrics.jsonl").read_bytes() == before
    assert err.count("\n") == 1 and err.startswith("nothing to train: the run in") and "step" not in out[5:20]
    assert out.count("\n") == 1 and out.startswith("step 12: val")


@pytest.mark.parametrize("flag, value, saved", [("--hidden", "999", "16"), ("--cell", "gru", "lstm"),
                                                ("--lr", "5.0", "0.01"), ("--seed", "3", "0")])
def test_resume_refuses_a_flag_that_conflicts_with_the_saved_run_naming_it(corpus, tmp_path, capsys, flag, value,
                                                                            saved):
    train(small(corpus, tmp_path, epochs=0.2), quiet)
    status, _, err = train_cli(capsys, "--resume", "--out", str(tmp_path), "--epochs", "0.4", flag, value)
    assert status == 2 and err.count("\n") == 1
    assert f"{flag} {value} conflicts with the run in {tmp_path}, which has {flag} {saved}" in err


def test_resume_accepts_a_flag_that_agrees_with_the_saved_run(corpus, tmp_path, capsys):
    train(small(corpus, tmp_path, epochs=0.2), quiet)
    status, _, _ = train_cli(capsys, "--resume", "--out", str(tmp_path), "--epochs", "0.4", "--hidden", "16")
    assert status == 0 and metrics(tmp_path)[-1]["step"] == 23


def test_resume_from_another_directory_with_an_absolute_text(corpus, tmp_path, capsys, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "small.txt").write_text(corpus.read_text())
    monkeypatch.chdir(tmp_path / "data")
    train(small("small.txt", tmp_path / "run", epochs=0.2), quiet)          # a relative --text
    monkeypatch.chdir(tmp_path)
    status, _, _ = train_cli(capsys, "--resume", "--out", "run", "--epochs", "0.3",
                             "--text", str(tmp_path / "data" / "small.txt"))
    assert status == 0
    status, _, _ = train_cli(capsys, "--resume", "--out", "run", "--epochs", "0.4")   # the stored path is absolute
    assert status == 0 and metrics(tmp_path / "run")[-1]["step"] == 23


def test_text_mismatch_error_names_the_text_that_was_given(corpus, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text() + "x = 1\n")
    train(small(corpus, tmp_path / "run", epochs=0.2), quiet)
    status, _, err = train_cli(capsys, "--resume", "--out", str(tmp_path / "run"), "--text", str(other))
    assert status == 2 and f"--text {other} is not the text the run in" in err


def test_resume_refuses_a_changed_text_file(corpus, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(corpus.read_text())
    train(small(text, tmp_path / "run", epochs=0.2), quiet)
    text.write_text(corpus.read_text() + "x = 1\n")          # the file changed since
    with pytest.raises(ValueError, match=f"{text}, the text the run in .* was trained on, has changed since"):
        train(TrainConfig(out=str(tmp_path / "run"), resume=True, epochs=0.4), quiet)


def test_resume_without_a_run_says_there_is_none(tmp_path):
    with pytest.raises(ValueError, match="there is no run to resume in --out .* start one without --resume"):
        train(TrainConfig(out=str(tmp_path), resume=True), quiet)


# -- one run ------------------------------------------------------------------------------------------
def test_run_writes_checkpoints_metrics_and_plot(corpus, tmp_path):
    result = train(small(corpus, tmp_path), quiet)
    records = metrics(tmp_path)
    assert [r["step"] for r in records][-1] == result.step
    assert set(records[0]) == {"step", "epoch", "train_loss", "val_loss", "val_bpc", "tokens_per_sec", "elapsed_sec"}
    assert records[-1]["epoch"] == 1.0
    assert records[-1]["val_bpc"] == pytest.approx(records[-1]["val_loss"] / numpy.log(2))
    assert checkpoint.load(tmp_path / "last.npz").meta["run"]["step"] == result.step
    best = min(records, key=lambda r: r["val_loss"])
    assert checkpoint.load(tmp_path / "best.npz").meta["run"]["step"] == best["step"]
    pytest.importorskip("matplotlib")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_plot_is_a_one_line_hint(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)   # makes its import fail
    lines = []
    train(small(corpus, tmp_path, epochs=0.2), lines.append)
    assert not (tmp_path / "loss.png").exists()
    assert [line for line in lines if "loss.png" in line] == [
        "loss curve: install matplotlib (pip install 'minirnn[plot]') to get loss.png"]


def test_training_lowers_validation_loss(corpus, tmp_path):
    result = train(small(corpus, tmp_path, epochs=3.0, eval_every=1000), quiet)
    assert result.val_loss < numpy.log(len(set(corpus.read_text()))) - 0.5   # well below a uniform guess


def test_charloop_trains_below_the_unigram_baseline(corpus, tmp_path):
    text = corpus.read_text()
    counts = numpy.unique(list(text), return_counts=True)[1]
    unigram_nats = -(counts / counts.sum() * numpy.log(counts / counts.sum())).sum()   # entropy of char frequencies
    result = train(small(corpus, tmp_path, model="charloop", window=8, batch=32, epochs=2.0, eval_every=10**6,
                         bptt=TrainConfig.bptt), quiet)
    assert result.val_loss < unigram_nats - 0.3


def test_minutes_limit_stops_and_still_evaluates(corpus, tmp_path):
    result = train(small(corpus, tmp_path, epochs=None, minutes=0.2 / 60, eval_every=10**6), quiet)
    records = metrics(tmp_path)
    assert len(records) == 1 and records[0]["step"] == result.step > 0
    assert 0.2 <= records[0]["elapsed_sec"] < 2.0


@pytest.mark.parametrize("fault", ["loss", "gradient"])
def test_nan_stops_training_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch, fault):
    real = minirnn.tools.train.tasks.cross_entropy
    calls = []

    def poisoned(logits, target):
        loss, d_logits = real(logits, target)
        calls.append(1)
        if len(calls) == 8:                                   # the 8th training step goes bad
            if fault == "loss":
                loss = float("nan")
            else:
                d_logits = d_logits.copy()
                d_logits[0, 0, 0] = numpy.inf
        return loss, d_logits

    monkeypatch.setattr(minirnn.tools.train.tasks, "cross_entropy", poisoned)
    with pytest.raises(FloatingPointError, match=f"training stopped at step 8: the {fault}.*last.npz \\(step 5\\)"):
        train(small(corpus, tmp_path), quiet)
    saved = checkpoint.load(tmp_path / "last.npz")
    assert saved.meta["run"]["step"] == 5
    assert all(numpy.isfinite(value).all() for value in saved.params.values())


@pytest.mark.filterwarnings("error")                           # a warning on the way would fail the test
def test_a_diverging_run_ends_in_its_one_error_line_without_numpys_warnings(corpus, tmp_path, capsys):
    status, _, err = train_cli(capsys, "--text", str(corpus), *TINY, "--lr", "1e308", "--out", str(tmp_path))
    assert status == 1 and err.splitlines()[-1].startswith("minirnn: error: training stopped at step 2: the loss is nan")
    assert "Warning" not in err


def test_first_ctrl_c_finishes_the_step_then_evaluates_and_saves(corpus, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, 7)                              # as if the user pressed Ctrl-C during step 7
    result = train(small(corpus, tmp_path, eval_every=5), quiet)
    assert result.step == 7 and result.interrupted
    assert checkpoint.load(tmp_path / "last.npz").meta["run"]["step"] == 7
    assert [r["step"] for r in metrics(tmp_path)] == [5, 7]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # the usual Ctrl-C is back


def test_existing_run_is_not_overwritten_without_resume(corpus, tmp_path):
    train(small(corpus, tmp_path, epochs=0.2), quiet)
    with pytest.raises(ValueError, match="already holds a run"):
        train(small(corpus, tmp_path, epochs=0.2), quiet)


# -- settings and their errors --------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--text", "/nonexistent/file.txt"], "/nonexistent/file.txt: No such file or directory"),
    (["--batch", "0"], "--batch must be a positive integer, got 0"),
    (["--schedule", "cosine", "--minutes", "1"], "--schedule cosine needs --epochs"),
    (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    (["--val-fraction", "1.5"], "--val-fraction must be a number between 0 and 1"),
    (["--momentum", "0.9"], r"--momentum does not apply to --optimizer adam \(only to sgd\)"),
    (["--model", "charloop", "--layers", "2"], "--layers does not apply to --model charloop"),
    (["--window", "4"], "--window does not apply to --model charrnn"),
    (["--warmup", "10"], r"--warmup does not apply to --schedule constant \(only to cosine\)"),
    (["--optimizer", "adagrad", "--weight-decay", "0.1"], "--weight-decay does not apply to --optimizer adagrad"),
    (["--text", "/dev/zero"], "text file '/dev/zero' is not a regular file"),
    (["--text", "/"], "text file '/' is not a regular file"),
])
def test_train_errors_are_one_line_naming_the_flag(argv, message, capsys, tmp_path):
    status, _, err = train_cli(capsys, *argv, "--out", str(tmp_path / "run"))
    assert status == 2 and err.startswith("minirnn: error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "run" / "last.npz").exists()


def test_an_empty_out_is_refused_rather_than_the_current_directory_used(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = train_cli(capsys, "--text", str(corpus), *TINY, "--epochs", "0.1", "--out", "")
    assert (status, err) == (2, "minirnn: error: --out must name the run's directory, got ''\n")
    assert os.listdir(tmp_path) == []


def test_val_fraction_that_leaves_too_little_training_text_names_the_flag(corpus, tmp_path, capsys):
    status, _, err = train_cli(capsys, "--text", str(corpus), "--val-fraction", "0.999", "--out", str(tmp_path))
    assert status == 2 and "the training text (5 characters: the text less its last --val-fraction 0.999) is " \
                           "too short for one batch of --batch 64 streams x --bptt 64 steps, which needs 4097" in err


def test_train_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, default in [("--optimizer", "adam"), ("--dtype", "float32"), ("--momentum", "0.0"),
                          ("--warmup", "0"), ("--seed", "0"), ("--lr", "0.002"), ("--eval-every", "500")]:
        assert re.search(rf"{flag} \S+ .*?\(default {re.escape(default)}\)", text), flag


# -- what a run shows --------------------------------------------------------------------------------------
class Stream:
    def __init__(self, tty):
        self.tty, self.written = tty, []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.written.append(text)

    def flush(self):
        pass


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    pytest.importorskip("tqdm", reason="tqdm is optional: the bar needs it")
    assert isinstance(terminal.progress_display(True, 100, 0, quiet, Stream(tty=True)), terminal.Bar)
    assert isinstance(terminal.progress_display(True, 100, 0, quiet, Stream(tty=False)), terminal.Lines)
    assert type(terminal.progress_display(False, 100, 0, quiet, Stream(tty=True))) is terminal.Silent


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setattr(terminal.importlib.util, "find_spec", lambda name: None)
    assert isinstance(terminal.progress_display(True, 100, 0, quiet, Stream(tty=True)), terminal.Lines)


def test_plain_progress_is_one_line_per_period():
    lines, now = [], [0.0]
    display = terminal.Lines(lines.append, total_steps=200, every=30.0, clock=lambda: now[0])
    for step in range(1, 101):
        now[0] = step * 1.0                                   # one step a second
        display.update(step, 2.5, 1234.0)
    assert lines == ["step 30/200 (15%): loss 2.500, 1,234 tokens/s", "step 60/200 (30%): loss 2.500, 1,234 tokens/s",
                     "step 90/200 (45%): loss 2.500, 1,234 tokens/s"]


# -- the command in a process of its own -----------------------------------------------------------------
def minirnn_process(*argv, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "minirnn", *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_python_dash_m_minirnn_trains_and_samples_without_a_bar_off_a_terminal(corpus, tmp_path):
    out = tmp_path / "run"
    _, err = minirnn_process("train", "--text", str(corpus), "--cell", "gru", "--emb", "8", "--hidden", "16",
                             "--batch", "4", "--bptt", "16", "--epochs", "0.3", "--out", str(out)).communicate(
        timeout=120)
    assert "bits/char" in err and "\r" not in err              # the reports, and no bar into a pipe
    sampled, _ = minirnn_process("sample", str(out / "last.npz"), "--length", "20").communicate(timeout=120)
    assert len(sampled) == 1 + 20 + 1                          # the "\n" prime, 20 characters, newline


def test_ctrl_c_exits_130_with_the_run_saved_and_resumable(corpus, tmp_path):
    process = minirnn_process("train", "--text", str(corpus), *TINY, "--epochs", "50", "--eval-every", "1000",
                              "--out", str(tmp_path))
    assert process.stderr.readline().startswith("minirnn train: ")          # said just before the first step
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    step = checkpoint.load(tmp_path / "last.npz").meta["run"]["step"]
    assert step > 0 and metrics(tmp_path)[-1]["step"] == step              # evaluated and saved where it stopped
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- the other subcommands, through the same command line ------------------------------------------------
def test_cli_train_then_sample_in_process(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, _ = train_cli(capsys, "--text", str(corpus), *TINY, "--epochs", "0.5", "--eval-every", "10",
                                  "--out", str(out))
    assert status == 0 and "bits/char" in stdout
    status = cli.main(["sample", str(out / "best.npz"), "--prime", "def ", "--length", "40", "--seed", "3",
                       "--top-k", "5"])
    text = capsys.readouterr().out
    assert status == 0 and text.startswith("def ") and len(text) == len("def ") + 40 + 1   # and print's newline


def test_cli_refuses_damaged_checkpoint(tmp_path, capsys):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    assert cli.main(["sample", str(path)]) == 2
    assert "broken.npz is not a usable minirnn checkpoint" in capsys.readouterr().err


def test_cli_lists_only_subcommands_that_exist(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    listed = capsys.readouterr().out
    for name, module in cli.SUBCOMMANDS.items():
        present = (REPO / (module.replace(".", "/") + ".py")).exists()
        assert bool(re.search(rf"^\s+{name}\s", listed, re.MULTILINE)) == present, name


def test_sampling_is_reproducible_and_top_k_1_is_greedy():
    vocab = Vocab("abcdef")
    model = CharRNN(len(vocab), emb=4, hidden=8, seed=1)
    assert sample(model, vocab, "ab", 30, seed=5) == sample(model, vocab, "ab", 30, seed=5)
    greedy = sample(model, vocab, "ab", 30, temperature=0)
    assert sample(model, vocab, "ab", 30, top_k=1, seed=9) == greedy and greedy.startswith("ab")
    assert model.training                                     # sampling leaves the mode as it found it


def test_sampling_charloop_reads_the_last_window():
    vocab = Vocab("xyz")
    model = CharLoopModel(len(vocab), n_fac=2, n_hidden=4, seed=0)
    text = sample(model, vocab, "", 12, seed=1, window=3)
    assert len(text) == 13 and set(text) <= set("xyz")


def test_sampling_names_unknown_prime_characters():
    vocab = Vocab("ab")
    with pytest.raises(ValueError, match="prime must use only the vocabulary's characters, got some not in the "
                                         "vocabulary: 'q'"):
        sample(CharRNN(2, emb=2, hidden=2), vocab, "aq", 3)


def test_adamw_takes_a_weight_decay_of_zero():
    from minirnn.optim import AdamW
    from minirnn.tools.train.trainer import build_optimizer
    model = CharRNN(5, 2, 3, seed=0)
    assert build_optimizer(TrainConfig(optimizer="adamw", weight_decay=0.0), model).weight_decay == 0.0
    assert build_optimizer(TrainConfig(optimizer="adamw"), model).weight_decay == AdamW(model).weight_decay


def test_train_loss_is_the_running_mean_since_the_previous_scheduled_evaluation(corpus, tmp_path):
    result = train(small(corpus, tmp_path / "run", eval_every=4), log=quiet)
    records, previous = metrics(tmp_path / "run"), 0
    assert len(records) >= 3
    for record in records:                     # every 4 steps, then one at the end, since the last of those
        assert record["train_loss"] == pytest.approx(numpy.mean(result.losses[previous:record["step"]]), rel=1e-12)
        previous = record["step"] - record["step"] % 4 if record["step"] % 4 else record["step"]


def test_train_loss_is_defined_in_the_help_and_the_training_guide(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    definition = "train_loss, the running mean of the training loss"
    assert definition in " ".join(capsys.readouterr().out.split())
    guide = " ".join((REPO / "docs" / "training.md").read_text(encoding="utf-8").split())
    assert "`train_loss` is the running mean of the training loss (nats per character) over the training steps " \
           "since the previous `--eval-every` evaluation" in guide
