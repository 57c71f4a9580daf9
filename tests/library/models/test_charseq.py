"""CharSeqRNN (minirnn/models/charseq.py), the course notebook's models on a recurrent layer, against the
notebook's torch modules in float64; its options (every_step, identity_init, dropout between layers) and the
state handed from batch to batch. Each torch module is the notebook's, in the current torch API, with the
initial state given instead of made inside.
"""
import numpy as np
import pytest

import minirnn
from minirnn import optim
from minirnn.models import CharSeqRNN

TOL = 1e-10
V, F, H = 9, 4, 5      # vocabulary, n_fac, n_hidden


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=TOL)


def load_into(torch, module, model):
    module.load_state_dict({name: torch.tensor(value) for name, value in model.state_dict().items()})
    return module


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def notebook_char_seq(torch, cell, num_layers, every_step):
    """The notebook's CharRnn (every_step False), CharSeqRnn, CharSeqStatefulRnn, CharSeqStatefulLSTM and
    CharSeqStatefulLSTM2 (2 layers, dropout 0.25): e, rnn, l_out, and log_softmax of l_out's output."""
    nn, fn = torch.nn, torch.nn.functional

    class CharSeq(nn.Module):
        def __init__(self):
            super().__init__()
            self.e = nn.Embedding(V, F)
            recurrent = {"rnn": nn.RNN, "lstm": nn.LSTM}[cell]
            self.rnn = recurrent(F, H, num_layers, dropout=0.25 if num_layers > 1 else 0.0)
            self.l_out = nn.Linear(H, V)

        def forward(self, cs, h):
            outp, h = self.rnn(self.e(cs), h)
            return fn.log_softmax(self.l_out(outp if every_step else outp[-1]), dim=-1), h

    return CharSeq()


ROWS = {   # the notebook's model: (cell, num_layers, every_step)
    "CharRnn": ("rnn", 1, False),
    "CharSeqRnn": ("rnn", 1, True),
    "CharSeqStatefulLSTM": ("lstm", 1, True),
    "CharSeqStatefulLSTM2": ("lstm", 2, True),
    "CharRnn on an LSTM of 2 layers": ("lstm", 2, False),
}


@pytest.mark.parametrize("row", ROWS)
def test_char_seq_rnn_matches_the_notebook_model(torch, row):
    """Outputs, the state handed on and every gradient, that of the state handed in included.
    The two-layer models run in evaluation mode, where dropout is off in both libraries."""
    cell, num_layers, every_step = ROWS[row]
    ours = CharSeqRNN(V, F, H, cell, num_layers, dropout=0.25 if num_layers > 1 else 0.0, every_step=every_step,
                      dtype="float64", seed=2)
    theirs = load_into(torch, notebook_char_seq(torch, cell, num_layers, every_step), ours)
    if num_layers > 1:
        ours.eval()
        theirs.eval()
    rng = np.random.default_rng(2)
    T, B, n_states = 6, 3, 2 if cell == "lstm" else 1
    cs = rng.integers(0, V, (T, B))
    state0 = tuple(rng.standard_normal((num_layers, B, H)) for _ in range(n_states))
    g_logp = rng.standard_normal((T, B, V) if every_step else (B, V))
    g_state = tuple(rng.standard_normal((num_layers, B, H)) for _ in range(n_states))
    unpack = (lambda s: s) if n_states == 2 else (lambda s: s[0])

    logp, state = ours(cs, unpack(state0))
    d_state0 = ours.backward(g_logp, unpack(g_state))
    state0_t = tuple(torch.tensor(s, requires_grad=True) for s in state0)
    logp_t, state_t = theirs(torch.tensor(cs), unpack(state0_t))
    loss_t = (logp_t * torch.tensor(g_logp)).sum() + sum((s * torch.tensor(g)).sum()
                                                         for s, g in zip(as_tuple(state_t), g_state))
    loss_t.backward()

    close(logp, logp_t)
    for mine, theirs_state in zip(as_tuple(state), as_tuple(state_t)):
        close(mine, theirs_state)
    for mine, given in zip(as_tuple(d_state0), state0_t):
        close(mine, given.grad)
    for name, param in theirs.named_parameters():
        close(ours.grads[name], param.grad)


@pytest.mark.parametrize("row", ROWS)
def test_the_notebook_models_state_dict_loads_into_ours(torch, row):
    cell, num_layers, every_step = ROWS[row]
    theirs = notebook_char_seq(torch, cell, num_layers, every_step).eval()
    ours = CharSeqRNN(V, F, H, cell, num_layers, every_step=every_step, dtype="float64", seed=3).eval()
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    cs = np.random.default_rng(3).integers(0, V, (6, 3))
    logp, state = ours(cs)
    logp_t, state_t = theirs(torch.tensor(cs), None)
    close(logp, logp_t)
    for mine, theirs_state in zip(as_tuple(state), as_tuple(state_t)):
        close(mine, theirs_state)


def test_identity_init_sets_weight_hh_as_the_notebook_does(torch):
    ours = CharSeqRNN(V, F, H, identity_init=True, seed=3)
    theirs = notebook_char_seq(torch, "rnn", 1, True)
    theirs.rnn.weight_hh_l0.data.copy_(torch.eye(H))
    np.testing.assert_array_equal(ours.params["rnn.weight_hh_l0"], theirs.rnn.weight_hh_l0.detach().numpy())
    assert ours.params["rnn.weight_hh_l0"].dtype == np.float32


def test_identity_init_sets_every_layer_and_leaves_the_rest_as_drawn():
    plain = CharSeqRNN(V, F, H, num_layers=2, seed=4)
    identity = CharSeqRNN(V, F, H, num_layers=2, identity_init=True, seed=4)
    for name, value in identity.params.items():
        expected = np.eye(H) if name.startswith("rnn.weight_hh") else plain.params[name]
        np.testing.assert_array_equal(value, expected)


