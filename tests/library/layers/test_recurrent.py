"""RNN, LSTM and GRU (minirnn/layers/recurrent.py): the contract of forward and backward, and
outputs, final states and every gradient against torch.nn in float64 (skipped without torch).
"""
import sys
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minirnn
from minirnn import GRU, LSTM, RNN


CLASSES = [RNN, LSTM, GRU]


def make(cls, I=3, H=4, **kwargs):
    return cls(I, H, dtype=kwargs.pop("dtype", "float64"), seed=kwargs.pop("seed", 0), **kwargs)


def first_state(state):
    """h from an RNN/GRU state, or from an LSTM (h, c) pair."""
    return state[0] if isinstance(state, tuple) else state


@pytest.mark.parametrize("cls", CLASSES)
def test_parameters_have_torch_names_shapes_and_init_range(cls):
    model = cls(5, 4, num_layers=2, bidirectional=True, seed=0)
    G = {RNN: 1, LSTM: 4, GRU: 3}[cls]
    assert model.params["weight_ih_l0"].shape == (G * 4, 5)
    assert model.params["weight_ih_l1_reverse"].shape == (G * 4, 8)
    assert model.params["bias_hh_l1"].shape == (G * 4,)
    assert len(model.params) == 16 and set(model.grads) == set(model.params)
    assert all(abs(p).max() <= 0.5 and p.dtype == np.float32 for p in model.params.values())


@pytest.mark.parametrize("cls", CLASSES)
def test_batch_first_gives_the_same_numbers(cls, rng):
    x = rng.standard_normal((5, 2, 3))
    a, b = make(cls, num_layers=2, bidirectional=True), make(cls, num_layers=2, bidirectional=True, batch_first=True)
    out_a, h_a = a(x)
    out_b, h_b = b(x.transpose(1, 0, 2))
    np.testing.assert_allclose(out_b.transpose(1, 0, 2), out_a, rtol=0, atol=1e-14)
    np.testing.assert_allclose(first_state(h_b), first_state(h_a), rtol=0, atol=1e-14)
    g = rng.standard_normal(out_a.shape)
    dx_a, _ = a.backward(g)
    dx_b, _ = b.backward(g.transpose(1, 0, 2))
    np.testing.assert_allclose(dx_b.transpose(1, 0, 2), dx_a, rtol=0, atol=1e-14)
    for name in a.grads:
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=0, atol=1e-13)


@pytest.mark.parametrize("cls", CLASSES)
@given(T=st.integers(2, 8), split=st.integers(1, 7), layers=st.integers(1, 3))
def test_truncated_chunks_equal_the_whole_sequence_forward(cls, T, split, layers):
    split = min(split, T - 1)
    model = make(cls, num_layers=layers)
    x = np.random.default_rng(T).standard_normal((T, 2, 3))
    whole, h_whole = model(x)
    first, h_mid = model(x[:split])
    second, h_end = model(x[split:], h_mid)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=0, atol=1e-14)
    np.testing.assert_allclose(first_state(h_end), first_state(h_whole), rtol=0, atol=1e-14)


@pytest.mark.parametrize("cls", CLASSES)
def test_float32_agrees_with_float64(cls, rng):
    x = rng.standard_normal((6, 3, 3))
    model64 = make(cls, num_layers=2)
    model32 = make(cls, num_layers=2, dtype="float32")
    out32, _ = model32(x.astype(np.float32))
    out64, _ = model64(x)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=2e-6)
    dx32, _ = model32.backward(np.ones_like(out32))
    dx64, _ = model64.backward(np.ones_like(out64))
    assert dx32.dtype == np.float32 and all(g.dtype == np.float32 for g in model32.grads.values())
    np.testing.assert_allclose(dx32, dx64, atol=2e-5)


@pytest.mark.parametrize("cls", CLASSES)
def test_state_dict_round_trips(cls, rng):
    source, target = make(cls, num_layers=2, seed=1), make(cls, num_layers=2, seed=2)
    target.load_state_dict(source.state_dict())
    x = rng.standard_normal((4, 2, 3))
    np.testing.assert_array_equal(target(x)[0], source(x)[0])
    assert all(type(v) is np.ndarray for v in source.state_dict().values())


