"""Training end to end: exact resume, the NaN guard, time limits, and the minirnn command line."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import minirnn.training.trainer
from minirnn import cli
from minirnn.training import checkpoint
from minirnn.training.data import Vocab
from minirnn.models import CharLoopModel, CharRNN
from minirnn.training.sample import sample
from minirnn.training.trainer import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
WORDS = "def class return self import for while if else elif try except with lambda yield pass".split()


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


@pytest.mark.parametrize("model", ["charrnn", "charloop"])
def test_resume_equals_uninterrupted_training(corpus, tmp_path, model):
    # Dropout makes the run depend on the restored generators; CharLoopModel on the restored window order.
    overrides = dict(model=model, layers=2, dropout=0.2, cell="lstm", optimizer="adam",
                     batch=4 if model == "charrnn" else 32)
    whole = train(small(corpus, tmp_path / "whole", epochs=0.6, **overrides), quiet)
    first = train(small(corpus, tmp_path / "split", epochs=0.3, **overrides), quiet)
    second = train(small(corpus, tmp_path / "split", epochs=0.6, resume=True, **overrides), quiet)
    assert len(first.losses) > 3 and len(second.losses) > 3
    assert first.losses + second.losses == whole.losses       # bit-identical, step by step
    assert second.val_loss == whole.val_loss


def test_run_writes_checkpoints_metrics_and_plot(corpus, tmp_path):
    result = train(small(corpus, tmp_path), quiet)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records][-1] == result.step
    assert set(records[0]) == {"step", "epoch", "train_loss", "val_loss", "val_bpc", "tokens_per_sec", "elapsed_sec"}
    assert records[-1]["epoch"] == 1.0
    assert records[-1]["val_bpc"] == pytest.approx(records[-1]["val_loss"] / numpy.log(2))
    assert checkpoint.load(tmp_path / "last.npz").meta["step"] == result.step
    best = min(records, key=lambda r: r["val_loss"])
    assert checkpoint.load(tmp_path / "best.npz").meta["step"] == best["step"]
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
    result = train(small(corpus, tmp_path, model="charloop", window=8, batch=32, epochs=2.0, eval_every=10**6), quiet)
    assert result.val_loss < unigram_nats - 0.3


def test_minutes_limit_stops_and_still_evaluates(corpus, tmp_path):
    result = train(small(corpus, tmp_path, epochs=None, minutes=0.2 / 60, eval_every=10**6), quiet)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["step"] == result.step > 0
    assert 0.2 <= records[0]["elapsed_sec"] < 2.0


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")   # the Inf meeting the matmuls
@pytest.mark.parametrize("fault", ["loss", "gradient"])
def test_nan_stops_training_and_keeps_the_last_good_checkpoint(corpus, tmp_path, monkeypatch, fault):
    real = minirnn.training.trainer.cross_entropy
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

    monkeypatch.setattr(minirnn.training.trainer, "cross_entropy", poisoned)
    with pytest.raises(FloatingPointError, match=f"training stopped at step 8: the {fault}"):
        train(small(corpus, tmp_path), quiet)
    saved = checkpoint.load(tmp_path / "last.npz")
    assert saved.meta["step"] == 5
    assert all(numpy.isfinite(value).all() for value in saved.params.values())


def test_first_ctrl_c_finishes_the_step_then_evaluates_and_saves(corpus, tmp_path, monkeypatch):
    real = minirnn.training.trainer.cross_entropy
    calls = []

    def interrupted_at_step_7(logits, target):
        calls.append(1)
        if len(calls) == 7:
            signal.raise_signal(signal.SIGINT)                # as if the user pressed Ctrl-C during step 7
        return real(logits, target)

    monkeypatch.setattr(minirnn.training.trainer, "cross_entropy", interrupted_at_step_7)
    result = train(small(corpus, tmp_path, eval_every=5), quiet)
    assert result.step == 7 and checkpoint.load(tmp_path / "last.npz").meta["step"] == 7
    assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [5, 7]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # the usual Ctrl-C is back


def test_existing_run_is_not_overwritten_without_resume(corpus, tmp_path):
    train(small(corpus, tmp_path, epochs=0.2), quiet)
    with pytest.raises(ValueError, match="already holds a run"):
        train(small(corpus, tmp_path, epochs=0.2), quiet)


def test_resume_refuses_a_changed_text(corpus, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(corpus.read_text())
    train(small(text, tmp_path / "run", epochs=0.2), quiet)
    text.write_text(corpus.read_text() + "x = 1\n")          # the file changed since
    with pytest.raises(ValueError, match="the text differs from the one .*last.npz was trained on"):
        train(small(text, tmp_path / "run", epochs=0.4, resume=True), quiet)


def test_too_short_text_names_the_minimum(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("abcdefghij" * 5)
    with pytest.raises(ValueError, match="at least 65 characters"):
        train(TrainConfig(text=str(path), batch=4, bptt=16, out=str(tmp_path / "run"), progress=False), quiet)


def test_cli_train_then_sample_in_process(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(["train", "--text", str(corpus), "--emb", "8", "--hidden", "16", "--batch", "4",
                       "--bptt", "16", "--epochs", "0.5", "--eval-every", "10", "--out", str(out), "--no-progress"])
    assert status == 0
    assert "bits/char" in capsys.readouterr().out
    status = cli.main(["sample", str(out / "best.npz"), "--prime", "def ", "--length", "40", "--seed", "3",
                       "--top-k", "5"])
    text = capsys.readouterr().out
    assert status == 0 and text.startswith("def ") and len(text) == len("def ") + 40 + 1   # and print's newline


@pytest.mark.parametrize("argv, message", [
    (["train", "--text", "/nonexistent/file.txt"], "No such file or directory: '/nonexistent/file.txt'"),
    (["train", "--batch", "0"], "batch must be a positive integer, got 0"),
    (["train", "--schedule", "cosine", "--minutes", "1"], "schedule 'cosine' needs epochs"),
    (["sample", "/nonexistent/ckpt.npz"], "No such file or directory"),
])
def test_cli_errors_are_one_line_without_traceback(argv, message, capsys, tmp_path):
    assert cli.main(argv + (["--out", str(tmp_path)] if argv[0] == "train" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("minirnn: error: ") and message in err and err.count("\n") == 1


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


def test_python_dash_m_minirnn_trains_and_samples(corpus, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "run"
    trained = subprocess.run([sys.executable, "-m", "minirnn", "train", "--text", str(corpus), "--cell", "gru",
                              "--emb", "8", "--hidden", "16", "--batch", "4", "--bptt", "16", "--epochs", "0.3",
                              "--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    assert "bits/char" in trained.stderr and "tok_s=" in trained.stderr      # the reports and the progress bar
    assert (out / "last.npz").exists()
    sampled = subprocess.run([sys.executable, "-m", "minirnn", "sample", str(out / "last.npz"), "--length", "20"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert sampled.returncode == 0 and len(sampled.stdout) == 1 + 20 + 1   # the "\n" prime, 20 characters, newline


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
    with pytest.raises(ValueError, match="prime has characters that are not in the vocabulary: 'q'"):
        sample(CharRNN(2, emb=2, hidden=2), vocab, "aq", 3)


def test_adamw_takes_a_weight_decay_of_zero():
    from minirnn.training.optim import AdamW
    from minirnn.training.trainer import TrainConfig, build_optimizer
    model = CharRNN(5, 2, 3, seed=0)
    assert build_optimizer(TrainConfig(optimizer="adamw", weight_decay=0.0), model).weight_decay == 0.0
    assert build_optimizer(TrainConfig(optimizer="adamw"), model).weight_decay == AdamW(model).weight_decay