def test_row_9_training_matches_torch_with_the_state_handed_between_batches(torch):
    """The notebook's last row in small: a 2-layer LSTM trained by Adam with weight decay 1e-5 under cosine
    annealing with warm restarts (cycles of 3, 6, 12 steps), the state handed from each batch to the next
    and cut there (detach). After 11 steps, every parameter is torch's (dropout 0: masks are random)."""
    ours = CharSeqRNN(V, F, H, "lstm", 2, dtype="float64", seed=5)
    theirs = load_into(torch, notebook_char_seq(torch, "lstm", 2, True), ours)
    theirs.rnn.dropout = 0.0
    base_lr, cycle = 1e-2, 3
    optimizer = optim.Adam(ours, lr=base_lr, weight_decay=1e-5)
    optimizer_t = torch.optim.Adam(theirs.parameters(), lr=base_lr, weight_decay=1e-5)
    scheduler_t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer_t, T_0=cycle, T_mult=2)
    text = np.random.default_rng(5).integers(0, V, (8 * 11 + 1, 4))   # 4 streams of characters
    state, state_t = None, None
    for step in range(1, 12):
        cs, target = text[8 * (step - 1):8 * step], text[8 * (step - 1) + 1:8 * step + 1]
        optimizer.lr = base_lr * optim.cosine_warm_restarts(step, cycle, 2)
        optimizer.zero_grad()
        logp, state = ours(cs, state)
        loss, d_logp = minirnn.nll_loss(logp, target)
        ours.backward(d_logp)
        optimizer.step()

        optimizer_t.zero_grad()
        logp_t, state_t = theirs(torch.tensor(cs), state_t)
        torch.nn.functional.nll_loss(logp_t.reshape(-1, V), torch.tensor(target).reshape(-1)).backward()
        optimizer_t.step()
        scheduler_t.step()
        state_t = tuple(s.detach() for s in state_t)            # the notebook's repackage_var
        assert abs(loss - torch.nn.functional.nll_loss(logp_t.reshape(-1, V), torch.tensor(target).reshape(-1))
                   .item()) <= 1e-9
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(ours.params[name], param.detach().numpy(), rtol=0, atol=1e-9)


def test_dropout_acts_between_the_layers_only():
    """In training mode the model is its recurrent layer (dropout between its layers) and l_out, with no
    dropout of its own: the same as running those parts one after the other from the same generators."""
    model = CharSeqRNN(V, F, H, "lstm", num_layers=2, dropout=0.5, dtype="float64", seed=6)
    cs = np.random.default_rng(6).integers(0, V, (5, 3))
    rng_state = model.rng_state()
    logp, _ = model(cs)
    model.set_rng_state(rng_state)
    h, _ = model.rnn(model.e(cs))
    logits = model.l_out(h)
    np.testing.assert_allclose(logp, logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True)), rtol=0, atol=1e-12)
    with model.evaluating():
        assert not np.allclose(model(cs)[0], logp)                    # the masks did change the training output


def test_state_handed_on_equals_one_long_forward():
    model = CharSeqRNN(V, F, H, "lstm", num_layers=2, dtype="float64", seed=7)
    cs = np.random.default_rng(7).integers(0, V, (10, 3))
    whole, _ = model(cs)
    first, state = model(cs[:4])
    second, _ = model(cs[4:], state)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=0, atol=1e-12)


def test_last_step_prediction_is_the_every_step_prediction_at_the_last_step():
    every = CharSeqRNN(V, F, H, "gru", num_layers=2, dtype="float64", seed=8)
    last = CharSeqRNN(V, F, H, "gru", num_layers=2, every_step=False, dtype="float64", seed=8)
    cs = np.random.default_rng(8).integers(0, V, (6, 3))
    np.testing.assert_array_equal(last(cs)[0], every(cs)[0][-1])


def test_the_caller_state_gradient_is_left_unchanged_by_a_last_step_backward():
    model = CharSeqRNN(V, F, H, "lstm", every_step=False, dtype="float64", seed=9)
    rng = np.random.default_rng(9)
    logp, _ = model(rng.integers(0, V, (4, 2)))
    d_state = (rng.standard_normal((1, 2, H)), rng.standard_normal((1, 2, H)))
    kept = tuple(d.copy() for d in d_state)
    model.backward(np.ones_like(logp), d_state)
    for d, k in zip(d_state, kept):
        np.testing.assert_array_equal(d, k)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(cell="lstm", identity_init=True), ValueError,
     "identity_init sets weight_hh to the identity, which is square for cell='rnn' only, got cell='lstm'"),
    (dict(every_step=1), ValueError, "every_step must be True or False, got 1"),
    (dict(identity_init="yes"), ValueError, "identity_init must be True or False, got 'yes'"),
    (dict(cell="transformer"), ValueError, "cell must be one of"),
    (dict(num_layers=0), ValueError, "num_layers must be a positive integer, got 0"),
])
def test_char_seq_rnn_refuses_bad_arguments_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        CharSeqRNN(V, F, H, **kwargs)


def test_ids_outside_the_vocabulary_are_refused():
    with pytest.raises(ValueError, match=r"cs must hold ids in \[0, 9\), got 9"):
        CharSeqRNN(V, F, H, every_step=False, seed=0)(np.full((2, 2), 9))


def test_a_last_step_gradient_of_the_wrong_shape_is_refused():
    model = CharSeqRNN(V, F, H, every_step=False, seed=0)
    model(np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match=r"d_logp must be \(2, 9\) float array, got \(3, 2, 9\) float32"):
        model.backward(np.zeros((3, 2, V), dtype=np.float32))
