"""The run directory: one writer at a time, a write order that keeps it consistent, and its repair on resume."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import minirnn.core.atomic
import minirnn.tools.train.tasks
from minirnn import checkpoint
from minirnn.core.atomic import atomic_write
from minirnn.tools import cli
from minirnn.tools.train import rundir
from minirnn.tools.train.rundir import RunDirectory
from minirnn.tools.train.trainer import TrainConfig, Trainer, train

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = numpy.random.default_rng(0)
    words = "def class return self import for while if else elif try except with lambda yield pass".split()
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, size=rng.integers(2, 6))) + ":" for _ in range(200)) + "\n")
    return path


def small(corpus, out, **overrides):
    return TrainConfig(**{**dict(text=str(corpus), emb=8, hidden=16, batch=4, bptt=16, lr=0.1, eval_every=2,
                                 out=str(out), progress=False, epochs=0.3), **overrides})


def quiet(message):
    pass


def records(out):
    return [json.loads(line) for line in (Path(out) / rundir.METRICS).read_text().splitlines()]


def same_files(out, expected):
    """last.npz, best.npz and metrics.jsonl hold what the uninterrupted run's hold (the timings aside)."""
    for name in (rundir.LAST, rundir.BEST):
        mine, theirs = checkpoint.load(Path(out) / name), checkpoint.load(Path(expected) / name)
        assert mine.meta["run"]["step"] == theirs.meta["run"]["step"], name
        assert all((mine.params[k] == v).all() for k, v in theirs.params.items()), name
    keys = ("step", "train_loss", "val_loss")
    assert [[r[k] for k in keys] for r in records(out)] == [[r[k] for k in keys] for r in records(expected)]
    assert not [p.name for p in Path(out).iterdir() if p.name.endswith(".tmp") or p.name == rundir.PREVIOUS_BEST]


@pytest.fixture(scope="module")
def expected(corpus, tmp_path_factory):
    """The directory of a run that was never stopped."""
    out = tmp_path_factory.mktemp("expected")
    train(small(corpus, out), quiet)
    return out


