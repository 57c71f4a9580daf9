"""minirnn.checkpoint: a round trip keeps everything; anything but a sound minirnn checkpoint is refused,
with one error, before any of it is used."""
import json
import os
import pickle
import signal
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy
import pytest

from minirnn import checkpoint, optim
from minirnn.checkpoint import CheckpointError
from minirnn.models import CharLoopConcatModel, CharLoopModel, CharRNN, CharSeqRNN

VOCAB = {"chars": "\n abcdefghi"}            # 11 characters, the models' vocab_size below


def trained_pair():
    """A CharRNN after one Adam step, so that the optimizer has state to save."""
    model = CharRNN(11, emb=4, hidden=6, layers=2, cell="gru", dropout=0.25, seed=1)
    optimizer = optim.Adam(model, lr=0.01)
    ids = numpy.random.default_rng(0).integers(0, 11, (5, 3))
    logits, _ = model(ids)
    model.backward(numpy.ones_like(logits))
    optimizer.step()
    return model, optimizer


@pytest.fixture
def saved(tmp_path):
    model, optimizer = trained_pair()
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, model, optimizer, meta={"step": 1, "vocab": VOCAB}, arrays={"state0": numpy.arange(6.0)})
    return path, model, optimizer


def rewrite(path, metadata=None, members=None, compression=zipfile.ZIP_STORED):
    """Save ``path`` again after ``metadata(dict)`` and ``members(dict)`` changed its metadata and arrays in place."""
    with numpy.load(path, allow_pickle=False) as archive:
        contents = {key: archive[key] for key in archive.files}
    document = json.loads(contents[checkpoint.METADATA_KEY].tobytes())
    if metadata:
        metadata(document)
    contents[checkpoint.METADATA_KEY] = numpy.frombuffer(json.dumps(document).encode(), dtype=numpy.uint8)
    if members:
        members(contents)
    (numpy.savez if compression == zipfile.ZIP_STORED else numpy.savez_compressed)(path, **contents)


def refused(path, reason):
    with pytest.raises(CheckpointError, match=f"{Path(path).name} is not a usable minirnn checkpoint: .*{reason}"):
        checkpoint.load(path)


def test_round_trip_keeps_model_optimizer_meta_and_arrays(saved):
    path, model, optimizer = saved
    loaded = checkpoint.load(path)
    rebuilt = loaded.build_model()
    assert isinstance(rebuilt, CharRNN) and rebuilt.config() == model.config()
    for name, value in model.params.items():
        assert (rebuilt.params[name] == value).all()
    rebuilt_optimizer = optim.Adam(rebuilt, lr=0.5)
    rebuilt_optimizer.load_state_dict(loaded.optimizer_arrays, loaded.optimizer)
    assert rebuilt_optimizer.lr == optimizer.lr and rebuilt_optimizer.step_count == 1
    for name, slots in optimizer.state.items():
        for slot, value in slots.items():
            assert (rebuilt_optimizer.state[name][slot] == value).all()
    assert loaded.meta == {"step": 1, "vocab": VOCAB} and loaded.vocab().chars == list(VOCAB["chars"])
    assert loaded.arrays["state0"].tolist() == [0, 1, 2, 3, 4, 5]


def test_a_vocabulary_with_its_options_round_trips(tmp_path):
    model, optimizer = trained_pair()
    vocab = {"chars": VOCAB["chars"], "lower": True, "unknown": "i"}
    checkpoint.save(tmp_path / "ckpt.npz", model, optimizer, meta={"vocab": vocab})
    stored = checkpoint.load(tmp_path / "ckpt.npz").vocab()
    assert (stored.lower, stored.unknown_id) == (True, 10) and stored.to_json() == vocab


@pytest.mark.parametrize("model", [
    CharLoopModel(7, n_fac=3, n_hidden=5, seed=2), CharLoopConcatModel(7, n_fac=3, n_hidden=5, seed=2),
    CharSeqRNN(7, 3, 5, every_step=False, identity_init=True, seed=2),
    CharSeqRNN(7, 3, 5, cell="lstm", num_layers=2, dropout=0.25, dtype="float64", seed=2),
], ids=lambda model: type(model).__name__)
def test_round_trip_of_the_course_models(tmp_path, model):
    optimizer = optim.Adam(model, lr=0.01, weight_decay=1e-5)
    optimizer.step()
    checkpoint.save(tmp_path / "model.npz", model, optimizer)
    loaded = checkpoint.load(tmp_path / "model.npz")
    rebuilt = loaded.build_model()
    assert type(rebuilt) is type(model) and rebuilt.config() == model.config()
    assert all((rebuilt.params[k] == v).all() for k, v in model.params.items())
    assert loaded.optimizer["hyper"]["weight_decay"] == 1e-5


