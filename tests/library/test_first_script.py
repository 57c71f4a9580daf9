"""A torch user's first script: an Embedding, an LSTM and a Linear trained by one optimizer over all three, with
parameters(), named_parameters() and clip_grad_norm as in torch. It trains; it takes the same steps as torch
does; and each mistake a torch user makes on the way (a torch tensor, a float64 array, a list of arrays) gets one
sentence saying what to pass. The parts that need torch skip without it."""
import numpy as np
import pytest

import minirnn
from minirnn.optim import Adam, clip_grad_norm

TEXT = "the cat sat on the mat. the dog sat on the log. " * 3
CHARS = sorted(set(TEXT))
IDS = np.array([CHARS.index(c) for c in TEXT])
V, E, H = len(CHARS), 8, 16
STEPS, LR, MAX_NORM = 30, 0.02, 0.2


def first_script(dtype="float32"):
    """The script as a torch user writes it with minirnn; returns (losses, norms, modules)."""
    emb = minirnn.Embedding(V, E, dtype=dtype, seed=0)
    lstm = minirnn.LSTM(E, H, dtype=dtype, seed=1)
    head = minirnn.Linear(H, V, dtype=dtype, seed=2)
    optimizer = Adam([emb, lstm, head], lr=LR)
    x, y = IDS[:-1, None], IDS[1:, None]                  # (T, 1): one sequence, the next character as target
    losses, norms = [], []
    for _ in range(STEPS):
        optimizer.zero_grad()
        out, _ = lstm(emb(x))                             # (T, 1, H)
        loss, d_logits = minirnn.cross_entropy(head(out), y)
        d_x, _ = lstm.backward(head.backward(d_logits))   # back through the head, then BPTT
        emb.backward(d_x)
        norms.append(clip_grad_norm([emb, lstm, head], MAX_NORM))
        optimizer.step()
        losses.append(loss)
    return losses, norms, (emb, lstm, head)


def test_the_first_script_trains():
    losses, norms, _ = first_script()
    assert losses[-1] < 0.6 * losses[0]
    assert sum(norm > MAX_NORM for norm in norms) >= STEPS // 3     # clipping had work to do


def test_the_first_script_counts_and_names_its_parameters_as_torch_does():
    _, _, (emb, lstm, head) = first_script()
    assert sum(p.size for m in (emb, lstm, head) for p in m.parameters()) == (
        V * E + 4 * H * (E + H + 2) + V * (H + 1))
    assert [name for name, _ in lstm.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


def test_the_first_script_takes_torchs_steps(torch):
    losses, norms, _ = first_script("float64")
    start = first_script_modules_at_start()
    t_emb, t_lstm, t_head = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H), torch.nn.Linear(H, V)
    for ours, theirs in zip(start, (t_emb, t_lstm, t_head)):
        with torch.no_grad():
            for name, param in theirs.named_parameters():
                param.copy_(torch.from_numpy(getattr(ours, name)))   # torch's names are minirnn's attributes
    optimizer = torch.optim.Adam([*t_emb.parameters(), *t_lstm.parameters(), *t_head.parameters()], lr=LR)
    x, y = torch.from_numpy(IDS[:-1, None]), torch.from_numpy(IDS[1:])
    for step in range(STEPS):
        optimizer.zero_grad()
        out, _ = t_lstm(t_emb(x))
        loss = torch.nn.functional.cross_entropy(t_head(out)[:, 0], y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([*t_emb.parameters(), *t_lstm.parameters(), *t_head.parameters()],
                                              MAX_NORM)
        optimizer.step()
        assert abs(losses[step] - loss.item()) <= 1e-9 and abs(norms[step] - norm.item()) <= 1e-9


def first_script_modules_at_start():
    """The script's three modules before any step (the same seeds)."""
    return (minirnn.Embedding(V, E, dtype="float64", seed=0), minirnn.LSTM(E, H, dtype="float64", seed=1),
            minirnn.Linear(H, V, dtype="float64", seed=2))


def one_sentence(call) -> str:
    with pytest.raises((TypeError, ValueError)) as error:
        call()
    message = str(error.value)
    assert "\n" not in message and message.count(". ") == 0, message
    return message


def test_a_float64_array_from_numpys_defaults_gets_one_sentence():
    lstm = minirnn.LSTM(E, H)
    x = np.random.default_rng(0).standard_normal((5, 2, E))
    assert one_sentence(lambda: lstm(x)) == ("x must be float32 like the model, got (5, 2, 8) float64: convert it "
                                             "with .astype('float32'), or build the model with dtype='float64'")


def test_a_list_of_arrays_or_a_number_gets_one_sentence_when_the_optimizer_is_built():
    emb, lstm, head = first_script_modules_at_start()
    assert "not a minirnn Module's parameter" in one_sentence(lambda: Adam([np.zeros(3)]))
    assert one_sentence(lambda: Adam(42)).startswith("Adam takes a Module, a list of Modules, or named parameters")
    Adam([*emb.parameters(), *lstm.parameters(), *head.parameters()])    # torch's own habit works too


def test_torch_tensors_passed_by_mistake_get_one_sentence_each(torch):
    emb, lstm, head = first_script_modules_at_start()
    t_lstm = torch.nn.LSTM(E, H)
    x = torch.zeros(5, 2, E, requires_grad=True)
    messages = [
        one_sentence(lambda: lstm(x)),
        one_sentence(lambda: emb(torch.zeros(5, 2, dtype=torch.int64))),
        one_sentence(lambda: minirnn.cross_entropy(torch.zeros(5, V), np.zeros(5, np.int64))),
        one_sentence(lambda: lstm.load_state_dict(t_lstm.state_dict())),
        one_sentence(lambda: Adam(t_lstm.parameters())),
        one_sentence(lambda: clip_grad_norm(t_lstm.parameters(), 1.0)),
    ]
    assert messages[0] == ("x is a torch tensor that requires grad, and minirnn computes on NumPy arrays: "
                           "pass x.detach().numpy()")
    assert all(" is a torch tensor" in m and ".numpy()" in m for m in messages), messages
    lstm.load_state_dict({name: value.numpy() for name, value in t_lstm.state_dict().items()})   # as told: works
