"""--threads N: one definition, on every subcommand; it sets the BLAS's thread count before the command runs,
except in bench and course, which hand it to their worker processes."""
import sys

import pytest

from minirnn.tools import cli


@pytest.fixture
def calls(monkeypatch):
    """The counts the command line passed to set_num_threads."""
    calls = []
    monkeypatch.setattr(cli, "set_num_threads", calls.append)
    return calls


def test_every_subcommand_has_the_one_threads_flag():
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command").choices
    assert sorted(subparsers) == sorted(cli.SUBCOMMANDS)
    helps = {name: next(a for a in sub._actions if "--threads" in a.option_strings).help
             for name, sub in subparsers.items()}
    in_workers = {name for name in helps if "in each worker process" in helps[name]}
    assert in_workers == {"bench", "course"}                         # the two whose work runs in workers
    assert len({helps[name] for name in helps if name not in in_workers}) == 1
    assert all("torch" not in helps[name] and "threadpoolctl" in helps[name] for name in helps if name not in in_workers)


def test_threads_are_set_before_a_command_runs(calls, capsys):
    assert cli.main(["explain", "rnn", "--brief", "--threads", "3"]) == 0
    assert calls == [3]


def test_without_the_flag_the_blas_keeps_its_own_count(calls, capsys):
    assert cli.main(["explain", "rnn", "--brief"]) == 0
    assert calls == []


def test_bench_hands_its_threads_to_its_workers_and_sets_none_here(calls, monkeypatch):
    seen = []
    monkeypatch.setattr("minirnn.tools.cli.bench.run", lambda args: seen.append(args.threads) or 0)
    assert cli.main(["bench", "--threads", "2"]) == 0
    assert seen == [2] and calls == []


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_thread_count_that_is_not_a_whole_number_above_zero_is_one_line_and_exit_2(value, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["explain", "rnn", "--threads", value])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert f"argument --threads: must be a whole number >= 1, got '{value}'" in err


def test_threads_without_threadpoolctl_is_one_line_saying_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    assert cli.main(["explain", "rnn", "--brief", "--threads", "1"]) == 2
    assert capsys.readouterr().err == ("minirnn: error: setting the number of threads needs threadpoolctl, which is "
                                       "not installed: pip install threadpoolctl (or minirnn[threads])\n")