def test_state_dict_returns_copies_not_the_live_arrays():
    model = make(RNN)
    state = model.state_dict()
    state["weight_hh_l0"][...] = 0
    assert np.abs(model.params["weight_hh_l0"]).sum() > 0


def test_changing_params_in_place_takes_effect_at_the_next_forward(rng):
    model = make(RNN)
    x = rng.standard_normal((3, 2, 3))
    before, _ = model(x)
    model.params["weight_ih_l0"] *= 0.5          # what an optimizer does
    after, _ = model(x)
    assert not np.allclose(before, after)


@pytest.mark.parametrize("options", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)])
def test_returned_arrays_are_not_overwritten_by_a_later_call(options, rng):
    model = make(LSTM, **options)
    out, (h_n, c_n) = model(rng.standard_normal((3, 2, 3)))
    kept = out.copy(), h_n.copy(), c_n.copy()
    dx, (dh0, dc0) = model.backward(np.ones_like(out))
    kept_grads = dx.copy(), dh0.copy()
    model(rng.standard_normal((3, 2, 3)))
    model.backward(np.ones_like(out))
    for a, b in zip((out, h_n, c_n, dx, dh0), (*kept, *kept_grads)):
        np.testing.assert_array_equal(a, b)


def test_modifying_the_output_does_not_change_the_gradients(rng):
    x = rng.standard_normal((3, 2, 3))
    model = make(GRU)
    out, _ = model(x)
    model.backward(np.ones_like(out))
    expected = {k: v.copy() for k, v in model.grads.items()}
    model.zero_grad()
    out, _ = model(x)
    out[...] = 0
    model.backward(np.ones_like(out))
    for name in expected:
        np.testing.assert_array_equal(model.grads[name], expected[name])


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("lengths", [None, np.array([4, 2])], ids=["full", "lengths"])
def test_inputs_are_never_modified(cls, lengths, rng):
    x, h0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((1, 2, 4))
    hx = (h0, h0.copy()) if cls is LSTM else h0
    g = rng.standard_normal((4, 2, 4))
    copies = x.copy(), h0.copy(), g.copy()
    model = make(cls)
    model(x, hx, lengths=lengths)
    model.backward(g, hx)
    for a, b in zip((x, h0, g), copies):
        np.testing.assert_array_equal(a, b)


def test_backward_adds_into_grads_until_zero_grad(rng):
    model = make(RNN)
    x = rng.standard_normal((3, 2, 3))
    out, _ = model(x)
    model.backward(np.ones_like(out))
    once = {k: v.copy() for k, v in model.grads.items()}
    out, _ = model(x)
    model.backward(np.ones_like(out))
    for name in once:
        np.testing.assert_allclose(model.grads[name], 2 * once[name], rtol=1e-14)
    model.zero_grad()
    assert all(not g.any() for g in model.grads.values())


def test_backward_without_a_forward_is_refused():
    with pytest.raises(RuntimeError, match="forward first"):
        make(RNN).backward(np.zeros((1, 1, 4)))


def test_a_second_backward_for_one_forward_is_refused(rng):
    model = make(GRU)
    out, _ = model(rng.standard_normal((2, 1, 3)))
    model.backward(out)
    with pytest.raises(RuntimeError, match="one backward only"):
        model.backward(out)


def test_no_grad_stores_no_cache(rng):
    model = make(LSTM)
    with minirnn.no_grad():
        out, _ = model(rng.standard_normal((2, 1, 3)))
    with pytest.raises(RuntimeError):
        model.backward(out)


@pytest.mark.parametrize("cls", CLASSES)
def test_steps_past_the_end_leave_the_state_and_output_zero(cls, rng):
    """Each sequence of a padded batch gives what it gives alone, in both directions."""
    model = make(cls, num_layers=2, bidirectional=True)
    x = rng.standard_normal((6, 3, 3))
    lengths = np.array([2, 6, 4])
    out, h_n = model(x, lengths=lengths)
    for b, n in enumerate(lengths):
        alone, h_alone = model(x[:n, b:b + 1])
        np.testing.assert_allclose(out[:n, b:b + 1], alone, rtol=0, atol=1e-14)
        assert not out[n:, b].any()
        np.testing.assert_allclose(first_state(h_n)[:, b:b + 1], first_state(h_alone), rtol=0, atol=1e-14)


