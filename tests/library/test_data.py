"""minirnn.data: reading text, the default corpus, the vocabulary, the split and the batchers."""
import os
import signal

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirnn import data


def test_read_text_refuses_an_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        data.read_text(path)


def test_read_text_refuses_non_utf8_naming_the_byte(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not UTF-8: byte 0xe9 at offset 3"):
        data.read_text(path)


def test_read_text_reads_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("h\u00e9llo \u2603\n", encoding="utf-8")
    assert data.read_text(path) == "h\u00e9llo \u2603\n"


def test_default_corpus_is_deterministic_and_sized():
    first = data.default_corpus(50_000)
    assert first == data.default_corpus(50_000)
    assert 49_990 <= len(first.encode("utf-8")) <= 50_000
    assert first.startswith(data.stdlib_sources()[0].read_text(encoding="utf-8")[:100])


def test_vocab_round_trips_text_and_json():
    text = "def f(x):\n    return x\n"
    vocab = data.Vocab.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert data.Vocab.from_json(vocab.to_json()).chars == vocab.chars


def test_vocab_names_unknown_characters():
    with pytest.raises(ValueError, match="not in the vocabulary: 'z'"):
        data.Vocab.from_text("abc").encode("abz")


def test_split_keeps_the_last_fraction_for_validation():
    ids = numpy.arange(100)
    train, val = data.split(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


def test_split_too_short_says_the_minimum():
    with pytest.raises(ValueError, match="at least 20 characters"):
        data.split(numpy.arange(10), 0.1)


def test_streams_continue_across_batches():
    ids = numpy.arange(1000)
    batcher = data.StreamBatcher(ids, batch=4, bptt=7)
    chunks = [batcher[k] for k in range(len(batcher))]
    inputs = numpy.concatenate([x for x, _ in chunks])        # (L, B): each column one stream
    targets = numpy.concatenate([y for _, y in chunks])
    L = batcher.stream_length
    for b in range(4):
        assert inputs[:, b].tolist() == list(range(b * L, (b + 1) * L))   # row b continues where it stopped
    assert (targets == inputs + 1).all()                      # the target is the next character
    assert batcher.tokens == 4 * L and sum(y.size for _, y in chunks) == 4 * L


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 300), batch=st.integers(1, 9), bptt=st.integers(1, 12))
def test_streams_cover_text_in_order_with_next_character_targets(n, batch, bptt):
    ids = numpy.arange(n)
    if n < batch * bptt + 1:
        with pytest.raises(ValueError, match=f"at least {batch * bptt + 1} characters"):
            data.StreamBatcher(ids, batch, bptt)
        return
    batcher = data.StreamBatcher(ids, batch, bptt)
    inputs = numpy.concatenate([batcher[k][0] for k in range(len(batcher))])
    targets = numpy.concatenate([batcher[k][1] for k in range(len(batcher))])
    assert inputs.T.reshape(-1).tolist() == list(range(batch * batcher.stream_length))
    assert (targets == inputs + 1).all()


def test_short_validation_text_uses_as_many_streams_as_fit():
    streams = data.validation_streams(numpy.arange(50), batch=64, bptt=16)
    assert streams.batch == 3 and streams.bptt == 16          # (50 - 1) // 16 = 3 streams of a whole chunk
    tiny = data.validation_streams(numpy.arange(5), batch=64, bptt=16)
    assert tiny.batch == 1 and tiny.tokens == 4               # one shorter stream


def test_windows_predict_the_next_character():
    ids = numpy.arange(30)
    batcher = data.WindowBatcher(ids, n=8, batch=5, seed=3)
    windows, targets = batcher.batch_at(batcher.order(0), 0)
    assert windows.shape == (8, 5)
    assert (windows[-1] + 1 == targets).all() and (numpy.diff(windows, axis=0) == 1).all()


def test_window_order_depends_on_seed_and_epoch_only():
    batcher = data.WindowBatcher(numpy.arange(100), n=4, batch=8, seed=7)
    again = data.WindowBatcher(numpy.arange(100), n=4, batch=8, seed=7)
    assert (batcher.order(2) == again.order(2)).all()
    assert not (batcher.order(0) == batcher.order(1)).all()
    assert sorted(batcher.order(1)) == list(range(96))


def test_windows_too_short_says_the_minimum():
    with pytest.raises(ValueError, match="at least 24 characters"):
        data.WindowBatcher(numpy.arange(20), n=8, batch=16)


def test_read_text_refuses_a_fifo_without_waiting_for_a_writer(tmp_path):
    signal.signal(signal.SIGALRM, lambda *args: pytest.fail("reading the FIFO blocked"))
    signal.alarm(10)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is not a regular file"):
        data.read_text(fifo)                                  # without the check, this blocks for ever
    signal.alarm(0)


def test_read_text_refuses_a_directory_by_its_name(tmp_path):
    with pytest.raises(ValueError, match=f"text file '{tmp_path}' is not a regular file"):
        data.read_text(tmp_path)


def test_read_text_refuses_a_device_without_reading_it():
    with pytest.raises(ValueError, match="'/dev/zero' is not a regular file"):
        data.read_text("/dev/zero")                           # without the check, memory runs out
