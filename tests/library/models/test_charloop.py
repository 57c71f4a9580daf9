"""CharLoopModel (minirnn/models/charloop.py) against the article's model written in torch, in
float64: outputs, gradients and state dicts (skipped without torch).
"""
import numpy as np

import minirnn
from minirnn.models import CharLoopModel


TOL = 1e-10


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=TOL)


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


def test_char_loop_state_dict_loads_into_the_article_model(torch):
    ours, theirs = CharLoopModel(6, 3, 4, dtype="float64", seed=1), article_model(torch, 6, 3, 4)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    cs = np.random.default_rng(5).integers(0, 6, (4, 2))
    close(ours(cs), theirs(*[torch.tensor(c) for c in cs]))