# -- one writer ----------------------------------------------------------------------------------------
def test_second_train_into_the_same_out_is_refused_naming_it(corpus, tmp_path, capsys):
    first = Trainer(small(corpus, tmp_path), quiet)                   # holds the directory until it has run
    status = cli.main(["train", "--text", str(corpus), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"--out {tmp_path} is in use by another minirnn train" in err
    first.run()
    assert records(tmp_path)[0]["step"] == 2                           # the first run's files, untouched
    train(TrainConfig(out=str(tmp_path), resume=True, epochs=0.4, progress=False), quiet)   # and free again


def test_a_new_run_never_writes_over_a_file_of_a_runs_name_not_even_its_own_text(corpus, tmp_path, capsys):
    text = tmp_path / rundir.PLOT                                      # a text that happens to bear the plot's name
    text.write_bytes(corpus.read_bytes())
    status = cli.main(["train", "--text", str(text), "--out", str(tmp_path), "--emb", "8", "--hidden", "16",
                       "--batch", "4", "--bptt", "16", "--epochs", "0.1", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and f"--out {tmp_path} already holds a run's files (loss.png)" in err
    assert text.read_bytes() == corpus.read_bytes() and not (tmp_path / rundir.LAST).exists()


def test_the_lock_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from minirnn.tools.train.rundir import "
                               "RunDirectory; RunDirectory(sys.argv[1], print)._lock(); print('locked', flush=True); "
                               "time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert holder.stdout.readline() == "locked\n"
    with pytest.raises(BlockingIOError, match="is in use by another minirnn train"):
        RunDirectory(tmp_path, quiet)._lock()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    directory = RunDirectory(tmp_path, quiet)
    directory._lock()                                                 # no stale lock: the kernel dropped it
    directory.close()


def test_deleting_what_is_left_of_an_old_lock_file_lets_no_second_writer_in(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from minirnn.tools.train.rundir import "
                               "RunDirectory; RunDirectory(sys.argv[1], print)._lock(); print('locked', flush=True); "
                               "time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert holder.stdout.readline() == "locked\n"
        for leftover in tmp_path.iterdir():                          # whatever file a lock could be on: gone
            leftover.unlink()
        with pytest.raises(BlockingIOError, match="is in use by another minirnn train"):
            RunDirectory(tmp_path, quiet)._lock()
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_run_whose_directory_is_deleted_and_made_again_stops_rather_than_write_into_the_new_one(corpus, tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(small(corpus, out), quiet)
    shutil.rmtree(out)
    out.mkdir()                                                     # another run's directory, perhaps
    with pytest.raises(RuntimeError, match=f"--out {out} was deleted or replaced while this run wrote into it"):
        trainer.run()
    assert os.listdir(out) == []


# -- the write order and the repair ---------------------------------------------------------------------------
def test_a_run_killed_between_its_best_and_its_last_checkpoint_resumes_to_the_same_files(corpus, tmp_path,
                                                                                       expected, monkeypatch):
    real, calls = RunDirectory._append_metrics, []

    def killed_on_the_third(self, record):                           # step 6 improved: best.npz is already written
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(self, record)

    monkeypatch.setattr(RunDirectory, "_append_metrics", killed_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        train(small(corpus, tmp_path), quiet)
    monkeypatch.undo()
    last, best = (checkpoint.load(tmp_path / name).meta["run"] for name in (rundir.LAST, rundir.BEST))
    assert (last["step"], last["best_step"], best["step"]) == (4, 4, 6)   # best ahead, never older than last says
    assert (tmp_path / rundir.PREVIOUS_BEST).exists()
    lines = []
    train(TrainConfig(out=str(tmp_path), resume=True, progress=False), lines.append)
    assert any("put back the best model of step 4" in line for line in lines)
    same_files(tmp_path, expected)


def test_torn_and_foreign_metrics_lines_are_set_aside_when_the_run_goes_on(corpus, tmp_path, expected):
    train(small(corpus, tmp_path, epochs=0.14), quiet)        # to step 8, an evaluation step
    damaged = b'not a metrics line\n{"step": 99, "epoch": 1.0, "train_loss": 3.1, "val'   # foreign, then torn
    with open(tmp_path / rundir.METRICS, "ab") as file:
        file.write(damaged)
    lines = []
    train(TrainConfig(out=str(tmp_path), resume=True, epochs=0.3, progress=False), lines.append)
    assert any(f"set aside 2 torn, foreign or out-of-order line(s) in {tmp_path / rundir.REJECTED}" in line
               for line in lines)
    assert (tmp_path / rundir.REJECTED).read_bytes() == damaged + b"\n"
    same_files(tmp_path, expected)


def test_lines_set_aside_by_two_resumes_are_all_kept(corpus, tmp_path):
    train(small(corpus, tmp_path, epochs=0.14), quiet)
    for damage, epochs in ((b"first damage\n", 0.2), (b"second damage\n", 0.3)):
        with open(tmp_path / rundir.METRICS, "ab") as file:
            file.write(damage)
        train(TrainConfig(out=str(tmp_path), resume=True, epochs=epochs, progress=False), quiet)
    assert (tmp_path / rundir.REJECTED).read_bytes() == b"first damage\nsecond damage\n"


def test_a_lost_metrics_line_of_the_last_checkpoint_is_restored_from_it(corpus, tmp_path, expected):
    train(small(corpus, tmp_path, epochs=0.14), quiet)        # to step 8, an evaluation step
    kept = (tmp_path / rundir.METRICS).read_text().splitlines(keepends=True)[:-1]
    (tmp_path / rundir.METRICS).write_text("".join(kept))
    train(TrainConfig(out=str(tmp_path), resume=True, epochs=0.3, progress=False), quiet)
    same_files(tmp_path, expected)


def test_a_run_killed_after_its_last_commit_draws_its_missing_plot_when_resumed(corpus, tmp_path):
    pytest.importorskip("matplotlib")
    train(small(corpus, tmp_path, epochs=0.14), quiet)
    (tmp_path / rundir.PLOT).unlink()                         # killed between the last commit and the plot
    lines = []
    train(TrainConfig(out=str(tmp_path), resume=True, progress=False), lines.append)
    assert any(line.startswith("nothing to train") for line in lines)
    assert (tmp_path / rundir.PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_fifo_in_place_of_the_metrics_is_refused_not_waited_on(corpus, tmp_path, capsys):
    train(small(corpus, tmp_path, epochs=0.14), quiet)
    (tmp_path / rundir.METRICS).unlink()
    os.mkfifo(tmp_path / rundir.METRICS)
    assert cli.main(["train", "--resume", "--out", str(tmp_path), "--epochs", "0.3", "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"minirnn: error: {tmp_path / rundir.METRICS} is not a regular file; a run "
                                       "directory holds files only\n")
    with pytest.raises(OSError) as error:                      # no reader: the open says so at once
        RunDirectory(tmp_path, quiet)._append_metrics({"step": 1})
    assert error.value.filename == str(tmp_path / rundir.METRICS)


def test_temporaries_of_killed_writes_are_removed_when_the_directory_is_reopened(corpus, tmp_path):
    train(small(corpus, tmp_path, epochs=0.14), quiet)        # to step 8, an evaluation step
    for name in (".last.npz.k1ll3d.tmp", ".metrics.jsonl.x.tmp", ".best.npz.y.tmp"):
        (tmp_path / name).write_bytes(b"half a file")
    (tmp_path / "notes.tmp").write_text("not ours")
    lines = []
    train(TrainConfig(out=str(tmp_path), resume=True, epochs=0.2, progress=False), lines.append)
    assert any("removed 3 temporary file(s)" in line for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == ["notes.tmp"]


def test_second_ctrl_c_just_after_the_rename_raises_no_other_error_and_leaves_no_temporary(tmp_path, monkeypatch):
    real = os.replace

    def renamed_then_interrupted(source, target):
        real(source, target)
        raise KeyboardInterrupt                                      # the second Ctrl-C lands right after the rename

    monkeypatch.setattr(minirnn.core.atomic.os, "replace", renamed_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "file", lambda file: file.write(b"new"))
    assert os.listdir(tmp_path) == ["file"] and (tmp_path / "file").read_bytes() == b"new"


def test_an_out_that_cannot_be_written_fails_before_training(corpus, tmp_path, monkeypatch, capsys):
    trained = []
    real = minirnn.tools.train.tasks.cross_entropy
    monkeypatch.setattr(minirnn.tools.train.tasks, "cross_entropy", lambda *a: trained.append(1) or real(*a))
    status = cli.main(["train", "--text", str(corpus), "--out", "/proc/minirnn-run"])
    assert status == 2 and "cannot write the run directory --out /proc/minirnn-run" in capsys.readouterr().err
    train(small(corpus, tmp_path, epochs=0.1), quiet)
    trained.clear()
    monkeypatch.setattr(rundir.os, "access", lambda path, mode: False)          # as a read-only mount answers
    with pytest.raises(PermissionError, match=f"--out {tmp_path} is not writable"):
        train(TrainConfig(out=str(tmp_path), resume=True, epochs=0.3, progress=False), quiet)
    assert not trained