def test_padding_values_do_not_matter_even_nan(rng):
    model = make(LSTM)
    x = rng.standard_normal((5, 2, 3))
    lengths = np.array([3, 5])
    out, _ = model(x, lengths=lengths)
    model.backward(np.ones_like(out))
    clean = {k: v.copy() for k, v in model.grads.items()}
    x[3:, 0] = np.nan
    model.zero_grad()
    out_nan, _ = model(x, lengths=lengths)
    dx, _ = model.backward(np.ones_like(out))
    np.testing.assert_array_equal(out_nan, out)
    assert np.isfinite(dx[:3, 0]).all() and not dx[3:, 0].any()
    for name in clean:
        np.testing.assert_array_equal(model.grads[name], clean[name])


def test_dropout_acts_in_training_only_and_is_seeded(rng):
    x = rng.standard_normal((4, 2, 3))
    a, b = make(GRU, num_layers=2, dropout=0.5, seed=3), make(GRU, num_layers=2, dropout=0.5, seed=3)
    np.testing.assert_array_equal(a(x)[0], b(x)[0])          # same seed, same masks
    assert not np.array_equal(a(x)[0], a(x)[0])             # a new mask each forward
    a.eval()
    reference = make(GRU, num_layers=2, seed=3)
    np.testing.assert_array_equal(a(x)[0], reference(x)[0])  # eval: no dropout at all


def test_astype_and_to_keep_the_function():
    model = make(RNN, dtype="float32")
    x = np.random.default_rng(0).standard_normal((3, 2, 3))
    out32, _ = model(x.astype(np.float32))
    model.astype("float64").to("numpy")
    assert all(p.dtype == np.float64 for p in model.params.values())
    out64, _ = model(x)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, out32, atol=1e-6)


def test_an_evaluation_between_forward_and_backward_changes_no_gradient(rng):
    x, other = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 3))
    model = make(LSTM, num_layers=2)
    out, _ = model(x)
    model.backward(np.ones_like(out))
    expected = {k: v.copy() for k, v in model.grads.items()}
    model.zero_grad()
    out, _ = model(x)
    with minirnn.no_grad():
        model(other)                             # e.g. a validation batch
    model.backward(np.ones_like(out))
    for name in expected:
        np.testing.assert_array_equal(model.grads[name], expected[name])


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("options", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)])
def test_changing_x_between_forward_and_backward_changes_no_gradient(cls, options, rng):
    x = rng.standard_normal((4, 2, 3))
    model = make(cls, **options)
    out, _ = model(x)
    model.backward(np.ones_like(out))
    expected = {k: v.copy() for k, v in model.grads.items()}
    model.zero_grad()
    out, _ = model(x)
    x[...] = 0                                   # the caller reuses its array before backward
    model.backward(np.ones_like(out))
    for name in expected:
        np.testing.assert_array_equal(model.grads[name], expected[name])


def as_pair(state):
    return state if isinstance(state, tuple) else (state,)


def state_like(cls, shape, rng):
    """A random state of ``shape``: one array, or an (h, c) pair for the LSTM."""
    states = tuple(rng.standard_normal(shape) for _ in range(2 if cls is LSTM else 1))
    return states if cls is LSTM else states[0]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("options", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)])
