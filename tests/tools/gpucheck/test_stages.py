"""scripts/gpu_check.py and its pieces (minirnn.tools.gpucheck): what can be shown without a GPU.

The kernel comparison runs here on the CuPy stand-in with the cells' NumPy lines in the
kernels' place, to show it finds a wrong kernel; with a GPU it holds the real kernels.
"""
import functools
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest
from strict_backend import plugged_in

import minirnn
from minirnn.cell_kinds import CELL_KINDS
from minirnn.gates import GRU_GATE_MATH, LSTM_GATE_MATH
from minirnn.gradcheck import MODELS, Case, check_case, draw_cases
from minirnn.tools.gpucheck import fused
from minirnn.tools.gpucheck import stages

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(minirnn.gpu_available(), reason="a GPU is present")
def test_without_a_gpu_the_check_says_so_in_one_line_and_exits_2():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check.py")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_check: no GPU here, nothing checked: backend 'cupy' needs")


@pytest.mark.parametrize("name", CELL_KINDS)
def test_kernel_comparison_finds_no_difference_between_a_cells_lines_and_themselves(name):
    gate_math = CELL_KINDS[name].gate_math
    with plugged_in() as strict:
        assert fused.compare_cell(gate_math, strict, functions=(gate_math.forward, gate_math.prepare_backward,
                                                                   gate_math.backward)) == \
            {"forward": 0.0, "backward": 0.0}


def test_kernel_comparison_finds_a_wrong_gradient_and_an_unwritten_output():
    def backward_off_by_a_little(*args):
        direct = GRU_GATE_MATH.backward(*args)
        args[6][0, 0] += 1e-9                              # d_gates
        return direct

    def forward_forgetting_tanh_c(gates, hh, prev, out, saved, scratch):
        LSTM_GATE_MATH.forward(gates, hh, prev, out, saved, scratch)
        saved[...] = numpy.nan                             # as if the kernel never wrote it

    with plugged_in() as strict:
        off = fused.compare_cell(GRU_GATE_MATH, strict, functions=(GRU_GATE_MATH.forward, GRU_GATE_MATH.prepare_backward,
                                                                   backward_off_by_a_little))
        unwritten = fused.compare_cell(LSTM_GATE_MATH, strict, functions=(forward_forgetting_tanh_c,
                                                                          LSTM_GATE_MATH.prepare_backward,
                                                                          LSTM_GATE_MATH.backward))
    assert off["forward"] == 0.0 and fused.TOLERANCE < off["backward"] < 2e-9
    assert unwritten["forward"] == numpy.inf


@pytest.mark.skipif(not minirnn.gpu_available(), reason="CuPy with a GPU is not available")
@pytest.mark.parametrize("name", CELL_KINDS)
def test_fused_kernels_match_their_cells_numpy_lines(name):
    import cupy
    errors = fused.compare_cell(CELL_KINDS[name].gate_math, cupy)
    assert max(errors.values()) <= fused.TOLERANCE, errors


def test_gradient_check_stage_that_runs_out_of_time_fails_and_says_what_was_left():
    result = stages.gradcheck("numpy", deadline=time.perf_counter())
    every_case = sum(len(draw_cases(model, stages.corner_count(model), seed=0)) for model in MODELS)
    assert result["passed"] is False
    assert result["detail"].startswith("0 corner cases")
    assert f"{every_case} not reached before the deadline" in result["detail"]


def test_gradient_check_stage_counts_a_case_whose_gradients_stay_zero_as_failed(monkeypatch):
    dead = Case("rnncell", dict(B=1, I=2, H=1, h0=False, bias=True, nonlinearity="relu"))   # a dead unit at seed 0
    monkeypatch.setattr(stages, "draw_cases", lambda model, count, seed: [dead] if model == "rnncell" else [])
    monkeypatch.setattr(stages, "check_case", functools.partial(check_case, redraws=0))
    result = stages.gradcheck("numpy", deadline=time.perf_counter() + 60)
    assert result["passed"] is False and "FAIL rnncell B=1 I=2 H=1 nonlinearity=relu" in result["detail"]


