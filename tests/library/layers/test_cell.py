"""RNNCell, LSTMCell and GRUCell (minirnn/layers/cell.py): one step gives what the sequence layer
gives over that step, batched or not, and what torch.nn's cells give in float64 (skipped without torch).
"""
import numpy as np
import pytest

import minirnn
from minirnn.cell_kinds import CELL_KINDS
from minirnn.core.param_names import CELL_PARAM_NAMES, layer_param_names


def as_pair(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("name", CELL_KINDS)
def test_single_steps_give_what_the_sequence_gives(name, rng):
    kind = CELL_KINDS[name]
    sequence, step = kind.build_layer(3, 4, dtype="float64", seed=0), kind.build_cell(3, 4, dtype="float64", seed=9)
    layer_params = sequence.state_dict()
    step.load_state_dict({name: layer_params[layer_name]
                          for name, layer_name in zip(CELL_PARAM_NAMES, layer_param_names(0, 0))})
    x = rng.standard_normal((5, 2, 3))
    out, _ = sequence(x)
    state = None
    for t in range(5):
        state = step(x[t], state)
        np.testing.assert_allclose(as_pair(state)[0], out[t], rtol=0, atol=1e-14)


@pytest.mark.parametrize("cls", [minirnn.RNNCell, minirnn.LSTMCell, minirnn.GRUCell])
def test_an_unbatched_step_gives_what_a_batch_of_one_gives(cls, rng):
    unbatched, batched = cls(3, 4, dtype="float64", seed=0), cls(3, 4, dtype="float64", seed=0)
    lstm = cls is minirnn.LSTMCell
    x, h, c, g, gc = (rng.standard_normal(n) for n in (3, 4, 4, 4, 4))
    out = unbatched(x, (h, c) if lstm else h)
    dx, d_prev = unbatched.backward((g, gc) if lstm else g)
    out_1 = batched(x[None], (h[None], c[None]) if lstm else h[None])
    dx_1, d_prev_1 = batched.backward((g[None], gc[None]) if lstm else g[None])
    assert dx.shape == (3,) and all(a.shape == (4,) for a in as_pair(out) + as_pair(d_prev))
    np.testing.assert_array_equal(dx[None], dx_1)
    for a, b in zip(as_pair(out) + as_pair(d_prev), as_pair(out_1) + as_pair(d_prev_1)):
        np.testing.assert_array_equal(a[None], b)
    for name in batched.grads:
        np.testing.assert_array_equal(unbatched.grads[name], batched.grads[name])


TOL = 1e-10


def torch_pair(torch, cls, **kwargs):
    ours = getattr(minirnn, cls)(3, 4, dtype="float64", seed=0, **kwargs)
    theirs = getattr(torch.nn, cls)(3, 4, **kwargs)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=TOL)


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
