"""The minirnn command's error boundary: one line and exit 2 for what a user can get wrong, quiet on a closed
pipe, 130 on Ctrl-C, flags named as typed, plain-text help, and --version."""
import importlib.util
import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import minirnn
from minirnn import checkpoint
from minirnn.core import backend
from minirnn.core.atomic import atomic_write
from minirnn.data import Vocab
from minirnn.models import CharRNN
from minirnn.tools import cli
from minirnn.tools.cli import output

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def saved(tmp_path):
    """A small CharRNN checkpoint with its vocabulary, as minirnn train writes one."""
    vocab = Vocab("abcde \n")
    path = tmp_path / "tiny.npz"
    checkpoint.save(path, CharRNN(len(vocab), emb=3, hidden=4, seed=0), meta={"vocab": vocab.to_json()})
    return path


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured.err


def minirnn_process(*argv, **popen):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "minirnn", *argv], env=env, stderr=subprocess.PIPE, **popen)


def read_soon(stream, count: int, seconds: float = 30.0) -> bytes:
    """At least ``count`` bytes from a process's pipe, or what came within ``seconds`` (never a hang)."""
    got, deadline = b"", time.monotonic() + seconds
    while len(got) < count and select.select([stream], [], [], max(deadline - time.monotonic(), 0))[0]:
        chunk = os.read(stream.fileno(), count - len(got))
        if not chunk:
            break
        got += chunk
    return got


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"minirnn {minirnn.__version__}\n"


def test_a_value_argparse_cannot_read_is_one_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sample", "x.npz", "--length", "many"])
    assert stop.value.code == 2
    assert one_line_error(capsys) == ("minirnn sample: error: argument --length: invalid int value: 'many' "
                                      "(see minirnn sample --help)\n")


def test_a_library_error_names_the_flag_the_user_typed(saved, capsys):
    assert cli.main(["sample", str(saved), "--top-k", "0"]) == 2
    assert one_line_error(capsys) == "minirnn: error: --top-k must be a positive integer, got 0\n"


def test_a_prime_outside_the_vocabulary_is_named_by_its_flag(saved, capsys):
    assert cli.main(["sample", str(saved), "--prime", "aZ"]) == 2
    assert one_line_error(capsys) == ("minirnn: error: --prime must use only the vocabulary's characters, got some "
                                      "not in the vocabulary: 'Z'\n")


@pytest.mark.parametrize("message, expected", [
    ("top_k must be a positive integer", "--top-k must be a positive integer"),
    ("the last val_fraction of the text", "the last --val-fraction of the text"),
    ("length must be an integer >= 0", "--length must be an integer >= 0"),
    ("text of 6 characters is too short", "text of 6 characters is too short"),
    ("vocab has 5 characters but the model predicts 6", "vocab has 5 characters but the model predicts 6"),
    ("No such file: '/data/top_k.txt'", "No such file: '/data/top_k.txt'"),
])
def test_argument_names_become_flags_only_where_they_name_the_argument(message, expected):
    flags = {"top_k": "--top-k", "val_fraction": "--val-fraction", "length": "--length", "text": "--text",
             "model": "--model"}
    assert cli.name_flags(message, flags) == expected


@pytest.mark.skipif(minirnn.gpu_available(), reason="a GPU is present")
@pytest.mark.parametrize("argv", [["bench", "--backend", "cupy", "--quick"], ["gradcheck", "--backend", "cupy"]])
def test_cupy_asked_for_by_flag_without_cupy_or_a_gpu_is_one_line(argv, capsys):
    assert cli.main(argv) == 2
    err = one_line_error(capsys)
    assert err.startswith("minirnn: error: --backend cupy: backend 'cupy' needs ") and not capsys.readouterr().out