def test_an_unbatched_sequence_gives_what_a_batch_of_one_gives(cls, options, rng):
    unbatched, batched = make(cls, **options), make(cls, **options)
    L_D = unbatched.num_layers * len(unbatched.directions)
    x, hx, d_hx = rng.standard_normal((5, 3)), state_like(cls, (L_D, 4), rng), state_like(cls, (L_D, 4), rng)
    out, h_n = unbatched(x, hx)
    assert out.shape == (5, 4 * len(unbatched.directions)) and all(h.shape == (L_D, 4) for h in as_pair(h_n))
    d_out = rng.standard_normal(out.shape)
    dx, dh0 = unbatched.backward(d_out, d_hx)
    assert dx.shape == (5, 3) and all(d.shape == (L_D, 4) for d in as_pair(dh0))

    def one(a):                                   # the batch of one, in the model's layout
        return a[None] if options.get("batch_first") else a[:, None]

    def batch_of_state(state):
        states = tuple(s[:, None] for s in as_pair(state))
        return states if cls is LSTM else states[0]

    out_1, h_n_1 = batched(one(x), batch_of_state(hx))
    dx_1, dh0_1 = batched.backward(one(d_out), batch_of_state(d_hx))
    np.testing.assert_array_equal(one(out), out_1)
    np.testing.assert_array_equal(one(dx), dx_1)
    for a, b in zip(as_pair(h_n) + as_pair(dh0), as_pair(h_n_1) + as_pair(dh0_1)):
        np.testing.assert_array_equal(a[:, None], b)
    for name in batched.grads:
        np.testing.assert_array_equal(unbatched.grads[name], batched.grads[name])


@pytest.mark.parametrize("cls", CLASSES)
def test_dropout_with_one_layer_warns_that_it_does_nothing(cls):
    with pytest.warns(UserWarning, match=r"dropout=0.5 expects num_layers greater than 1, but got num_layers=1") \
            as caught:
        cls(3, 4, dropout=0.5)
    assert caught[0].filename == __file__                 # it points at the caller's line


@pytest.mark.parametrize("kwargs", [dict(dropout=0.5, num_layers=2), dict(dropout=0.0, num_layers=1)])
def test_dropout_between_layers_or_none_does_not_warn(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRU(3, 4, **kwargs)
        minirnn.models.CharRNN(5, emb=3, hidden=4, layers=1, cell="gru", dropout=0.5)  # dropout before its head


@pytest.mark.parametrize("cls", CLASSES)
def test_two_threads_running_one_model_get_the_single_threaded_outputs(cls, rng, monkeypatch):
    model = make(cls, num_layers=2, bidirectional=True)
    inputs = [rng.standard_normal((6, 3, 3)) for _ in range(2)]
    expected = [first_state(model(x)[0]) for x in inputs]
    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)    # restored after the test
    sys.setswitchinterval(1e-6)                  # switch threads as often as Python allows
    wrong = []

    def run(x, want):
        for _ in range(100):
            out, _ = model(x)
            wrong.append(not np.array_equal(out, want))

    threads = [threading.Thread(target=run, args=pair) for pair in zip(inputs, expected)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wrong) == 200 and not any(wrong)


TOL = 1e-10


OPTIONS = [dict(num_layers=1), dict(num_layers=2, bidirectional=True), dict(num_layers=3, dropout=0.0),
           dict(num_layers=2, bias=False, batch_first=True), dict(num_layers=1, bidirectional=True)]


def torch_pair(torch, cls, **kwargs):
    ours = getattr(minirnn, cls)(3, 4, dtype="float64", seed=0, **kwargs)
    theirs = getattr(torch.nn, cls)(3, 4, **kwargs)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("layout", ["full", "packed", "unbatched"])
