"""minirnn bench: what it counts, its workers' environment, and a row end to end (tiny shapes, torch left out)."""
import argparse
import json
import os

import pytest

from minirnn.tools import cli
from minirnn.tools.bench import bench, worker


def parse(*argv):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    cli.add_threads_argument(parser, in_workers=True)
    return parser.parse_args(list(argv))


def test_matmul_flops_count_the_six_products_of_a_layer_and_the_head():
    # forward x W_ih^T, h W_hh^T; backward dx, dW_ih, dh, dW_hh: 6 T B GH (I + H); the head 6 T B H V.
    assert bench.matmul_flops(4, T=2, B=3, I=5, H=7) == 6 * 2 * 3 * 28 * (5 + 7)
    assert bench.matmul_flops(1, T=2, B=3, I=5, H=7, V=11) == 6 * 2 * 3 * 7 * 12 + 6 * 2 * 3 * 7 * 11


def test_workers_run_without_the_openblas_pins_and_the_caller_keeps_them(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    env = bench.worker_environment(threads=2)
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "2"
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"


@pytest.mark.parametrize("mode", ["fwd+bwd", "train", "char"])
def test_row_reports_time_throughput_step_products_and_memory(mode):
    spec = dict(task="row", backend="numpy", repeats=1, threads=1, clip=5.0 if mode == "char" else 0.0,
                cell="lstm", mode=mode, T=3, B=2, I=5, H=4, V=6)
    env = bench.worker_environment(threads=1)
    row = bench.bench_row(spec, rounds=1, torch=False, run=lambda s: bench.run_worker(s, env))
    assert row["ms"] > 0 and row["peak_mib"] > 0 and 0 < row["step_ms"]
    assert row["tokens_per_s"] == pytest.approx(3 * 2 / (row["ms"] / 1e3))
    assert row["step_gflops"] == pytest.approx(4 * 3 * 2 * 16 * 4 / (row["step_ms"] / 1e3) / 1e9)
    assert "speedup" not in row


def test_the_header_names_the_blas_and_its_kernel_or_how_to_see_it():
    info = worker.blas_info()
    assert info["blas"] and ("kernels" in info["kernel"] or "pip install threadpoolctl" in info["kernel"])


def test_unknown_cell_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="rnn,lstm,gru"):
        bench.run(parse("--cells", "lstm,transformer"))


def test_help_is_plain_text(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "alternating rounds" in text and "``" not in text and ":func:" not in text


def test_show_prints_the_table_of_saved_results_and_times_nothing(tmp_path, capsys):
    row = dict(cell="rnn", mode="fwd+bwd", T=2, B=3, I=4, H=5, V=4, clip=0.0, ms=1.5, tokens_per_s=4000.0,
               gflops=2.0, step_ms=0.5, step_gflops=3.0, peak_mib=0.1, matmul_fraction=0.01, torch_ms=3.0,
               speedup=2.0)
    info = dict(date="2026-01-01T00:00:00", processor="a CPU", cores=2, backend="numpy", dtype="float32",
                python="3.11", numpy="2.0", torch="2.0", threads=2, blas="openblas", kernel="some kernels",
                unset=[], matmul_gflops=100.0, rounds=1, repeats=1)
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps(dict(info=info, rows=[row], summary=bench.summarize([row]))))
    assert bench.run(parse("--show", str(saved))) == 0
    printed = capsys.readouterr().out
    assert "rnn   fwd+bwd     2    3     4     5      1.50" in printed and "2.00x" in printed
    assert "rnn fwd+bwd   median 2.00x, lowest 2.00x" in printed


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"rows": []}'])
def test_show_refuses_a_file_that_is_not_saved_results_naming_the_flag(tmp_path, content):
    saved = tmp_path / "bench.json"
    saved.write_text(content)
    with pytest.raises(ValueError, match=r"--show .*bench\.json: "):
        bench.run(parse("--show", str(saved)))
