"""CharLoopConcatModel (minirnn/models/charloopconcat.py) against the course notebook's model written in
torch, in float64: outputs, gradients and state dicts (skipped without torch).
"""
import numpy as np
import pytest

from minirnn.models import CharLoopConcatModel

TOL = 1e-10
V, F, H = 9, 4, 5      # vocabulary, n_fac, n_hidden


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=TOL)


def load_into(torch, module, model):
    module.load_state_dict({name: torch.tensor(value) for name, value in model.state_dict().items()})
    return module


def notebook_char_loop_concat(torch):
    nn, fn = torch.nn, torch.nn.functional

    class CharLoopConcatModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.e = nn.Embedding(V, F)
            self.l_in = nn.Linear(F + H, H)
            self.l_hidden = nn.Linear(H, H)
            self.l_out = nn.Linear(H, V)

        def forward(self, *cs):
            h = torch.zeros(cs[0].size(0), H)
            for c in cs:
                inp = torch.cat((h, self.e(c)), 1)
                inp = fn.relu(self.l_in(inp))
                h = torch.tanh(self.l_hidden(inp))
            return fn.log_softmax(self.l_out(h), dim=-1)

    return CharLoopConcatModel()


def test_char_loop_concat_model_matches_the_notebook_model(torch):
    ours = CharLoopConcatModel(V, F, H, dtype="float64", seed=1)
    theirs = load_into(torch, notebook_char_loop_concat(torch), ours)
    rng = np.random.default_rng(1)
    cs, g_logp = rng.integers(0, V, (8, 4)), rng.standard_normal((4, V))
    logp = ours(cs)
    ours.backward(g_logp)
    logp_t = theirs(*(torch.tensor(c) for c in cs))
    (logp_t * torch.tensor(g_logp)).sum().backward()
    close(logp, logp_t)
    for name, param in theirs.named_parameters():
        close(ours.grads[name], param.grad)


def test_char_loop_concat_state_dict_has_the_notebook_shapes(torch):
    theirs = notebook_char_loop_concat(torch)
    ours = CharLoopConcatModel(V, F, H, seed=0)
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()} == \
        {k: v.shape for k, v in ours.state_dict().items()}


def test_the_notebook_models_state_dict_loads_into_ours(torch):
    theirs = notebook_char_loop_concat(torch)
    ours = CharLoopConcatModel(V, F, H, dtype="float64", seed=2)
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    cs = np.random.default_rng(2).integers(0, V, (6, 3))
    close(ours(cs), theirs(*(torch.tensor(c) for c in cs)))


def test_ids_outside_the_vocabulary_are_refused():
    with pytest.raises(ValueError, match=r"cs must hold ids in \[0, 9\), got 9"):
        CharLoopConcatModel(V, F, H, seed=0)(np.full((2, 2), 9))
