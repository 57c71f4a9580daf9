"""minirnn course: the table's facts, each row's examples, the training loop, the two libraries' models agreeing,
the results file and its table, and the quick table end to end."""
import json
import math

import numpy
import pytest

from minirnn.data import default_corpus
from minirnn.tools import cli
from minirnn.tools.course import examples, results, runner
from minirnn.tools.course.fit import fit, learning_rate
from minirnn.tools.course.minirnn_side import MinirnnSide
from minirnn.tools.course.table import ROWS, Phase, Row, schedule_text

TEXT = default_corpus(60_000)         # long enough for every row's examples, streams of 64 included


# -- the table ---------------------------------------------------------------------------------------
def test_the_table_has_the_notebooks_nine_rows_in_order():
    assert list(ROWS) == list(range(1, 10))
    assert [ROWS[n].epochs for n in ROWS] == [2, 2, 2, 6, 5, 8, 8, 9, 33]
    assert [row.stateful for row in ROWS.values()] == [False] * 6 + [True] * 3


def test_schedules_read_as_the_issue_writes_them():
    assert schedule_text(ROWS[4]) == "1e-3 x4, 1e-4 x2"
    assert schedule_text(ROWS[9]) == "1e-2 x2, 1e-2 annealed x31"


def test_the_annealed_phase_restarts_after_cycles_of_1_2_4_8_16_epochs():
    row, epoch = ROWS[9], 10
    rates = [learning_rate(row, 1, step, epoch) for step in range(31 * epoch)]
    restarts = [step for step, lr in enumerate(rates) if lr == 1e-2]
    assert restarts == [0, 10, 30, 70, 150]
    assert rates[5] == pytest.approx(1e-2 * (1 + math.cos(math.pi * 5 / 10)) / 2)
    assert rates[30 + 20] == pytest.approx(1e-2 / 2)                 # half way through the 4-epoch cycle
    assert learning_rate(row, 0, 123, epoch) == 1e-2                # the first phase is constant


def test_the_annealed_rates_equal_torchs_cosine_annealing_with_warm_restarts():
    torch = pytest.importorskip("torch", reason="torch is not installed: its schedule is not compared")
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=7, T_mult=2)
    theirs = []
    for _ in range(31 * 7):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    ours = [learning_rate(ROWS[9], 1, step, 7) for step in range(31 * 7)]
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


# -- each row's examples ----------------------------------------------------------------------------------
def test_windows_rows_hold_out_a_random_fifth_and_see_the_same_batches_every_time():
    row = ROWS[2]
    first, again = examples.prepare(row, TEXT, seed=0, quick=False), examples.prepare(row, TEXT, seed=0, quick=False)
    windows = len(TEXT) - 8
    assert len(first.val_inputs) == int(windows * 0.2) and len(first.train_inputs) == windows - int(windows * 0.2)
    x, y = next(first.epoch(3))
    x2, y2 = next(again.epoch(3))
    assert x.shape == (8, 512) and y.shape == (512,) and (x == x2).all() and (y == y2).all()
    assert not (next(first.epoch(4))[0] == x).all()                  # each epoch its own order


def test_row_1_trains_on_every_3rd_window_of_3_with_no_validation():
    prepared = examples.prepare(ROWS[1], TEXT, seed=0, quick=False)
    ids = prepared.vocab.encode(TEXT)
    assert len(prepared.train_inputs) == (len(TEXT) - 1) // 3 and len(prepared.val_inputs) == 0
    assert prepared.train_inputs[1].tolist() == ids[3:6].tolist() and prepared.train_targets[1] == ids[6]
    assert list(prepared.validation()) == []


def test_pieces_predict_every_step():
    prepared = examples.prepare(ROWS[5], TEXT, seed=0, quick=False)
    x, y = next(prepared.epoch(0))
    assert x.shape == y.shape == (8, 512)
    assert (x[1:] == y[:-1]).all()                                     # each target is the next input


def test_stateful_rows_lowercase_the_text_and_keep_rare_characters_as_one_symbol():
    prepared = examples.prepare(ROWS[7], TEXT, seed=0, quick=False)
    vocab = prepared.vocab
    assert vocab.lower and vocab.pad_id == 0 and vocab.unknown is not None
    assert not any(c.isupper() for c in vocab.chars)
    train_text = TEXT[:len(TEXT) - int(len(TEXT) * 0.2)].lower()
    assert {c for c in vocab.chars if train_text.count(c) < 3} == {"\0", vocab.unknown}
    x, y = next(prepared.epoch(0))
    assert x.shape == (8, 64) and (x[1:] == y[:-1]).all()


def test_the_nietzsche_stateful_vocabulary_has_the_notebooks_56_symbols(nietzsche):
    assert len(examples.vocabulary(ROWS[7], nietzsche)) == 56
    assert len(examples.vocabulary(ROWS[2], nietzsche)) == 85


