"""minirnn against torch.nn in float64: outputs, final states and every gradient to 1e-10.

Skipped when torch is not installed; torch is never a dependency of minirnn.
"""
import warnings

import numpy as np
import pytest

import minirnn
from minirnn.models import CharLoopModel

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


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("lead", [(2,), ()], ids=["batch", "unbatched"])
def test_single_step_cells_match_torch(torch, cls, lead):
    ours, theirs = torch_pair(torch, cls)
    rng = np.random.default_rng(1)
    x, h, c, g, gc = (rng.standard_normal((*lead, n)) for n in (3, 4, 4, 4, 4))   # (B, n), or (n,) unbatched
    lstm = cls == "LSTMCell"
    out = ours(x, (h, c) if lstm else h)
    dx, d_prev = ours.backward((g, gc) if lstm else g)
    x_t, h_t, c_t = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    out_t = theirs(x_t, (h_t, c_t) if lstm else h_t)
    loss = ((out_t[0] * torch.tensor(g)).sum() + (out_t[1] * torch.tensor(gc)).sum()) if lstm \
        else (out_t * torch.tensor(g)).sum()
    loss.backward()
    for a, b in zip(out if lstm else (out,), out_t if lstm else (out_t,)):
        close(a, b)
    close(dx, x_t.grad)
    close(d_prev[0] if lstm else d_prev, h_t.grad)
    if lstm:
        close(d_prev[1], c_t.grad)
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


def article_model(torch, vocab_size, n_fac, n_hidden):
    """The article's CharLoopModel in PyTorch (CPU, current API)."""
    nn, F = torch.nn, torch.nn.functional

    class CharLoopModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.e = nn.Embedding(vocab_size, n_fac)
            self.l_in = nn.Linear(n_fac, n_hidden)
            self.l_hidden = nn.Linear(n_hidden, n_hidden)
            self.l_out = nn.Linear(n_hidden, vocab_size)

        def forward(self, *cs):
            h = torch.zeros(cs[0].size(0), n_hidden)
            for c in cs:
                inp = F.relu(self.l_in(self.e(c)))
                h = torch.tanh(self.l_hidden(h + inp))
            return F.log_softmax(self.l_out(h), dim=-1)

    return CharLoopModel()


def test_char_loop_model_matches_the_article_model_in_torch(torch):
    ours, theirs = CharLoopModel(12, 5, 7, dtype="float64", seed=0), article_model(torch, 12, 5, 7)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(3)
    cs, target = rng.integers(0, 12, (8, 4)), rng.integers(0, 12, 4)
    loss, d_logp = minirnn.nll_loss(ours(cs), target)
    ours.backward(d_logp)
    logp_t = theirs(*[torch.tensor(c) for c in cs])
    loss_t = torch.nn.functional.nll_loss(logp_t, torch.tensor(target))
    loss_t.backward()
    assert abs(loss - loss_t.item()) <= TOL
    for name, param in theirs.named_parameters():
        close(ours.grads[name], param.grad)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_our_state_dict_loads_into_torch(torch, cls):
    ours = getattr(minirnn, cls)(3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=5)
    theirs = getattr(torch.nn, cls)(3, 4, num_layers=2, bidirectional=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((5, 2, 3))
    close(ours(x)[0], theirs(torch.tensor(x))[0])


def test_char_loop_state_dict_loads_into_the_article_model(torch):
    ours, theirs = CharLoopModel(6, 3, 4, dtype="float64", seed=1), article_model(torch, 6, 3, 4)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    cs = np.random.default_rng(5).integers(0, 6, (4, 2))
    close(ours(cs), theirs(*[torch.tensor(c) for c in cs]))


@pytest.mark.parametrize("shape", [(4, 7), (3, 4, 7)])
def test_losses_match_torch(torch, shape):
    rng = np.random.default_rng(6)
    logits = rng.standard_normal(shape)
    target = rng.integers(0, 7, shape[:-1])
    target.flat[0] = 2
    loss, d_logits = minirnn.cross_entropy(logits, target, ignore_index=2)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t.reshape(-1, 7), torch.tensor(target).reshape(-1),
                                               ignore_index=2)
    loss_t.backward()
    assert abs(loss - loss_t.item()) <= TOL
    close(d_logits, logits_t.grad)


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
