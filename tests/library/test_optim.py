"""minirnn.optim: every optimizer's steps against the same steps computed by hand, clipping, schedules."""
import json
import math

import numpy
import pytest

from minirnn import Module, optim


class Weights(Module):
    """A user's module of bare float64 weights, whose gradients the tests write by hand."""

    def __init__(self, **params):
        super().__init__("float64")
        for name, value in params.items():
            self.add_param(name, numpy.array(value, dtype=numpy.float64))


P0 = [1.0, -2.0, 0.5]
GRADS = [[0.1, 0.2, -0.3], [-0.5, 0.4, 0.0], [0.3, -0.1, 0.2]]   # the gradient at each of three steps


def run_steps(optimizer, model):
    history = []
    for grad in GRADS:
        model.grads["w"][...] = grad
        optimizer.step()
        history.append(model.params["w"].copy())
    return history


def test_sgd_plain_step_is_lr_times_gradient():
    model = Weights(w=P0)
    got = run_steps(optim.SGD(model, lr=0.1), model)
    p = numpy.array(P0)
    for step, grad in enumerate(GRADS):
        p = p - 0.1 * numpy.array(grad)
        assert numpy.allclose(got[step], p, rtol=0, atol=1e-15)


def test_sgd_momentum_weight_decay_and_nesterov_by_hand():
    for nesterov in (False, True):
        model = Weights(w=P0)
        got = run_steps(optim.SGD(model, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01), model)
        p, buf = numpy.array(P0), None
        for step, grad in enumerate(GRADS):
            g = numpy.array(grad) + 0.01 * p
            buf = g if buf is None else 0.9 * buf + g
            p = p - 0.1 * (g + 0.9 * buf if nesterov else buf)
            assert numpy.allclose(got[step], p, rtol=0, atol=1e-15)


def test_adagrad_is_min_char_rnn_update():
    model = Weights(w=P0)
    got = run_steps(optim.Adagrad(model, lr=0.1), model)
    p, mem = numpy.array(P0), numpy.zeros(3)
    for step, grad in enumerate(GRADS):
        g = numpy.array(grad)
        mem += g * g                                   # min-char-rnn: mem += dparam * dparam
        p += -0.1 * g / numpy.sqrt(mem + 1e-8)         # param += -learning_rate * dparam / np.sqrt(mem + 1e-8)
        assert numpy.allclose(got[step], p, rtol=0, atol=1e-15)


def adam_by_hand(decoupled: bool, weight_decay: float):
    p, m, v = numpy.array(P0), numpy.zeros(3), numpy.zeros(3)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    history = []
    for t, grad in enumerate(GRADS, start=1):
        g = numpy.array(grad)
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (numpy.sqrt(v_hat) + eps)
        history.append(p)
    return history


def test_adam_with_l2_weight_decay_by_hand():
    model = Weights(w=P0)
    got = run_steps(optim.Adam(model, lr=0.01, weight_decay=0.1), model)
    for mine, hand in zip(got, adam_by_hand(decoupled=False, weight_decay=0.1)):
        assert numpy.allclose(mine, hand, rtol=1e-13, atol=0)