@pytest.mark.parametrize("number", [2, 9])
def test_the_quick_setting_trains_about_a_hundred_batches_per_row(number):
    row = ROWS[number]
    prepared = examples.prepare(row, TEXT, seed=0, quick=True)
    assert prepared.batches_per_epoch * row.epochs <= examples.QUICK_BATCHES
    assert prepared.batches_per_epoch * row.epochs > examples.QUICK_BATCHES * 0.9
    assert prepared.val_batches <= examples.QUICK_VAL_BATCHES


def test_quick_stateful_epochs_go_on_through_the_text():
    prepared = examples.prepare(ROWS[9], TEXT, seed=0, quick=True)
    first, second = list(prepared.epoch(0)), list(prepared.epoch(1))
    assert (second[0][0] == prepared.train[prepared.batches_per_epoch][0]).all()
    assert not (first[0][0] == second[0][0]).all()


# -- the training loop ------------------------------------------------------------------------------------
class Recording:
    """A side that records what the loop asks of it and answers with known losses."""

    def __init__(self, losses):
        self.losses, self.calls = iter(losses), []

    def start_epoch(self):
        self.calls.append("start")

    def train_step(self, x, y, lr):
        self.calls.append(lr)
        return next(self.losses)

    def evaluate(self, batches):
        self.calls.append("evaluate")
        targets = sum(y.size for _, y in batches)
        return 1.5 * targets, targets


class TwoBatches:
    batches_per_epoch = 2

    def epoch(self, number):
        return [(numpy.zeros((3, 2), int), numpy.zeros(2, int))] * 2

    def validation(self):
        return iter([(None, numpy.zeros(4))])


def test_fit_follows_the_schedule_and_reports_the_debiased_average_each_epoch():
    row = Row(0, "test", "", "charloop", "windows", (Phase(0.1, 1), Phase(0.01, 2)), (0, 0))
    side = Recording([2.0, 4.0, 1.0, 1.0, 3.0, 3.0])
    result = fit(side, TwoBatches(), row)
    assert side.calls == ["start", 0.1, 0.1, "evaluate", "start", 0.01, 0.01, "evaluate",
                          "start", 0.01, 0.01, "evaluate"]
    first = (0.98 * 0.02 * 2.0 + 0.02 * 4.0) / (1 - 0.98 ** 2)      # restarted with each phase
    assert result["epochs"][0]["train"] == pytest.approx(first)
    assert [e["val"] for e in result["epochs"]] == [1.5, 1.5, 1.5]
    assert result["phase_ends"] == [1, 3] and result["seconds"] >= result["epochs"][-1]["seconds"] > 0


def test_fit_stops_at_a_non_finite_loss_naming_where():
    row = Row(5, "test", "", "charloop", "windows", (Phase(0.1, 1),), (0, 0))
    with pytest.raises(FloatingPointError, match="row 5: the training loss became nan in epoch 1, step 2"):
        fit(Recording([1.0, math.nan]), TwoBatches(), row)


# -- the two libraries agree ------------------------------------------------------------------------------
@pytest.mark.parametrize("number", list(ROWS))
def test_torchs_model_of_each_row_takes_the_same_steps_as_minirnns(number):
    pytest.importorskip("torch", reason="torch is not installed: its models are not compared")
    from minirnn.tools.course.torch_side import TorchSide
    row = ROWS[number]
    prepared = examples.prepare(row, TEXT, seed=0, quick=True)
    ours, theirs = MinirnnSide(row, len(prepared.vocab), seed=3), TorchSide(row, len(prepared.vocab), seed=3,
                                                                          threads=1)
    for side in (ours, theirs):
        side.start_epoch()
        side.model.eval()                             # dropout off: the two draw different masks
    batches = list(prepared.epoch(0))[:2]
    for x, y in batches:                              # a stateful row carries its state into the second
        assert ours.train_step(x, y, 1e-3) == pytest.approx(theirs.train_step(x, y, 1e-3), rel=2e-5)
    assert ours.evaluate(batches)[0] == pytest.approx(theirs.evaluate(batches)[0], rel=2e-5)


# -- the results file and the table ---------------------------------------------------------------------
def result(seconds, *values):
    epochs = [dict(epoch=i + 1, lr=1e-3, train=v + 0.1, val=v, seconds=seconds) for i, v in enumerate(values)]
    return dict(seconds=seconds, epochs=epochs, phase_ends=[1, len(values)], batches_per_epoch=1, val_batches=1)


MACHINE = dict(processor="CPU", cores=2, python="3.11", numpy="2.0", torch="2.5", date="2026-01-01T00:00:00")


def test_the_table_shows_each_librarys_losses_times_and_their_ratio():
    recorded = results.begin(dict(quick=False, seed=0, threads=2), MACHINE)
    recorded["rows"]["2"] = {"minirnn": result(40.0, 2.0, 1.9, 1.75), "torch": result(50.0, 2.1, 1.8, 1.76)}
    cells = results.table_rows(recorded)[1]
    assert cells["minirnn"] == "2.000 → 1.750" and cells["torch"] == "2.100 → 1.760"
    assert (cells["minirnn s"], cells["torch s"], cells["torch/minirnn"]) == ("40.0", "50.0", "1.25")
    assert cells["notebook"] == "1.993 → 1.751"
    assert results.table_rows(recorded)[0]["notebook"] == "2.096 → 1.845 (train)"
    assert results.table_rows(recorded)[3]["minirnn"] == "—"