def test_sequence_models_match_torch(torch, cls, options, layout):
    packed = layout == "packed"
    extra = [dict(nonlinearity="relu")] if cls == "RNN" else [{}]
    for kwargs in [dict(options), *(dict(options, **e) for e in extra if e)]:
        ours, theirs = torch_pair(torch, cls, **kwargs)
        rng = np.random.default_rng(0)
        T, B, H = 6, 3, 4
        D, L = (2 if kwargs.get("bidirectional") else 1), kwargs["num_layers"]
        batch_first = kwargs.get("batch_first", False)
        x = rng.standard_normal((T, 3) if layout == "unbatched" else (B, T, 3) if batch_first else (T, B, 3))
        state_shape = (L * D, H) if layout == "unbatched" else (L * D, B, H)
        lstm = cls == "LSTM"
        states = [rng.standard_normal(state_shape) for _ in range(2 if lstm else 1)]
        lengths = np.array([6, 2, 4]) if packed else None
        out, h_n = ours(x, tuple(states) if lstm else states[0], lengths=lengths)
        g_out = rng.standard_normal(out.shape)
        g_fin = [rng.standard_normal(state_shape) for _ in states]
        dx, d_state0 = ours.backward(g_out, tuple(g_fin) if lstm else g_fin[0])

        x_t = torch.tensor(x, requires_grad=True)
        states_t = [torch.tensor(s, requires_grad=True) for s in states]
        hx_t = tuple(states_t) if lstm else states_t[0]
        if packed:
            seq = torch.nn.utils.rnn.pack_padded_sequence(x_t, torch.tensor(lengths), batch_first=batch_first,
                                                          enforce_sorted=False)
            out_t, h_n_t = theirs(seq, hx_t)
            out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=batch_first, total_length=T)
        else:
            out_t, h_n_t = theirs(x_t, hx_t)
        finals_t = h_n_t if lstm else (h_n_t,)
        loss = (out_t * torch.tensor(g_out)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(finals_t, g_fin))
        loss.backward()

        close(out, out_t)
        for a, b in zip(h_n if lstm else (h_n,), finals_t):
            close(a, b)
        close(dx, x_t.grad)
        for a, b in zip(d_state0 if lstm else (d_state0,), states_t):
            close(a, b.grad)
        for name, param in theirs.named_parameters():
            close(ours.grads[name], param.grad)


def test_truncated_bptt_matches_torch_with_a_detach_between_chunks(torch):
    ours, theirs = torch_pair(torch, "LSTM", num_layers=2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 2, 3))
    g = rng.standard_normal((9, 2, 4))
    state, state_t = None, None
    for start in (0, 3, 6):
        out, state = ours(x[start:start + 3], state)
        ours.backward(g[start:start + 3])
        out_t, state_t = theirs(torch.tensor(x[start:start + 3]), state_t)
        (out_t * torch.tensor(g[start:start + 3])).sum().backward()
        state_t = tuple(s.detach() for s in state_t)
        close(out, out_t)
    for name, param in theirs.named_parameters():
        close(ours.grads[name], param.grad)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_our_state_dict_loads_into_torch(torch, cls):
    ours = getattr(minirnn, cls)(3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=5)
    theirs = getattr(torch.nn, cls)(3, 4, num_layers=2, bidirectional=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((5, 2, 3))
    close(ours(x)[0], theirs(torch.tensor(x))[0])


@pytest.mark.parametrize("cls, given", [("RNN", "none"), ("GRU", "none"), ("LSTM", "none"), ("LSTM", "c0 only")])
def test_a_missing_initial_state_is_zeros_as_in_torch(torch, cls, given):
    ours, theirs = torch_pair(torch, cls, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(7)
    x, c0 = rng.standard_normal((5, 3, 3)), rng.standard_normal((4, 3, 4))
    g = rng.standard_normal((5, 3, 8))
    hx = (None, c0) if given == "c0 only" else None
    out, _ = ours(x, hx)
    dx, d_state0 = ours.backward(g)
    x_t, c0_t = torch.tensor(x, requires_grad=True), torch.tensor(c0, requires_grad=True)
    hx_t = (torch.zeros(4, 3, 4), c0_t) if given == "c0 only" else None
    out_t, _ = theirs(x_t, hx_t)
    (out_t * torch.tensor(g)).sum().backward()
    close(out, out_t)
    close(dx, x_t.grad)
    if given == "c0 only":
        close(d_state0[1], c0_t.grad)
    for name, param in theirs.named_parameters():
        close(ours.grads[name], param.grad)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_dropout_warns_where_torch_warns(torch, cls, num_layers):
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        getattr(minirnn, cls)(3, 4, num_layers=num_layers, dropout=0.5)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        getattr(torch.nn, cls)(3, 4, num_layers=num_layers, dropout=0.5)
    assert [w.category for w in ours] == [w.category for w in theirs] == [UserWarning] * (num_layers == 1)
    assert all("num_layers greater than 1" in str(w.message) for w in ours + theirs)