def test_adamw_decouples_weight_decay_by_hand():
    model = Weights(w=P0)
    got = run_steps(optim.AdamW(model, lr=0.01, weight_decay=0.1), model)
    for mine, hand in zip(got, adam_by_hand(decoupled=True, weight_decay=0.1)):
        assert numpy.allclose(mine, hand, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name, kwargs", [
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", dict(lr=0.01, weight_decay=0.1)),
    ("adamw", dict(lr=0.01, weight_decay=0.1)),
])
def test_optimizers_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    model = Weights(w=P0)
    got = run_steps(optim.OPTIMIZERS[name](model, **kwargs), model)
    weight = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float64))
    reference = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
                 "adamw": torch.optim.AdamW}[name]([weight], **kwargs)
    for step, grad in enumerate(GRADS):
        weight.grad = torch.tensor(grad, dtype=torch.float64)
        reference.step()
        assert numpy.allclose(got[step], weight.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_state_dict_resumes_the_same_steps():
    model = Weights(w=P0)
    optimizer = optim.Adam(model, lr=0.01)
    model.grads["w"][...] = GRADS[0]
    optimizer.step()
    arrays, meta = optimizer.state_dict()
    json.dumps(meta)                                          # the metadata is JSON as it stands
    same_weights = Weights(w=model.params["w"])
    restored = optim.Adam(same_weights, lr=0.5)
    restored.load_state_dict(arrays, json.loads(json.dumps(meta)))
    for grad in GRADS[1:]:
        for m in (model, same_weights):
            m.grads["w"][...] = grad
        optimizer.step()
        restored.step()
    assert (model.params["w"] == same_weights.params["w"]).all()


def test_load_state_dict_refuses_another_optimizer():
    arrays, meta = optim.SGD(Weights(w=P0), lr=0.1).state_dict()
    with pytest.raises(ValueError, match="for 'SGD', not Adam"):
        optim.Adam(Weights(w=P0)).load_state_dict(arrays, meta)


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm():
    grads = {"a": numpy.array([3.0, 0.0]), "b": numpy.array([[0.0], [4.0]])}
    norm = optim.clip_grad_norm(grads, 1.0)
    assert norm == 5.0
    assert numpy.isclose(math.sqrt(sum((g ** 2).sum() for g in grads.values())), 1.0, atol=1e-6)
    assert numpy.allclose(grads["a"], [0.6, 0.0], atol=1e-6)


def test_clip_grad_norm_leaves_small_gradients_and_reports_nan():
    grads = {"a": numpy.array([0.3, 0.4])}
    assert optim.clip_grad_norm(grads, 1.0) == pytest.approx(0.5) and grads["a"].tolist() == [0.3, 0.4]
    assert math.isnan(optim.clip_grad_norm({"a": numpy.array([numpy.nan, 1.0])}, 1.0))


def test_warmup_cosine_rises_then_falls_to_the_floor():
    factors = [optim.warmup_cosine(step, total_steps=110, warmup_steps=10, min_factor=0.1) for step in range(1, 111)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[59] == pytest.approx(0.1 + 0.9 * 0.5)             # half way through the cosine
    assert factors[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))


def test_step_decay_multiplies_by_gamma_every_step_size():
    assert [optim.step_decay(step, 2, 0.5) for step in range(1, 7)] == [1, 1, 0.5, 0.5, 0.25, 0.25]


@pytest.mark.parametrize("schedule, args, message", [
    (optim.warmup_cosine, (-5, 10, 2), "step must be a positive integer, got -5"),
    (optim.warmup_cosine, (0, 10), "step must be a positive integer, got 0"),
    (optim.warmup_cosine, (1, 0), "total_steps must be a positive integer, got 0"),
    (optim.warmup_cosine, (1, 10, -1), "warmup_steps must be an integer >= 0, got -1"),
    (optim.warmup_cosine, (1, 10, 2, 1.5), r"min_factor must be a number in \[0, 1\], got 1.5"),
    (optim.warmup_cosine, (1, 10, 2, float("nan")), "min_factor must be a finite number >= 0, got nan"),
    (optim.step_decay, (3, 0), "step_size must be a positive integer, got 0"),
    (optim.step_decay, (0, 2), "step must be a positive integer, got 0"),
    (optim.step_decay, (3, 2.5), "step_size must be a positive integer, got 2.5"),
    (optim.step_decay, (3, 2, -0.5), "gamma must be a finite number >= 0, got -0.5"),
])
def test_schedules_refuse_arguments_out_of_range_by_name(schedule, args, message):
    with pytest.raises(ValueError, match=message):
        schedule(*args)


def test_bad_hyperparameters_name_the_argument():
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        optim.SGD(Weights(w=P0), lr=-1)
    with pytest.raises(ValueError, match=r"betas\[1\] must be a number in \[0, 1\), got 1"):
        optim.Adam(Weights(w=P0), betas=(0.9, 1))


def test_optimizer_state_follows_a_model_converted_with_astype():
    import minirnn
    from minirnn.optim import Adam
    model = minirnn.RNN(2, 3, seed=0)
    optimizer = Adam(model, lr=0.1)
    x = numpy.random.default_rng(0).standard_normal((3, 1, 2))
    for _ in range(2):
        model.zero_grad()
        out, _ = model(x.astype(model.dtype))
        model.backward(numpy.ones_like(out))
        optimizer.step()
        model.astype("float64")
    assert all(s.dtype == numpy.float64 for slots in optimizer.state.values() for s in slots.values())


@pytest.mark.parametrize("cls, settings, message", [
    (optim.Adam, dict(eps=1e30), r"eps must be a number in \(0, 1\), got 1e\+30"),
    (optim.Adagrad, dict(eps=0.0), "eps must be a finite number > 0"),
    (optim.AdamW, dict(weight_decay=-50), "weight_decay must be a finite number >= 0, got -50"),
    (optim.SGD, dict(momentum=0.9, nesterov="yes"), "nesterov must be True or False, got 'yes'"),
])
def test_settings_out_of_range_are_refused_by_name(cls, settings, message):
    with pytest.raises(ValueError, match=message):
        cls(Weights(w=P0), **settings)


def adam_after_one_step():
    model = Weights(w=P0)
    optimizer = optim.Adam(model, lr=0.01)
    model.grads["w"][...] = GRADS[0]
    optimizer.step()
    return optimizer


@pytest.mark.parametrize("damage, message", [
    (lambda arrays, meta: arrays.pop("w/exp_avg_sq"), r"missing \['w/exp_avg_sq'\]"),
    (lambda arrays, meta: arrays.update({"w/extra": arrays["w/exp_avg"]}), r"unexpected \['w/extra'\]"),
    (lambda arrays, meta: meta.update(step_count=-1), r"step_count must be an integer in \[0, 2\*\*63\), got -1"),
    (lambda arrays, meta: meta.update(step_count=0), r"missing \[\], unexpected \['w/exp_avg', 'w/exp_avg_sq'\]"),
    (lambda arrays, meta: meta["hyper"].update(eps=1e30), r"eps must be a number in \(0, 1\)"),
    (lambda arrays, meta: meta["hyper"].update(model="x"), "Adam's settings must be"),
    (lambda arrays, meta: arrays.update({"w/exp_avg_sq": -arrays["w/exp_avg_sq"] - 1}), "sum of squares"),
    (lambda arrays, meta: arrays.update({"w/exp_avg": arrays["w/exp_avg"][:2]}), "must have its parameter's shape"),
])
def test_load_state_dict_refuses_an_incomplete_or_out_of_range_state_and_changes_nothing(damage, message):
    arrays, meta = adam_after_one_step().state_dict()
    damage(arrays, meta)
    target = adam_after_one_step()
    before = (target.eps, target.step_count, {k: v.copy() for k, v in target.state["w"].items()})
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(arrays, meta)
    assert (target.eps, target.step_count) == before[:2]
    assert all((target.state["w"][k] == v).all() for k, v in before[2].items())


def test_plain_sgd_keeps_no_state_and_momentum_sgd_a_buffer_per_parameter():
    assert optim.SGD.state_shapes({"momentum": 0.0}, 5, {"w": (3,)}) == {}
    assert optim.SGD.state_shapes({"momentum": 0.9}, 5, {"w": (3,)}) == {"w/momentum_buffer": (3,)}
    assert optim.Adam.state_shapes({}, 0, {"w": (3,)}) == {}


# -- what an optimizer takes ------------------------------------------------------------------------------
def three_modules():
    import minirnn
    return minirnn.Embedding(7, 3, seed=0), minirnn.LSTM(3, 5, seed=1), minirnn.Linear(5, 7, seed=2)


def fill_gradients(*modules):
    """Every gradient set to a distinct value, as a backward would leave them."""
    rng = numpy.random.default_rng(0)
    for module in modules:
        for grad in module.grads.values():
            grad[...] = rng.standard_normal(grad.shape)


def test_a_list_of_modules_is_optimized_under_prefixed_names_as_each_module_alone():
    emb, lstm, head = three_modules()
    copies = three_modules()
    together = optim.Adam([emb, lstm, head], lr=0.1)
    alone = [optim.Adam(module, lr=0.1) for module in copies]
    assert [name for name, _ in together.named_parameters()] == [
        "0.weight", "1.weight_ih_l0", "1.weight_hh_l0", "1.bias_ih_l0", "1.bias_hh_l0", "2.weight", "2.bias"]
    for _ in range(2):
        fill_gradients(emb, lstm, head)
        fill_gradients(*copies)
        together.step()
        for optimizer in alone:
            optimizer.step()
    for module, copy in zip((emb, lstm, head), copies):
        for name, value in module.params.items():
            numpy.testing.assert_array_equal(value, copy.params[name])


@pytest.mark.parametrize("given", [lambda m: m, lambda m: m.named_parameters(), lambda m: dict(m.named_parameters()),
                                   lambda m: m.params, lambda m: list(m.named_parameters())],
                         ids=["module", "named_parameters", "dict", "params", "list-of-pairs"])
def test_named_parameters_are_held_under_their_names(given):
    from minirnn.models import CharRNN
    model = CharRNN(7, emb=3, hidden=5, seed=0)
    optimizer = optim.SGD(given(model), lr=0.1)
    assert [name for name, _ in optimizer.named_parameters()] == list(model.params)
    assert all(value is model.params[name] for name, value in optimizer.named_parameters())


def test_bare_parameter_arrays_are_numbered_as_torch_numbers_them():
    emb, lstm, head = three_modules()
    optimizer = optim.SGD([*emb.parameters(), *lstm.parameters()], lr=0.1)
    assert [name for name, _ in optimizer.named_parameters()] == ["0", "1", "2", "3", "4"]
    fill_gradients(emb, lstm)
    before = lstm.weight_hh_l0.copy()
    optimizer.step()
    numpy.testing.assert_allclose(lstm.weight_hh_l0, before - 0.1 * lstm.grads["weight_hh_l0"], rtol=0, atol=1e-7)


def test_a_subset_of_parameters_is_all_that_steps_and_zero_grad_touch():
    emb, lstm, head = three_modules()
    optimizer = optim.SGD({"head.weight": head.weight}, lr=0.1)
    fill_gradients(emb, lstm, head)
    before = {name: value.copy() for name, value in [*lstm.params.items(), ("head.bias", head.bias)]}
    optimizer.step()
    assert all((value == before[name]).all() for name, value in [*lstm.params.items(), ("head.bias", head.bias)])
    optimizer.zero_grad()
    assert not head.grads["weight"].any() and head.grads["bias"].any() and lstm.grads["weight_hh_l0"].any()


ACCEPTS = r"Adam takes a Module, a list of Modules, or named parameters \(model\.named_parameters\(\), or a dict " \
          r"name -> array\), got "


@pytest.mark.parametrize("given, error, message", [
    (lambda e, l, h: 42, TypeError, ACCEPTS + "int$"),
    (lambda e, l, h: "lstm", TypeError, ACCEPTS + "str$"),
    (lambda e, l, h: [e, l, 3], TypeError, ACCEPTS + r"a list of Modules holding int at \[2\]$"),
    (lambda e, l, h: [3, e], TypeError, ACCEPTS + "a list holding int$"),
    (lambda e, l, h: l.weight_hh_l0, TypeError,
     ACCEPTS + r"one array \(20, 5\) float32: pass the module that holds it"),
    (lambda e, l, h: {"emb": e}, TypeError, ACCEPTS + r"a dict holding Embedding at \['emb'\]$"),
    (lambda e, l, h: [numpy.zeros(3)], TypeError,
     r"^Adam's params\['0'\] is \(3,\) float64, not a minirnn Module's parameter, so nothing computes its gradient: "
     r"register it with Module\.add_param and pass the module$"),
    (lambda e, l, h: [], ValueError, "^Adam got no parameters to optimize$"),
    (lambda e, l, h: [l, l], ValueError, r"^Adam got one array twice, as '0\.weight_ih_l0' and '1\.weight_ih_l0'"),
    (lambda e, l, h: [*e.named_parameters(), *h.named_parameters()], ValueError,
     r"^Adam got two parameters named 'weight': pass a list of modules, whose names are prefixed"),
], ids=["int", "str", "list-with-an-int", "int-first", "one-array", "dict-of-modules", "foreign-array", "empty",
        "module-twice", "same-name-twice"])
def test_anything_else_is_refused_when_the_optimizer_is_built_saying_what_it_takes(given, error, message):
    modules = three_modules()
    with pytest.raises(error, match=message):
        optim.Adam(given(*modules))


def test_an_optimizer_over_several_modules_saves_and_resumes_its_state():
    modules, copies = three_modules(), three_modules()
    optimizer = optim.Adam(list(modules), lr=0.1)
    fill_gradients(*modules)
    optimizer.step()
    arrays, meta = optimizer.state_dict()
    assert "1.weight_hh_l0/exp_avg" in arrays
    for module, copy in zip(modules, copies):
        copy.load_state_dict(module.state_dict())
    restored = optim.Adam(list(copies), lr=0.5)
    restored.load_state_dict(arrays, json.loads(json.dumps(meta)))
    fill_gradients(*modules)
    fill_gradients(*copies)
    optimizer.step()
    restored.step()
    for module, copy in zip(modules, copies):
        for name, value in module.params.items():
            numpy.testing.assert_array_equal(value, copy.params[name])


def test_a_checkpoint_refuses_an_optimizer_that_does_not_hold_its_model(tmp_path):
    from minirnn import checkpoint
    from minirnn.models import CharRNN
    model, other = CharRNN(7, emb=3, hidden=5, seed=0), CharRNN(7, emb=3, hidden=5, seed=1)
    with pytest.raises(ValueError, match=r"the optimizer saved with a model must hold the model's parameters under "
                                         r"its names \(build it as Adam\(model\)\), not 0, 1, 2, \.\.\.$"):
        checkpoint.save(tmp_path / "run.npz", model, optim.Adam(model.parameters()))
    with pytest.raises(ValueError, match=r"must hold that model's parameters, not another's"):
        checkpoint.save(tmp_path / "run.npz", model, optim.Adam(other))
    assert not list(tmp_path.iterdir())
    checkpoint.save(tmp_path / "run.npz", model, optim.Adam(model.named_parameters()))


# -- clip_grad_norm: what it takes ----------------------------------------------------------------------
def global_norm(modules):
    return math.sqrt(sum(float((g.astype(numpy.float64) ** 2).sum()) for m in modules for g in m.grads.values()))


@pytest.mark.parametrize("given, clipped", [
    (lambda ms: list(ms), [0, 1, 2]),
    (lambda ms: ms[1], [1]),
    (lambda ms: ms[1].named_parameters(), [1]),
    (lambda ms: [*ms[0].parameters(), *ms[2].parameters()], [0, 2]),
    (lambda ms: ms[1].grads, [1]),
    (lambda ms: list(ms[1].grads.values()), [1]),
], ids=["list-of-modules", "module", "named_parameters", "parameters", "grads", "list-of-grads"])
def test_clip_grad_norm_clips_the_gradients_of_what_an_optimizer_takes_or_the_gradients_given(given, clipped):
    modules = three_modules()
    fill_gradients(*modules)
    targets, others = [modules[i] for i in clipped], [m for i, m in enumerate(modules) if i not in clipped]
    before, untouched = global_norm(targets), [global_norm([m]) for m in others]
    assert optim.clip_grad_norm(given(modules), 0.5) == pytest.approx(before, rel=1e-12)
    assert global_norm(targets) == pytest.approx(0.5, rel=1e-5)
    assert [global_norm([m]) for m in others] == untouched


def test_clip_grad_norm_refuses_integer_gradients_in_one_sentence():
    with pytest.raises(TypeError, match=r"^clip_grad_norm scales gradients in place, so they must be float arrays; "
                                        r"params\['a'\] is \(2,\) int64$"):
        optim.clip_grad_norm({"a": numpy.array([3, 4])}, 1.0)
    with pytest.raises(TypeError, match=r"params\['1'\] is \(2,\) int64"):
        optim.clip_grad_norm([numpy.array([3.0, 4.0]), numpy.array([3, 4])], 1.0)


def test_clip_grad_norm_refuses_parameters_mixed_with_other_arrays():
    emb, lstm, head = three_modules()
    with pytest.raises(TypeError, match="clip_grad_norm got parameters and other arrays together"):
        optim.clip_grad_norm([lstm.weight_hh_l0, numpy.zeros(3)], 1.0)


def test_clip_grad_norm_refuses_what_is_neither_by_name():
    with pytest.raises(TypeError, match=r"^clip_grad_norm takes a Module, a list of Modules, or named parameters .*"
                                        r"got int$"):
        optim.clip_grad_norm(3, 1.0)
