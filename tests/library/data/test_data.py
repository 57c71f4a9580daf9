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


# -- the vocabulary's options ------------------------------------------------------------------------
def test_vocab_with_padding_has_pad_as_id_0():
    vocab = data.Vocab.from_text("ba", padding=True)
    assert vocab.chars == [data.PAD, "a", "b"] and vocab.pad_id == 0
    assert vocab.encode("ab").tolist() == [1, 2]


def test_vocab_without_padding_has_no_pad_id():
    assert data.Vocab.from_text("ba").pad_id is None


def test_vocab_lower_is_built_from_and_encodes_lowercased_text():
    vocab = data.Vocab.from_text("AbA", lower=True)
    assert vocab.chars == ["a", "b"] and vocab.encode("BAb").tolist() == [1, 0, 1]


def test_vocab_min_count_maps_rare_characters_to_the_unknown_symbol():
    vocab = data.Vocab.from_text("aaabbbc", min_count=3, unknown=data.UNKNOWN)
    assert vocab.chars == ["a", "b", data.UNKNOWN]
    assert vocab.encode("abcz").tolist() == [0, 1, 2, 2]          # rare c and unseen z: one symbol


def test_vocab_min_count_without_an_unknown_symbol_refuses_rare_characters():
    vocab = data.Vocab.from_text("aaabbbc", min_count=3)
    with pytest.raises(ValueError, match="not in the vocabulary: 'c'"):
        vocab.encode("ac")


def test_vocab_options_round_trip_through_json():
    vocab = data.Vocab.from_text("AAAb", padding=True, lower=True, min_count=2, unknown=data.UNKNOWN)
    stored = vocab.to_json()
    assert stored == {"chars": "\0a\ufffd", "lower": True, "unknown": "\ufffd"}
    again = data.Vocab.from_json(stored)
    assert again.chars == vocab.chars and again.encode("Ab").tolist() == vocab.encode("Ab").tolist() == [1, 2]


@pytest.mark.parametrize("stored, message", [
    ({"chars": "ab", "extra": 1}, "optional 'lower' and 'unknown'"),
    ({"chars": "ab", "unknown": "z"}, "unknown must be one of the vocabulary's characters"),
    ({"chars": "ab", "unknown": ["a"]}, "unknown must be one of the vocabulary's characters"),
    ({"chars": "ab", "lower": 1}, "lower must be True or False"),
])
def test_vocab_from_json_refuses_what_to_json_does_not_write(stored, message):
    with pytest.raises(ValueError, match=message):
        data.Vocab.from_json(stored)


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_count=0), "min_count must be a positive integer"),
    (dict(min_count=5), "no character of the text is seen min_count=5 times"),
    (dict(unknown="ab"), "unknown must be a single character or None"),
    (dict(padding="yes"), "padding must be True or False"),
])
def test_vocab_from_text_refuses_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.Vocab.from_text("aab", **kwargs)


# -- windows and the random split ----------------------------------------------------------------------
@given(n=st.integers(2, 60), length=st.integers(1, 9), stride=st.integers(1, 9))
def test_windows_take_every_window_whose_targets_fit(n, length, stride):
    ids = numpy.arange(n) * 10
    if n <= length:
        with pytest.raises(ValueError, match=f"at least {length + 1}"):
            data.windows(ids, length, stride)
        return
    inputs, targets = data.windows(ids, length, stride)
    starts = list(range(0, n - length, stride))                # the last target is ids[start + length] <= ids[-1]
    assert inputs.tolist() == [ids[s:s + length].tolist() for s in starts]
    assert targets.tolist() == [ids[s + 1:s + length + 1].tolist() for s in starts]


def test_overlapping_and_non_overlapping_window_counts():
    ids = numpy.arange(1001)
    assert data.windows(ids, 8)[0].shape == (1001 - 8, 8)
    assert data.windows(ids, 8, stride=8)[0].shape == ((1001 - 1) // 8, 8)


def test_windows_are_views_of_the_ids_not_copies():
    ids = numpy.arange(100)
    inputs, targets = data.windows(ids, 8)
    assert numpy.shares_memory(inputs, ids) and numpy.shares_memory(targets, ids)


@pytest.mark.parametrize("ids, message", [
    (numpy.arange(6.0), "ids must be a 1-D integer array, got \\(6,\\) float64"),
    (numpy.zeros((2, 3), dtype=int), "ids must be a 1-D integer array"),
])
def test_windows_refuse_what_is_not_an_id_array(ids, message):
    with pytest.raises(TypeError, match=message):
        data.windows(ids, 2)


def test_random_split_is_a_seeded_partition():
    train, val = data.random_split(1000, 0.2, seed=7)
    assert len(val) == 200 and len(train) == 800
    assert sorted(numpy.concatenate([train, val]).tolist()) == list(range(1000))
    assert (numpy.diff(train) > 0).all() and (numpy.diff(val) > 0).all()
    again = data.random_split(1000, 0.2, seed=7)
    assert (again[1] == val).all()
    assert not (data.random_split(1000, 0.2, seed=8)[1] == val).all()


@pytest.mark.parametrize("n, fraction, message", [
    (3, 0.2, "leaves 3 for training and 0 for validation"),
    (10, 1.0, "val_fraction must be a number in \\(0, 1\\)"),
    (0, 0.5, "n must be a positive integer"),
])
def test_random_split_refuses_an_empty_part(n, fraction, message):
    with pytest.raises(ValueError, match=message):
        data.random_split(n, fraction, seed=0)
