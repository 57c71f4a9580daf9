"""minirnn.training.checkpoint: a round trip keeps everything; anything but a sound minirnn checkpoint is refused."""
import os
import pickle

import numpy
import pytest

from minirnn.training import checkpoint, optim
from minirnn.models import CharLoopModel, CharRNN


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
    checkpoint.save(path, model, optimizer, meta={"step": 1, "vocab": {"chars": "abc"}},
                    arrays={"state0": numpy.arange(6.0)})
    return path, model, optimizer


def test_round_trip_keeps_model_optimizer_meta_and_arrays(saved):
    path, model, optimizer = saved
    loaded = checkpoint.load(path)
    rebuilt = loaded.build_model()
    assert isinstance(rebuilt, CharRNN) and rebuilt.config() == model.config()
    for name, value in model.params.items():
        assert (rebuilt.params[name] == value).all()
    twin = optim.Adam(rebuilt, lr=0.5)
    twin.load_state_dict(loaded.optimizer_arrays, loaded.optimizer)
    assert twin.lr == optimizer.lr and twin.step_count == 1
    for name, slots in optimizer.state.items():
        for slot, value in slots.items():
            assert (twin.state[name][slot] == value).all()
    assert loaded.meta == {"step": 1, "vocab": {"chars": "abc"}}
    assert loaded.arrays["state0"].tolist() == [0, 1, 2, 3, 4, 5]


def test_round_trip_of_charloop_model(tmp_path):
    model = CharLoopModel(7, n_fac=3, n_hidden=5, seed=2)
    checkpoint.save(tmp_path / "loop.npz", model)
    rebuilt = checkpoint.load(tmp_path / "loop.npz").build_model()
    assert all((rebuilt.params[k] == v).all() for k, v in model.params.items())


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


def test_checkpoint_gets_an_ordinary_file_mode(saved, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("")
    assert saved[0].stat().st_mode == plain.stat().st_mode


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(saved, cut):
    path = saved[0]
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * cut)])
    with pytest.raises(ValueError, match=f"{path.name} is not a usable minirnn checkpoint: damaged or truncated"):
        checkpoint.load(path)


def test_damaged_bytes_are_refused(saved):
    path = saved[0]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                                # inside a parameter's data: the CRC catches it
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="damaged or truncated.*CRC"):
        checkpoint.load(path)


def test_pickled_file_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weight": numpy.zeros(3)}))
    with pytest.raises(ValueError, match="evil.npz is not a usable minirnn checkpoint: it holds pickled data"):
        checkpoint.load(path)


def test_npz_with_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    numpy.savez(path, **{"__minirnn__": numpy.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="pickled objects"):
        checkpoint.load(path)


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    numpy.savez(path, weights=numpy.ones(4))
    with pytest.raises(ValueError, match="no '__minirnn__' metadata"):
        checkpoint.load(path)


def test_foreign_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not an .npz archive"):
        checkpoint.load(path)


def test_other_format_metadata_is_refused(tmp_path):
    path = tmp_path / "wrong.npz"
    numpy.savez(path, **{"__minirnn__": numpy.frombuffer(b'{"format": "other"}', dtype=numpy.uint8)})
    with pytest.raises(ValueError, match="does not say format 'minirnn-checkpoint'"):
        checkpoint.load(path)


def test_missing_file_raises_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "absent.npz")