@pytest.mark.parametrize("config, reason", [
    (dict(every_step=1), "every_step must be True or False, got 1"),
    (dict(identity_init=True, cell="lstm"), "identity_init sets weight_hh to the identity, which is square for "
                                            "cell='rnn' only, got cell='lstm'"),
    (dict(num_layers=0), "num_layers must be a positive integer, got 0"),
])
def test_a_char_seq_rnn_config_out_of_range_is_refused(tmp_path, config, reason):
    path = tmp_path / "seq.npz"
    checkpoint.save(path, CharSeqRNN(7, 3, 5, seed=2))
    rewrite(path, metadata=lambda document: document["model"]["config"].update(config))
    refused(path, reason)


@pytest.mark.parametrize("model", [CharRNN(5, emb=3, hidden=4, layers=3, cell="lstm"), CharRNN(5, 2, 3, cell="rnn"),
                                   CharRNN(9, 4, 2, layers=2, cell="gru"), CharLoopModel(6, 3, 4),
                                   CharLoopConcatModel(6, 3, 4), CharSeqRNN(6, 3, 4, "lstm", num_layers=3),
                                   CharSeqRNN(6, 3, 4, "gru", every_step=False)])
def test_parameter_shapes_from_the_config_are_the_models(model):
    shapes = checkpoint.parameter_shapes(type(model).__name__, model.config())
    assert shapes == {name: value.shape for name, value in model.params.items()}


def test_file_holds_no_pickle(saved):
    with numpy.load(saved[0], allow_pickle=False) as archive:
        assert all(archive[key].dtype != object for key in archive.files)


def test_save_replaces_atomically_and_leaves_no_temporary_file(saved, monkeypatch):
    path, model, optimizer = saved
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(numpy, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, model, optimizer)
    assert path.read_bytes() == before                        # the old checkpoint is untouched
    assert os.listdir(path.parent) == [path.name]             # and no half-written file is left beside it


@pytest.mark.parametrize("value, message", [
    (numpy.array([None, 1], dtype=object), r"arrays\['extra'\] must hold plain numbers .*, got \(2,\) object"),
    (numpy.array(["a"]), r"arrays\['extra'\] must hold plain numbers .*, got \(1,\) <U1"),
    (numpy.zeros(2, dtype=[("a", "f8")]), r"arrays\['extra'\] must hold plain numbers"),
    (numpy.array([1.0, numpy.nan]), r"array/extra holds NaN or Inf"),
])
def test_save_refuses_an_array_that_load_would_refuse(tmp_path, value, message):
    model = CharLoopModel(6, 3, 4, seed=0)
    with pytest.raises(ValueError, match=message):
        checkpoint.save(tmp_path / "c.npz", model, arrays={"extra": value})
    assert os.listdir(tmp_path) == []


def test_save_refuses_an_extra_that_is_not_an_array(tmp_path):
    with pytest.raises(TypeError, match=r"arrays\['extra'\] must be a NumPy or CuPy array, got list"):
        checkpoint.save(tmp_path / "c.npz", CharLoopModel(6, 3, 4, seed=0), arrays={"extra": [1, 2]})


@pytest.mark.parametrize("meta, error", [({"x": {1, 2}}, TypeError), ({"x": float("nan")}, ValueError)])
def test_save_refuses_meta_that_is_not_json_by_name(tmp_path, meta, error):
    with pytest.raises(error, match="meta must hold JSON values"):
        checkpoint.save(tmp_path / "c.npz", CharLoopModel(6, 3, 4, seed=0), meta=meta)
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_model_with_nan_weights(tmp_path):
    model = CharLoopModel(6, 3, 4, seed=0)
    model.params["l_out.bias"][2] = numpy.inf
    with pytest.raises(ValueError, match="param/l_out.bias holds NaN or Inf"):
        checkpoint.save(tmp_path / "c.npz", model)


def test_save_into_a_directory_names_the_path_given(tmp_path):
    with pytest.raises(ValueError, match=f"^{tmp_path} is a directory, not a regular file"):
        checkpoint.save(tmp_path, CharLoopModel(6, 3, 4, seed=0))
    assert os.listdir(tmp_path) == []


def test_checkpoint_gets_an_ordinary_file_mode(saved, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("")
    assert saved[0].stat().st_mode == plain.stat().st_mode


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(saved, cut):
    path = saved[0]
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * cut)])
    refused(path, "damaged or truncated")


def test_damaged_bytes_are_refused(saved):
    path = saved[0]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                                # inside a parameter's data: the CRC catches it
    path.write_bytes(bytes(raw))
    refused(path, "damaged or truncated.*CRC")


