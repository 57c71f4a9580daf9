"""The tools' paths on a device backend: training runs, explain and the benchmark's worker, on the
CuPy stand-in here and on CuPy itself where a GPU is present (see tests/library/test_device_paths.py,
whose library paths these tools run on).
"""
import pytest
from devices import OPTIMIZER_SETTINGS, TOLERANCE
from strict_backend import recording

import minirnn
import minirnn.tools.train.rundir
from minirnn import optim
from minirnn.layers import unroll
from minirnn.tools.bench import worker
from minirnn.tools.study import explain
from minirnn.tools.train.trainer import TrainConfig, Trainer, train

TEXT = "def f(x):\n    return x + 1\n\nclass A:\n    pass\n" * 12


@pytest.fixture
def text_file(tmp_path, monkeypatch):
    # loss.png is drawn from metrics.jsonl on the host, the same on every backend: not drawn here.
    monkeypatch.setattr(minirnn.tools.train.rundir.RunDirectory, "plot", lambda self: None)
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def tiny_config(text_file, out, **overrides):
    settings = dict(text=str(text_file), emb=4, hidden=6, batch=2, bptt=8, dtype="float64", eval_every=4,
                    out=str(out), progress=False, epochs=0.3, lr=0.01)
    settings.update(overrides)
    if settings.get("model") == "charloop":
        del settings["bptt"]             # CharLoopModel reads windows (--window), not bptt chunks
    return TrainConfig(**settings)


@pytest.mark.parametrize("optimizer", OPTIMIZER_SETTINGS)
def test_training_on_the_device_matches_numpy(device, text_file, tmp_path, optimizer):
    overrides = dict(optimizer=optimizer, **OPTIMIZER_SETTINGS[optimizer])
    want = train(tiny_config(text_file, tmp_path / "numpy", **overrides), log=lambda _: None)
    with device.as_default():
        got = train(tiny_config(text_file, tmp_path / device.name, **overrides), log=lambda _: None)
    assert len(got.losses) > 3
    assert got.losses == pytest.approx(want.losses, rel=TOLERANCE)
    assert got.val_loss == pytest.approx(want.val_loss, rel=TOLERANCE)


@pytest.mark.parametrize("model", ["charrnn", "charloop"])
def test_training_resumed_on_the_device_from_its_checkpoint_equals_an_uninterrupted_run(device, text_file, tmp_path,
                                                                                        model):
    overrides = dict(model=model, layers=2, dropout=0.2, batch=2) if model == "charrnn" else dict(model=model, batch=16)
    with device.as_default():
        whole = train(tiny_config(text_file, tmp_path / "whole", epochs=0.4, **overrides), log=lambda _: None)
        first = train(tiny_config(text_file, tmp_path / "split", epochs=0.2, **overrides), log=lambda _: None)
        second = train(tiny_config(text_file, tmp_path / "split", epochs=0.4, resume=True, **overrides),
                       log=lambda _: None)
    assert first.losses + second.losses == pytest.approx(whole.losses, rel=TOLERANCE)
    assert second.val_loss == pytest.approx(whole.val_loss, rel=TOLERANCE)


def test_a_training_step_copies_four_numbers_to_the_host(stand_in, text_file, tmp_path):
    with stand_in.as_default():
        trainer = Trainer(tiny_config(text_file, tmp_path / "run"), log=lambda _: None)
    trainer.train_step()
    with recording() as transfers:
        trainer.train_step()
    # Input ids' bounds, targets' bounds (one copy each), the loss, the gradient norm (clipping).
    assert [(t.kind, t.where.split(":")[0]) for t in transfers] == [
        (".get()", "minirnn/core/validate.py"), (".get()", "minirnn/core/validate.py"),
        ("float()", "minirnn/ops/losses.py"), ("float()", "minirnn/optim.py")]
    assert not any(t.inside(function) for t in transfers
                   for function in (unroll.unroll_forward, unroll.unroll_backward, optim.Optimizer.step))


@pytest.mark.parametrize("name", explain.MODELS)
def test_explain_prints_the_same_on_the_stand_in_as_on_numpy(stand_in, name):
    # The stand-in only: on CuPy the fused kernels replace the cells' lines that explain prints.
    with stand_in.as_default():
        on_device = explain.build_model(name)
    assert explain.explain(on_device, steps=2, batch=2) == explain.explain(explain.build_model(name), steps=2, batch=2)


@pytest.mark.parametrize("mode", ["fwd+bwd", "train", "char"])
def test_benchmark_row_times_minirnn_on_the_device(device, mode):
    """The benchmark worker's minirnn side, in this process (a worker process would not see the stand-in)."""
    spec = dict(task="row", library="minirnn", backend=device.name, repeats=2, threads=1,
                clip=5.0 if mode == "char" else 0.0, cell="gru", mode=mode, T=3, B=2, I=5, H=4, V=6)
    result = worker.time_row(spec)
    assert len(result["seconds"]) == 2 and all(seconds > 0 for seconds in result["seconds"])
    assert result["peak_bytes"] > 0 and result["step_product_seconds"] > 0