def test_row_1_is_measured_by_its_training_loss():
    assert results.losses(ROWS[1], result(1.0, 2.0, 1.5)) == (2.1, 1.6)


def test_a_quick_table_says_its_numbers_are_interim_in_the_file_and_the_table():
    quick = results.begin(dict(quick=True, seed=0, threads=2), MACHINE)
    full = results.begin(dict(quick=False, seed=0, threads=2), MACHINE)
    assert quick["note"].startswith("interim: the quick setting")
    assert full["note"] == "the notebook's schedules, in full"
    assert "**Interim numbers, the quick setting:**" in results.markdown(quick)
    assert "Interim" not in results.markdown(full)


def test_a_file_that_is_not_a_results_file_is_refused(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"rows": {}}))
    with pytest.raises(ValueError, match="is not a course results file"):
        results.load(tmp_path / "r.json")


def test_a_rerun_skips_the_rows_recorded(tmp_path, monkeypatch, nietzsche):
    path = tmp_path / "r.json"
    recorded = results.begin(dict(quick=True, seed=0, threads=1), MACHINE)
    recorded["rows"]["7"] = {"minirnn": result(1.0, 2.0, 1.9)}
    results.save(path, recorded)
    monkeypatch.setattr(runner, "run_worker", lambda *a: pytest.fail("a recorded row ran again"))
    said = []
    runner.run_table([7], path, quick=True, threads=1, use_torch=False, download=False, log=said.append)
    assert said == [f"row 7 minirnn: recorded in {path}, skipped (--redo runs it again)"]


def test_a_rerun_with_other_settings_is_refused(tmp_path, nietzsche):
    path = tmp_path / "r.json"
    results.save(path, results.begin(dict(quick=True, seed=0, threads=1), MACHINE))
    with pytest.raises(ValueError, match="holds rows run with .*'quick': True.* not .*'quick': False"):
        runner.run_table([7], path, quick=False, threads=1, use_torch=False, download=False)


def test_a_failing_worker_is_one_line_naming_the_row(tmp_path):
    spec = dict(row=7, library="minirnn", corpus=str(tmp_path / "missing.txt"), seed=0, quick=True, threads=1)
    with pytest.raises(ChildProcessError, match=r"^row 7 minirnn failed \(exit status 1\): FileNotFoundError: "):
        runner.run_worker(spec, runner.worker_environment(1), print)


def test_unknown_rows_are_refused_by_number(capsys):
    assert cli.main(["course", "3", "12", "0", "--markdown"]) == 2
    assert capsys.readouterr().err == "minirnn: error: rows must be among 1..9, got 0, 12\n"


# -- end to end ---------------------------------------------------------------------------------------------
def test_the_quick_table_runs_every_row_in_minirnn_and_records_each(tmp_path, nietzsche, capsys):
    """torch's side is compared step by step above and run end to end below, on one row, to keep the suite short."""
    path = tmp_path / "quick.json"
    rows = [str(n) for n in ROWS]
    assert cli.main(["course", "--quick", "--no-torch", "--threads", "1", "--results", str(path),
                     "--no-download"]) == 0
    recorded = results.load(path)
    assert {n: set(r) for n, r in recorded["rows"].items()} == {n: {"minirnn"} for n in rows}
    assert all(math.isfinite(r["minirnn"]["epochs"][-1]["train"]) for r in recorded["rows"].values())
    assert capsys.readouterr().out == results.text(recorded) + "\n"
    assert cli.main(["course", "--markdown", "--results", str(path)]) == 0
    assert capsys.readouterr().out == results.markdown(recorded)


def test_torchs_worker_records_a_row_beside_minirnns(tmp_path, nietzsche):
    pytest.importorskip("torch", reason="torch is not installed: the table is minirnn's alone")
    path = tmp_path / "quick.json"
    assert cli.main(["course", "7", "--quick", "--threads", "1", "--results", str(path), "--no-download"]) == 0
    row = results.load(path)["rows"]["7"]
    assert results.losses(ROWS[7], row["torch"]) == pytest.approx(results.losses(ROWS[7], row["minirnn"]), rel=1e-3)


def test_without_the_corpus_the_command_says_where_to_put_it_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIRNN_DATA", str(tmp_path))
    assert cli.main(["course", "7", "--quick", "--no-download", "--results", str(tmp_path / "r.json")]) == 2
    assert capsys.readouterr().err == (
        f"minirnn: error: the nietzsche corpus is not in {tmp_path}: download "
        f"https://s3.amazonaws.com/text-datasets/nietzsche.txt to {tmp_path / 'nietzsche.txt'} "
        "(or set MINIRNN_DATA to the directory that holds nietzsche.txt)\n")
    assert not (tmp_path / "r.json").exists()


def test_the_download_shows_one_line_then_its_progress(capsys):
    said = []
    progress = runner.download_progress(said.append)
    progress(300_000, 600_901)
    progress(600_901, 600_901)
    assert said == ["downloading the nietzsche corpus"]