def test_pickled_file_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weight": numpy.zeros(3)}))
    refused(path, "it holds pickled data, which minirnn never loads")


def test_foreign_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not a checkpoint")
    refused(path, "it is not an .npz archive \\(it starts with b'not a ch'\\)")


def test_npz_with_pickled_object_array_is_refused(saved):
    rewrite(saved[0], members=lambda c: c.update({"param/head.bias": numpy.array([None, {"a": 1}], dtype=object)}))
    refused(saved[0], "holds object values; minirnn stores plain numbers only")


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    numpy.savez(path, weights=numpy.ones(4))
    refused(path, "no '__minirnn__' metadata")


def test_other_format_metadata_is_refused(tmp_path):
    path = tmp_path / "wrong.npz"
    numpy.savez(path, **{"__minirnn__": numpy.frombuffer(b'{"format": "other"}', dtype=numpy.uint8)})
    refused(path, "does not say format 'minirnn-checkpoint'")


def test_missing_file_raises_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "absent.npz")


@pytest.fixture
def alarm():
    """Fail instead of hanging, should a read block."""
    signal.signal(signal.SIGALRM, lambda *args: pytest.fail("the read blocked"))
    signal.alarm(10)
    yield
    signal.alarm(0)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_path_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, alarm, kind):
    path = "/dev/zero" if kind == "device" else tmp_path / "fifo"
    if kind == "fifo":
        os.mkfifo(path)
    refused(path, "it is not a regular file")


def test_zip_bomb_is_refused_before_its_members_are_inflated(saved):
    rewrite(saved[0], members=lambda c: c.update({"param/bomb": numpy.zeros(50_000_000, numpy.uint8)}),
            compression=zipfile.ZIP_DEFLATED)                  # about 50 KB on disk, 50 MB inflated
    tracemalloc.start()
    refused(saved[0], "is compressed, encrypted or not an .npy array")
    assert tracemalloc.get_traced_memory()[1] < 5_000_000
    tracemalloc.stop()


def central_directory_field(path, offset_in_entry: int, fmt: str, value):
    """Overwrite a field of the first central-directory entry (as a forger would)."""
    raw = bytearray(Path(path).read_bytes())
    entry = raw.index(b"PK\x01\x02")
    struct.pack_into(fmt, raw, entry + offset_in_entry, value)
    Path(path).write_bytes(bytes(raw))


@pytest.mark.parametrize("field, offset, fmt, value", [
    ("encrypted flag", 8, "<H", 0x1),
    ("unknown compression method", 10, "<H", 99),
    ("zip version from the future", 6, "<H", 99),
])
def test_forged_zip_directory_is_refused_with_the_one_error(saved, field, offset, fmt, value):
    central_directory_field(saved[0], offset, fmt, value)
    with pytest.raises(CheckpointError):
        checkpoint.load(saved[0])


def test_member_sizes_beyond_the_file_are_refused(saved):
    central_directory_field(saved[0], 20, "<I", 10**9)      # the stored (compressed) size
    central_directory_field(saved[0], 24, "<I", 10**9)      # and the inflated size
    refused(saved[0], "claim more bytes than the file holds")


def test_missing_optimizer_array_is_refused_not_a_silent_adam_reset(saved):
    rewrite(saved[0], members=lambda c: c.pop("optim/head.bias/exp_avg_sq"))
    refused(saved[0], r"missing \['head.bias/exp_avg_sq'\]")


@pytest.mark.parametrize("setting, value, reason", [
    ("eps", 1e30, r"eps must be a number in \(0, 1\), got 1e\+30"),
    ("weight_decay", -50, "weight_decay must be a finite number >= 0, got -50"),
    ("model", "x", r"Adam's settings must be \['betas', 'eps', 'lr', 'weight_decay'\]"),
    ("betas", [0.9, 1.5], r"betas\[1\] must be a number in \[0, 1\)"),
])
def test_optimizer_settings_out_of_range_are_refused(saved, setting, value, reason):
    rewrite(saved[0], metadata=lambda m: m["optimizer"]["hyper"].update({setting: value}))
    refused(saved[0], reason)


def test_negative_step_count_is_refused(saved):
    rewrite(saved[0], metadata=lambda m: m["optimizer"].update(step_count=-1))
    refused(saved[0], "step_count must be an integer in")


def test_negative_sum_of_squares_is_refused(saved):
    rewrite(saved[0], members=lambda c: c.update({"optim/head.bias/exp_avg_sq": -c["optim/head.bias/exp_avg_sq"] - 1}))
    refused(saved[0], "holds negative values; it is a sum of squares")


