"""The library's paths on a device backend: the CuPy stand-in here, and CuPy itself where a GPU is present.

Each test runs one path with its arrays on the device and holds it to the same path on
NumPy, in float64 to 1e-12. On the stand-in (tests/strict_backend.py) a NumPy call on a
device array, an implicit conversion or a NumPy array mixed into a device operation
raises, as on CuPy, and every copy to the host is recorded with its line: the tests say
which copies each path makes, and that the time loops and the optimizer steps make none.
The fused CUDA kernels cannot run on the stand-in: there the gate math's NumPy lines stand
in for them (GateMath.step_functions), so the kernels themselves are proven on a GPU, by
the "cupy" runs of these tests and by scripts/gpu_check.py. CuPy cannot say when it
copies to the host (cupyx.allow_synchronize, deprecated since CuPy 10, detects nothing
in CuPy 14), so on CuPy these tests hold the results and the stand-in counts the copies.
The tools' paths (training runs, explain, the benchmark) are in tests/tools/test_device_paths.py.
"""
import numpy
import pytest
from devices import OPTIMIZER_SETTINGS, TOLERANCE, assert_same, on
from strict_backend import recording

import minirnn
from minirnn import checkpoint, optim
from minirnn.cell_kinds import CELL_KINDS
from minirnn.core import backend
from minirnn.data import Vocab
from minirnn.gradcheck import MODELS, draw_cases, run_case
from minirnn.models import CharLoopModel, CharRNN
from minirnn.sample import sample

# -- the sequence layers and single steps: no copy at all ------------------------------------------
OPTIONS = {
    "plain": {},
    "stacked, bidirectional, dropout": dict(num_layers=2, bidirectional=True, dropout=0.4),
    "lengths, batch_first": dict(batch_first=True, lengths=True),
    "no bias, h0 and d_h_n": dict(bias=False, h0=True),
    "truncated in two chunks": dict(chunks=2, h0=True),
}




def sequence_run(model, inputs, chunks):
    """Forward and backward chunk by chunk (each chunk's h_n handed to the next); returns everything."""
    x, state, lengths, d_out, d_final = inputs
    results, time_axis = [], 1 if model.batch_first else 0
    for chunk in numpy.array_split(numpy.arange(x.shape[time_axis]), chunks):
        index = (slice(None), slice(chunk[0], chunk[-1] + 1)) if time_axis else slice(chunk[0], chunk[-1] + 1)
        output, state = model(x[index], state, lengths=lengths)
        results.append((output, state, *model.backward(d_out[index], d_final)))
    return results


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("cell", CELL_KINDS)
def test_sequence_model_on_the_device_matches_numpy_and_copies_nothing_to_the_host(device, cell, options):
    options = dict(options)
    chunks, with_lengths, with_h0 = options.pop("chunks", 1), options.pop("lengths", False), options.pop("h0", False)
    kind = CELL_KINDS[cell]
    T, B, I, H = 6, 3, 4, 5
    directions = 2 if options.get("bidirectional") else 1
    layers = options.get("num_layers", 1)
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((B, T, I) if options.get("batch_first") else (T, B, I))
    states = [rng.standard_normal((layers * directions, B, H)) for _ in kind.state_names]
    state = (tuple(states) if len(states) == 2 else states[0]) if with_h0 else None
    d_final = (tuple(s + 1 for s in states) if len(states) == 2 else states[0] + 1) if with_h0 else None
    lengths = numpy.array([6, 2, 4]) if with_lengths else None     # lengths stay on the host: read there
    d_out = rng.standard_normal(x.shape[:2] + (directions * H,))
    host = kind.build_layer(I, H, dtype="float64", seed=1, **options)
    moved = kind.build_layer(I, H, dtype="float64", seed=1, **options).to(device.name)
    want = sequence_run(host, (x, state, lengths, d_out, d_final), chunks)
    device_inputs = (device.put(x), on(device, state), lengths, device.put(d_out), on(device, d_final))
    with device.no_host_copies():
        got = sequence_run(moved, device_inputs, chunks)
    assert_same(got, want, "output, h_n, dx, dh0 per chunk")
    for name, grad in host.grads.items():
        assert_same(moved.grads[name], grad, name)


@pytest.mark.parametrize("cell", CELL_KINDS)
def test_single_step_on_the_device_matches_numpy_and_copies_nothing_to_the_host(device, cell):
    kind = CELL_KINDS[cell]
    rng = numpy.random.default_rng(0)
    x, h = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    state = (h, h - 1) if len(kind.state_names) == 2 else h
    host = kind.build_cell(4, 5, dtype="float64", seed=2)
    moved = kind.build_cell(4, 5, dtype="float64", seed=2).to(device.name)
    want = (host(x, state), host.backward(state))
    with device.no_host_copies():
        got = (moved(device.put(x), on(device, state)), moved.backward(on(device, state)))
    assert_same(got, want, "h', dx, dh")
    for name, grad in host.grads.items():
        assert_same(moved.grads[name], grad, name)


def test_lengths_given_on_the_device_are_copied_to_the_host_once(stand_in):
    model = minirnn.GRU(2, 3, seed=0).to("strict")
    with recording() as transfers:
        model(stand_in.put(numpy.zeros((4, 2, 2), numpy.float32)), lengths=stand_in.put(numpy.array([4, 1])))
    assert [(t.kind, t.where.split(":")[0]) for t in transfers] == [(".get()", "minirnn/layers/recurrent.py")]
    assert transfers[0].inside(minirnn.layers.recurrent.lengths_mask)


