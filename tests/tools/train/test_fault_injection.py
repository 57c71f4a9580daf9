"""A training process killed (SIGKILL) inside its checkpoint writes leaves a consistent run directory, and resumes
to the files of a run that was never killed: a few kills of scripts/fault_injection.py, which makes many."""
import pytest


@pytest.fixture(scope="module")
def faults(script):
    return script("fault_injection")


def test_kills_inside_checkpoint_writes_leave_a_consistent_directory_that_resumes_exactly(faults, tmp_path):
    text = faults.make_text(tmp_path / "text.txt")
    expected = tmp_path / "expected"
    operations, seconds = faults.reference(text, expected)
    first_link = operations.index("link:_keep_previous_best")            # the second improving evaluation
    best_written = operations.index("replace:atomic_write", first_link)
    metrics_written = operations.index("write:_append_metrics", best_written)
    kills = [(1 + operations.index("replace:atomic_write"), "before"),     # inside the step-0 commit
             (1 + first_link, "after"),                                  # the previous best kept, the new not yet
             (1 + best_written, "after"),                                # the new best written ahead of last.npz
             (1 + metrics_written, "after"),                             # and its metrics line too
             (1 + operations.index("chmod:atomic_write", metrics_written), "after")]   # a half-made temporary
    found = set()
    for kill_at, when in kills:
        killed, checked, problems, situations = faults.kill_and_check(text, expected, tmp_path, "operation",
                                                                       kill_at, when)
        assert killed and not problems, (kill_at, when, problems)
        found |= situations
    killed, checked, problems, situations = faults.kill_and_check(text, expected, tmp_path, "random",
                                                                   delay=seconds / 2)
    assert not problems
    assert found == {"no last.npz", "a previous best.npz kept", "best.npz ahead of last.npz",
                     "metrics.jsonl ahead of last.npz", "a temporary file"}
