"""scripts/audit.py, the hostile audit: its judge tells a clean refusal from a traceback, a silent run, lost bytes
and a replaced file; its threads surface runs clean (the other surfaces take minutes: run the script)."""
import os

import pytest


@pytest.fixture(scope="module")
def audit(script):
    return script("audit")


def test_a_refusal_naming_the_argument_is_ok_and_anything_else_is_not(audit):
    def bad_lr():
        raise ValueError("lr must be a finite number > 0, got -1")
    assert audit.refused(bad_lr, "lr")[0] == audit.OK
    assert audit.refused(bad_lr, "momentum")[0] == audit.TRACEBACK          # refused, but not by its name
    assert audit.refused(lambda: {}["x"])[0] == audit.TRACEBACK             # a KeyError: no documented error
    assert audit.refused(lambda: 0.5)[0] == audit.SILENT                    # no error at all


def test_a_command_is_judged_by_its_status_and_its_error(audit):
    assert audit.judged(2, "", "minirnn: error: --batch must be a positive integer, got 0\n", expect=2)[0] == audit.OK
    assert audit.judged(1, "", "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n", expect=2)[0] \
        == audit.TRACEBACK
    assert audit.judged(0, "", "", expect=2)[0] == audit.SILENT
    assert audit.judged(None, "", "", expect=0)[0] == audit.SILENT                  # still running at its limit


def test_a_fifo_made_a_file_is_replaced_and_new_bytes_are_lost(audit, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    before = audit.state_of(tmp_path / "pipe")
    (tmp_path / "pipe").unlink()
    (tmp_path / "pipe").write_bytes(b"x")
    assert audit.kept(tmp_path / "pipe", before)[0] == audit.REPLACED
    before = audit.state_of(tmp_path / "pipe")
    (tmp_path / "pipe").write_bytes(b"y")
    assert audit.kept(tmp_path / "pipe", before)[0] == audit.LOST


def test_one_model_in_several_threads_passes_every_probe(audit, capsys):
    assert audit.main(["--surface", "threads"]) == 0
    assert "- threads 34 / 0 / 0 / 0 / 0" in capsys.readouterr().out