def test_config_implying_a_huge_model_is_refused_before_building_it(saved):
    rewrite(saved[0], metadata=lambda m: m["model"]["config"].update(hidden=10**9))
    tracemalloc.start()
    refused(saved[0], r"param/rnn.weight_ih_l0 is \(18, 4\) float32; its config implies \(3000000000, 4\)")
    assert tracemalloc.get_traced_memory()[1] < 5_000_000
    tracemalloc.stop()


def test_config_with_more_layers_than_arrays_is_refused(saved):
    rewrite(saved[0], metadata=lambda m: m["model"]["config"].update(layers=10**12))
    refused(saved[0], "says 1000000000000 layers, but it holds 11 parameter arrays")


@pytest.mark.parametrize("edit, reason", [
    (lambda m: m["model"]["config"].update(cell="x"), r"cell must be one of"),
    (lambda m: m["model"]["config"].update(extra=1), "config must have the keys"),
    (lambda m: m["model"].update({"class": "Module"}), "its model class must be one of"),
    (lambda m: m["model"].update({"class": []}), "its model class must be one of"),
    (lambda m: m["optimizer"].update({"class": {}}), "optimizer class must be one of"),
    (lambda m: m.update(meta=[]), "its meta must be a JSON object"),
    (lambda m: m["meta"].update(vocab={"chars": "ba"}), "its vocabulary must be"),
    (lambda m: m["meta"].update(vocab={**VOCAB, "unknown": "z"}), "its vocabulary must be"),
    (lambda m: m["meta"].update(vocab={**VOCAB, "lower": "yes"}), "its vocabulary must be"),
    (lambda m: m["meta"].update(vocab={**VOCAB, "extra": 1}), "its vocabulary must be"),
    (lambda m: m["meta"].update(window=0), "window must be a positive integer"),
])
def test_metadata_out_of_its_schema_is_refused(saved, edit, reason):
    rewrite(saved[0], metadata=edit)
    refused(saved[0], reason)


def test_deeply_nested_metadata_is_refused(saved):
    with numpy.load(saved[0], allow_pickle=False) as archive:
        contents = {key: archive[key] for key in archive.files}
    nested = b"[" * 100_000 + b"]" * 100_000
    text = contents[checkpoint.METADATA_KEY].tobytes().replace(b'"step": 1', b'"step": ' + nested)
    contents[checkpoint.METADATA_KEY] = numpy.frombuffer(text, dtype=numpy.uint8)
    numpy.savez(saved[0], **contents)
    refused(saved[0], "nested deeper than 12 levels")


def test_metadata_larger_than_its_bound_is_refused(saved):
    rewrite(saved[0], metadata=lambda m: m["meta"].update(junk="x" * checkpoint.MAX_METADATA_BYTES))
    refused(saved[0], "its metadata must be at most 16777216 bytes")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"1e999"])
def test_non_finite_numbers_in_metadata_are_refused(saved, constant):
    with numpy.load(saved[0], allow_pickle=False) as archive:
        contents = {key: archive[key] for key in archive.files}
    text = contents[checkpoint.METADATA_KEY].tobytes().replace(b'"step": 1', b'"step": ' + constant)
    contents[checkpoint.METADATA_KEY] = numpy.frombuffer(text, dtype=numpy.uint8)
    numpy.savez(saved[0], **contents)
    refused(saved[0], "(strict JSON|not a finite number)")


@pytest.mark.parametrize("edit, reason", [
    (lambda c: c.pop("param/head.bias"), r"missing \['param/head.bias'\]"),
    (lambda c: c.update({"param/extra": numpy.zeros(2, numpy.float32)}), r"unexpected \['param/extra'\]"),
    (lambda c: c.update({"param/head.bias": c["param/head.bias"].astype("float64")}), "head.bias is .* float64"),
    (lambda c: c.update({"stray": numpy.zeros(1)}), "unexpected member 'stray'"),
    (lambda c: c.update({"param/head.bias": c["param/head.bias"] * numpy.nan}), "head.bias holds NaN or Inf"),
    (lambda c: c.update({"array/state0": numpy.array([numpy.inf])}), "array/state0 holds NaN or Inf"),
])
def test_arrays_that_do_not_match_the_config_are_refused(saved, edit, reason):
    rewrite(saved[0], members=edit)
    refused(saved[0], reason)


def test_fuzzed_checkpoints_are_refused_with_the_one_error_or_load_identically(tmp_path, script):
    tally = script("fuzz_checkpoints").fuzz(tmp_path, max_examples=80)
    assert tally.cases == 80 and not tally.tracebacks and not tally.different, tally.line()
    assert tally.refused > 60