def test_benchmark_rows_carry_the_targets_that_apply_to_them():
    def row(mode, T, H, ms, gflops):
        return dict(cell="lstm", mode=mode, T=T, B=16, I=H, H=H, ms=ms, gflops=gflops, available=True)
    rate = 1000e9
    large = stages._with_targets(row("fwd+bwd", 100, 1024, 5.0, 600.0), rate)
    small = stages._with_targets(row("fwd+bwd", 25, 100, 1.5, 10.0), rate)
    middle = stages._with_targets(row("fwd+bwd", 35, 650, 3.0, 300.0), rate)
    training = stages._with_targets(row("train", 25, 100, 1.0, 10.0), rate)
    assert large["target"] == ("% mm >= 50", True) and large["matmul_fraction"] == pytest.approx(0.6)
    assert small["target"] == ("us/step <= 50", False) and small["us_per_step"] == pytest.approx(60.0)
    assert "target" not in middle and "target" not in training


def test_pytest_summary_gives_the_counts_and_the_tests_that_ran_on_cupy():
    output = "\n".join(["PASSED tests/library/test_backend.py::test_a_model_runs[cupy]",
                        "PASSED tests/library/test_backend.py::test_a_model_runs[numpy]",
                        "SKIPPED [1] tests/test_x.py:3: reason",
                        "======= 612 passed, 3 skipped in 85.20s (0:01:25) ======="])
    summary = stages.summarize_pytest(output)
    assert summary["counts"] == {"passed": 612, "skipped": 3} and summary["on_cupy"] == 1
    assert summary["line"] == "612 passed, 3 skipped in 85.20s (0:01:25)"


def test_table_shows_every_check_the_benchmark_rows_and_what_failed():
    bench_row = stages._with_targets(dict(cell="gru", mode="fwd+bwd", T=25, B=1, I=65, H=100, ms=1.0, gflops=5.0,
                                         torch_ms=2.0, speedup=2.0), 1000e9)
    results = [stages.Result("nvrtc", True, "16 of 16"), stages.Result("gradcheck", False, "1 failed"),
               stages.Result("bench", None, "1 row", rows=[bench_row])]
    table = stages.format_table("HEADER", results, 12.0)
    assert "nvrtc      ok     16 of 16" in table and "gradcheck  FAIL   1 failed" in table
    assert "    2.00x  us/step <= 50: met" in table
    assert table.endswith("failed: gradcheck; 12 s in all")


def test_the_benchmark_stage_times_minirnn_rows_through_the_benchmarks_worker():
    grid = ((3, 2, 5, 4), (2, 1, 3, 1100))
    result = stages.benchmark("numpy", time.perf_counter() + 600, grid=grid, repeats=1, use_torch=False)
    rows = result["rows"]
    assert [(r["cell"], r["mode"], r["H"]) for r in rows[:2]] == [("rnn", "fwd+bwd", 4), ("rnn", "fwd+bwd", 1100)]
    assert len(rows) == 2 * 3 * len(grid) and all(r["ms"] > 0 and r["step_ms"] > 0 for r in rows)
    assert rows[0]["target"][0] == "us/step <= 50" and rows[1]["target"][0] == "% mm >= 50"
    assert "torch with CUDA not available" in result["detail"]
    assert "rnn   fwd+bwd     3    2     5     4" in stages.format_table("HEADER", [result], 1.0)


def test_the_benchmark_stage_stops_at_its_deadline_and_says_how_many_rows_it_left():
    result = stages.benchmark("numpy", time.perf_counter(), grid=((3, 2, 5, 4),), repeats=1, use_torch=False)
    assert result["rows"] == [] and "6 rows not timed before the deadline" in result["detail"]


def test_a_failing_suite_keeps_the_failures_text_and_not_the_passes():
    output = "\n".join(["PASSED tests/test_a.py::test_one", "=== FAILURES ===", "___ test_two ___",
                        "assert 1 == 2", "=== short test summary info ===", "FAILED tests/test_a.py::test_two",
                        "=== 1 failed, 1 passed in 1.00s ==="])
    assert stages._failures_text(output) == "=== FAILURES ===\n___ test_two ___\nassert 1 == 2"
    assert stages._failures_text("=== 2 passed in 1.00s ===") == ""