# -- the character models, the losses and the gradient check ----------------------------------------
def char_model(name, device_name="numpy"):
    model = (CharRNN(7, emb=3, hidden=5, layers=2, cell="gru", dropout=0.3, dtype="float64", seed=3)
             if name == "charrnn" else CharLoopModel(7, 3, 5, dtype="float64", seed=3))
    return model.to(device_name)


def char_step(model, ids, targets, put):
    """Forward, loss and backward: (loss, output, dL/d(output))."""
    if isinstance(model, CharRNN):
        logits, _ = model(put(ids))
        loss, d_logits = minirnn.cross_entropy(logits, put(targets))
        model.backward(d_logits)
        return loss, logits, d_logits
    logp = model(put(ids))
    loss, d_logp = minirnn.nll_loss(logp, put(targets[-1]))
    model.backward(d_logp)
    return loss, logp, d_logp


@pytest.mark.parametrize("name", ["charrnn", "charloop"])
def test_char_model_on_the_device_matches_numpy(device, name):
    rng = numpy.random.default_rng(4)
    ids, targets = rng.integers(0, 7, (5, 3)), rng.integers(0, 7, (5, 3))
    host, moved = char_model(name), char_model(name, device.name)
    want = char_step(host, ids, targets, lambda a: a)
    got = char_step(moved, ids, targets, device.put)
    assert got[0] == pytest.approx(want[0], rel=TOLERANCE)
    assert_same(got[1:], want[1:], "output, d_output")
    for param, grad in host.grads.items():
        assert_same(moved.grads[param], grad, param)


@pytest.mark.parametrize("name", ["charrnn", "charloop"])
def test_char_model_step_copies_the_id_bounds_and_the_loss_to_the_host(stand_in, name):
    rng = numpy.random.default_rng(4)
    model = char_model(name, "strict")
    with recording() as transfers:
        char_step(model, rng.integers(0, 7, (5, 3)), rng.integers(0, 7, (5, 3)), stand_in.put)
    # The ids' smallest and largest value in one copy, the same for the targets, then the loss.
    assert [(t.kind, t.where.split(":")[0]) for t in transfers] == [
        (".get()", "minirnn/core/validate.py"), (".get()", "minirnn/core/validate.py"), ("float()", "minirnn/ops/losses.py")]


@pytest.mark.parametrize("model", MODELS)
def test_gradient_check_passes_on_the_device(device, model):
    # The first two cases drawn: for the sequence models T = 1 and two layers (the RNN: T = 1 with tanh, with relu).
    for case in draw_cases(model, 2, seed=0):
        reports = run_case(case, seed=0, backend_name=device.name, max_entries=10)
        assert all(r.passed for r in reports), f"{model} {case.label()}: " + "; ".join(map(str, reports))


@pytest.mark.parametrize("optimizer", OPTIMIZER_SETTINGS)
def test_optimizer_step_on_the_device_copies_nothing_to_the_host(stand_in, optimizer):
    model = char_model("charrnn", "strict")
    settings = dict(OPTIMIZER_SETTINGS[optimizer], **({"nesterov": True} if optimizer == "sgd" else {}))
    stepper = optim.OPTIMIZERS[optimizer](model, lr=0.01, **settings)
    rng = numpy.random.default_rng(5)
    char_step(model, rng.integers(0, 7, (5, 3)), rng.integers(0, 7, (5, 3)), stand_in.put)
    optim.clip_grad_norm(model.grads, 0.1)
    with stand_in.no_host_copies():
        stepper.step()                   # the first step makes the state arrays
        stepper.step()


def test_checkpoint_saves_device_arrays_with_one_copy_each_and_loads_them_back(stand_in, tmp_path):
    model = char_model("charrnn", "strict")
    adam = optim.Adam(model, lr=0.01)
    rng = numpy.random.default_rng(6)
    char_step(model, rng.integers(0, 7, (5, 3)), rng.integers(0, 7, (5, 3)), stand_in.put)
    adam.step()
    state = stand_in.put(rng.standard_normal((2, 3, 5)))
    with recording() as transfers:
        checkpoint.save(tmp_path / "c.npz", model, adam, meta={"step": 1}, arrays={"state0": state})
    assert [t.kind for t in transfers] == [".get()"] * (len(model.params) + len(adam.state_dict()[0]) + 1)
    saved = checkpoint.load(tmp_path / "c.npz")
    with stand_in.as_default():
        rebuilt = saved.build_model()
    assert rebuilt.backend == "strict"
    for name, value in model.params.items():
        assert_same(rebuilt.params[name], backend.to_host(value), name)
    assert_same(saved.arrays["state0"], backend.to_host(state), "state0")


# -- sampling, explain, the benchmark -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["charrnn", "charloop"])
def test_sampling_on_the_device_writes_the_same_text(device, name):
    vocab = Vocab.from_text("abcdefg")
    want = sample(char_model(name), vocab, prime="fab", length=12, temperature=0.7, top_k=4, seed=1)
    assert sample(char_model(name, device.name), vocab, prime="fab", length=12, temperature=0.7, top_k=4,
                  seed=1) == want


@pytest.mark.parametrize("name", ["charrnn", "charloop"])
def test_sampling_copies_two_numbers_per_character_to_the_host(stand_in, name):
    with recording() as transfers:
        sample(char_model(name, "strict"), Vocab.from_text("abcdefg"), prime="fab", length=5, seed=1)
    # Per character: the next-character scores, and the id bounds of the next input. CharRNN reads
    # the prime once first; CharLoopModel reads its window again for every character.
    kinds = [t.where.split(":")[0] for t in transfers]
    assert kinds.count("minirnn/sample.py") == 5
    assert kinds.count("minirnn/core/validate.py") == (1 + 5 if name == "charrnn" else 5)
    assert len(kinds) == (11 if name == "charrnn" else 10)
