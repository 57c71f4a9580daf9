"""minirnn bench: what it counts, and that a row runs end to end (tiny shapes, torch left out)."""
import argparse

import pytest

from minirnn.bench import bench


def parse(*argv):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_matmul_flops_count_the_six_products_of_a_layer_and_the_head():
    # forward x W_ih^T, h W_hh^T; backward dx, dW_ih, dh, dW_hh: 6 T B GH (I + H); the head 6 T B H V.
    assert bench.matmul_flops(4, T=2, B=3, I=5, H=7) == 6 * 2 * 3 * 28 * (5 + 7)
    assert bench.matmul_flops(1, T=2, B=3, I=5, H=7, V=11) == 6 * 2 * 3 * 7 * 12 + 6 * 2 * 3 * 7 * 11


@pytest.mark.parametrize("mode", ["fwd+bwd", "train"])
def test_row_reports_time_throughput_and_memory(mode):
    row = bench.bench_row("lstm", (3, 2, 5, 4), mode, "numpy", torch=None, adam=bench._import_adam(),
                          repeats=1, settle=0.0)
    assert row["available"] and row["ms"] > 0 and row["peak_mib"] > 0
    assert row["tokens_per_s"] == pytest.approx(3 * 2 / (row["ms"] / 1e3))
    assert "speedup" not in row


def test_unknown_cell_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="rnn,lstm,gru"):
        bench.run(parse("--cells", "lstm,transformer"))