@pytest.mark.skipif(minirnn.gpu_available(), reason="a GPU is present")
def test_cupy_asked_for_by_the_environment_is_one_line_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIRNN_BACKEND", "cupy")
    monkeypatch.setattr(backend, "_default", None)          # read the environment again, as a new process would
    assert cli.main(["train", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert one_line_error(capsys).startswith("minirnn: error: MINIRNN_BACKEND=cupy: backend 'cupy' needs ")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", list(cli.SUBCOMMANDS))
def test_help_is_plain_text_without_restructuredtext_marks(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    shown = capsys.readouterr().out
    assert "``" not in shown and ":func:" not in shown and ":class:" not in shown
    assert f"usage: minirnn {command}" in shown and f"minirnn {command}:" not in shown


def test_gradcheck_refuses_a_number_of_cases_it_could_not_finish(capsys):
    assert cli.main(["gradcheck", "--cases", "100000000000"]) == 2
    assert "--cases must be an integer in [1, 10,000], got 100000000000" in one_line_error(capsys)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv, message", [
    (["explain", "rnn", "--emb", "5"], "--emb does not apply to rnn; it sizes charloop, charrnn"),
    (["explain", "lstm", "--nonlinearity", "relu"], "--nonlinearity does not apply to lstm; it sizes rnn"),
    (["explain", "charloop", "--num-layers", "2"], "--num-layers does not apply to charloop"),
])
def test_explain_refuses_a_flag_that_sizes_nothing_in_the_model(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in one_line_error(capsys)


def test_explain_refuses_sizes_for_a_checkpoint_which_has_its_own(saved, capsys):
    assert cli.main(["explain", str(saved), "--hidden-size", "8"]) == 2
    assert "--hidden-size does not apply to a checkpoint, which has its own sizes" in one_line_error(capsys)


def test_explain_takes_the_flags_that_size_the_model(capsys):
    assert cli.main(["explain", "rnn", "--nonlinearity", "relu", "--hidden-size", "3", "--brief"]) == 0
    assert capsys.readouterr().out.startswith("RNN(input_size=10, hidden_size=3, num_layers=1")


def test_sample_streams_characters_and_ctrl_c_exits_130(saved):
    """An endless sample shows its first characters at once; Ctrl-C ends it with one line and 130."""
    process = minirnn_process("sample", str(saved), "--length", str(10 ** 12), "--prime", "ab",
                              stdout=subprocess.PIPE)
    try:
        assert len(read_soon(process.stdout, 50)) == 50             # read while the sample is still being drawn
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and err == b"minirnn: interrupted\n"


def test_a_closed_pipe_ends_the_command_quietly():
    """minirnn explain lstm | head -1: the reader is gone before the first line is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = minirnn_process("explain", "lstm", stdout=write_end)
    finally:
        os.close(write_end)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141 and err == b""


def closed_stream_process(redirection: str, *argv, cwd):
    """``minirnn ARGV`` started by a shell with ``>&-`` or ``2>&-``: the stream is closed before Python starts."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(["sh", "-c", f'exec "$@" {redirection}', "sh", sys.executable, "-m", "minirnn", *argv],
                          env=env, cwd=cwd, capture_output=True, timeout=300)


def test_a_command_whose_stdout_is_closed_runs_and_says_its_output_was_lost(tmp_path):
    done = closed_stream_process(">&-", "explain", "lstm", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (74, b"minirnn: error: stdout is closed, so the command's output "
                                                  b"was lost\n")


def test_train_with_stderr_closed_trains_and_writes_no_line_of_its_log_into_a_file(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("def f(x):\n    return x\n" * 60)
    done = closed_stream_process("2>&-", "train", "--text", str(text), "--out", "run", "--emb", "4", "--hidden",
                                 "8", "--batch", "2", "--bptt", "8", "--epochs", "0.2", "--no-progress", cwd=tmp_path)
    assert done.returncode == 74 and done.stdout.startswith(b"step ")     # its log is lost, its result is not
    run = tmp_path / "run"
    assert checkpoint.load(run / "last.npz").meta["run"]["step"] > 0
    assert all(json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines())
    assert not any(b"minirnn train" in path.read_bytes() for path in run.iterdir() if path.is_file())


# Each command in one child process, run with its stdout (1) or stderr (2) closed, as a shell's >&- or 2>&-
# leaves it: the descriptor closed and sys.stdout or sys.stderr None. Prints the exit statuses as JSON.
CLOSED_CHILD = r"""
import json, os, sys
from minirnn.tools import cli
statuses = []
for descriptor, argv in json.loads(sys.argv[1]):
    name, kept = ("stdout", "stderr")[descriptor - 1], os.dup(descriptor)
    os.close(descriptor)
    setattr(sys, name, None)
    try:
        statuses.append(cli.main(argv))
    finally:
        os.dup2(kept, descriptor)
        os.close(kept)
        setattr(sys, name, getattr(sys, "__" + name + "__"))
print(json.dumps(statuses))
"""


def test_every_command_runs_with_a_closed_stream_and_exits_74_when_it_lost_what_it_wrote(saved, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("abcde \n" * 200)
    commands = {          # argv -> (status with stdout closed, with stderr closed)
        ("sample", str(saved), "--length", "5"): (74, 0),
        ("explain", "gru", "--brief"): (74, 0),
        ("gradcheck", "--model", "rnncell", "--cases", "1"): (74, 0),
        ("draw", "rnn", "--figure", "cell", "--format", "svg", "--out", str(tmp_path / "figures"), "--force"): (74, 0),
        ("visualize", str(saved), "--string", "abc", "--out", str(tmp_path / "page.html"), "--force"): (74, 0),
        ("gradient-flow", "--checkpoint", str(saved), "--text", str(text), "--steps", "4", "--batch", "2", "--out",
         str(tmp_path / "flow.png"), "--force"): (0, 74),          # its one line goes to stderr
        ("explain", "gru", "--steps", "0"): (2, 2),                 # an error: its status says it
    }
    if importlib.util.find_spec("matplotlib") is None:       # without it, the two drawing commands are refused
        commands = {argv: (2, 2) if argv[0] in ("draw", "gradient-flow") else statuses
                    for argv, statuses in commands.items()}
    runs = [[descriptor, list(argv)] for argv in commands for descriptor in (1, 2)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", CLOSED_CHILD, json.dumps(runs)], env=env, capture_output=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout.splitlines()[-1]) == [status for statuses in commands.values() for status in statuses], \
        done.stderr.decode()
    assert b"Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_output_in_a_read_only_directory_is_refused(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="--out: .* cannot be written, the directory .* is read-only"):
            output.check_outputs({"--out": tmp_path / "page.html"}, force=False)
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be made")
def test_an_output_where_no_file_can_be_made_is_refused_before_any_work(capsys):
    assert cli.main(["gradient-flow", "--out", "/proc/flow.png"]) == 2     # with no training first
    assert one_line_error(capsys) == "minirnn: error: --out: /proc/flow.png cannot be written: No such file or directory\n"


def test_a_dangling_link_counts_as_an_existing_file(tmp_path):
    (tmp_path / "link.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(ValueError, match="already exists; pass --force to replace it"):
        output.check_outputs({"--out": tmp_path / "link.png"}, force=False)


@pytest.mark.parametrize("command", ["gradient-flow", "visualize"])
def test_an_out_that_is_not_a_file_is_refused_even_with_force(command, saved, tmp_path, capsys):
    fifo = tmp_path / "pipe"                   # a FIFO stands for any device: nothing is written to a real one
    os.mkfifo(fifo)
    argv = {"gradient-flow": ["gradient-flow", "--checkpoint", str(saved)],
            "visualize": ["visualize", str(saved), "--string", "abc"]}[command]
    assert cli.main([*argv, "--out", str(fifo), "--force"]) == 2
    assert one_line_error(capsys) == (f"minirnn: error: --out: {fifo} is not a regular file (a device, a FIFO or "
                                      "a socket); give the name of a file\n")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("old")

    def interrupted(file):
        file.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_a_file_that_cannot_be_created_is_named_not_its_temporary(tmp_path, monkeypatch):
    def refused(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}x1y2{suffix}")

    monkeypatch.setattr("tempfile.mkstemp", refused)
    with pytest.raises(PermissionError) as error:
        atomic_write(tmp_path / "page.html", lambda file: None)
    assert error.value.filename == str(tmp_path / "page.html")


def test_a_missing_file_is_named_with_its_reason_alone(tmp_path, capsys):
    missing = tmp_path / "nothing.npz"
    assert cli.main(["sample", str(missing)]) == 2
    assert one_line_error(capsys) == f"minirnn: error: {missing}: No such file or directory\n"


def test_sizes_too_large_for_memory_are_one_line_with_exit_2(capsys):
    # 4e12 x 10 float64 is 291 TiB: more than any address space, so the allocation fails at once.
    assert cli.main(["explain", "lstm", "--hidden-size", str(10**12)]) == 2
    assert one_line_error(capsys).startswith("minirnn: error: not enough memory for the sizes asked for (")
