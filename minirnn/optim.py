"""Optimizers, gradient clipping and learning-rate schedules: ``minirnn.optim``, as torch.optim.

An optimizer takes what it updates as torch's does, and refuses anything else
when it is built:

    Adam(model)                       a Module: its parameters under its names
    Adam([emb, lstm, head])           a list of Modules: the i-th one's under the prefix "i."
                                      (emb's weight is "0.weight"), as torch's ModuleList names them
    Adam(model.named_parameters())    named parameters, also a dict name -> array
    Adam(model.parameters())          parameter arrays, named "0", "1", ... as torch numbers them

Every array must be a Module's parameter: a NumPy array has no ``.grad``, and the
gradient an optimizer reads is the one its module keeps beside it (``grads``).
Every ``step()`` reads the arrays afresh from their modules (so a model moved with
``to()`` or converted with ``astype()`` keeps training) and updates them in place.
Per-parameter state (momentum, squared-gradient sums) is kept by parameter name,
on the parameters' backend; the math takes its array module from the arrays, so
the same lines run on NumPy and CuPy. The updates follow torch.optim's equations
(Adagrad follows min-char-rnn's), written with in-place operations because they
touch every parameter on every step.

``state_dict()`` returns ``(arrays, meta)``: host NumPy arrays keyed
``"<param>/<slot>"`` and a JSON-able dict of the hyperparameters and the step
count, which is how checkpoints store them. :func:`check_state` checks such a
pair as a whole (every setting in the range its constructor allows, every state
array present with its parameter's shape, nothing else) before anything is
restored, so a damaged or tampered state is refused instead of silently
restarting Adam or freezing training.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy

from .core import backend, validate
from .core.module import Module, parameter_owner

MAX_STEP_COUNT = 2**63 - 1      # an int64 counter: larger counts cannot come from training
ACCEPTED = "a Module, a list of Modules, or named parameters (model.named_parameters(), or a dict name -> array)"


# -- what an optimizer or clip_grad_norm is given ------------------------------------------------
def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") or validate.is_torch_tensor(value)


def _is_pair(item) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)


def named_arrays(params, who: str, one_array: bool = False) -> list:
    """``params`` as (name, array) pairs, in its order, or a TypeError naming what came.

    A Module gives its named_parameters(); a list or tuple of Modules the i-th one's
    under the prefix "i."; a mapping its items; an iterable of (name, array) pairs
    those; an iterable of bare arrays the names "0", "1", ... With ``one_array``, a
    single array is taken as a list of one (clip_grad_norm's gradients). The arrays
    are not checked here, only the shape of what came.
    """
    if isinstance(params, Module):
        return list(params.named_parameters())
    if isinstance(params, Mapping):
        return list(params.items())
    if _is_array(params):
        validate.refuse_torch(f"{who}'s params", params, "its {numpy}")
        if one_array:
            return [("0", params)]
        raise TypeError(f"{who} takes {ACCEPTED}, got one array {validate.describe(params)}: pass the module "
                        "that holds it")
    if isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        raise TypeError(f"{who} takes {ACCEPTED}, got {type(params).__name__}")
    items = list(params)
    kinds = {"Modules": lambda item: isinstance(item, Module), "(name, array) pairs": _is_pair, "arrays": _is_array}
    for kind, is_kind in kinds.items():
        if items and is_kind(items[0]):
            odd = next((i for i, item in enumerate(items) if not is_kind(item)), None)
            if odd is not None:
                raise TypeError(f"{who} takes {ACCEPTED}, got a {type(params).__name__} of {kind} holding "
                                f"{type(items[odd]).__name__} at [{odd}]")
            if kind == "Modules":
                return [(f"{i}.{name}", value) for i, module in enumerate(items)
                        for name, value in module.named_parameters()]
            return items if kind != "arrays" else [(str(i), value) for i, value in enumerate(items)]
    if items:
        raise TypeError(f"{who} takes {ACCEPTED}, got a {type(params).__name__} holding {type(items[0]).__name__}")
    return []


class Held(NamedTuple):
    """One parameter an optimizer holds: its name there, and the module that keeps it (and its gradient) as ``key``."""
    name: str
    module: Module
    key: str


def held_parameters(params, who: str) -> list:
    """One :class:`Held` per parameter of ``params`` (see :func:`named_arrays`), or an error naming the one refused.

    Every array must be a Module's parameter, none may come twice (an optimizer would
    update it twice), and the names must be unique (they key the optimizer's state).
    """
    pairs = named_arrays(params, who)
    if not pairs:
        raise ValueError(f"{who} got no parameters to optimize")
    held, seen_names, seen_arrays = [], set(), {}
    for name, value in pairs:
        where = f"{who}'s params[{name!r}]"
        validate.refuse_torch(where, value, "its {numpy}")
        if not _is_array(value):
            raise TypeError(f"{who} takes {ACCEPTED}, got a {type(params).__name__} holding "
                            f"{type(value).__name__} at [{name!r}]")
        owner = parameter_owner(value)
        if owner is None:
            raise TypeError(f"{where} is {validate.describe(value)}, not a minirnn Module's parameter, so nothing "
                            "computes its gradient: register it with Module.add_param and pass the module")
        if name in seen_names:
            raise ValueError(f"{who} got two parameters named {name!r}: pass a list of modules, whose names are "
                             "prefixed, or give each parameter a name of its own")
        if id(value) in seen_arrays:
            raise ValueError(f"{who} got one array twice, as {seen_arrays[id(value)]!r} and {name!r}: it would be "
                             "updated twice per step")
        seen_names.add(name)
        seen_arrays[id(value)] = name
        held.append(Held(name, *owner))
    return held


def gradients(params, who: str) -> list:
    """(name, gradient) pairs for clip_grad_norm and grad_norm.

    ``params``: anything an optimizer takes, whose gradients these are, or the gradients
    themselves (``model.grads``, a dict or list of arrays that are no Module's parameters),
    which must then be float arrays, since clipping scales them in place.
    """
    pairs = named_arrays(params, who, one_array=True)
    for name, value in pairs:
        validate.refuse_torch(f"{who}'s params[{name!r}]", value, "its {numpy}")
        if not _is_array(value):
            raise TypeError(f"{who} takes {ACCEPTED}, or gradients (a dict name -> array), got "
                            f"{type(value).__name__} at params[{name!r}]")
    owners = [parameter_owner(value) for _, value in pairs]
    if all(owners):
        return [(name, module._grads[key]) for (name, _), (module, key) in zip(pairs, owners)]
    if any(owners):
        raise TypeError(f"{who} got parameters and other arrays together: pass the parameters (or modules), "
                        "whose gradients it clips, or the gradients alone")
    for name, grad in pairs:
        if grad.dtype.kind != "f":
            raise TypeError(f"{who} scales gradients in place, so they must be float arrays; params[{name!r}] is "
                            f"{validate.describe(grad)}")
    return pairs


# -- the optimizers ------------------------------------------------------------------------------------
_SETTINGS_ONLY = object()     # checked_settings builds an optimizer over nothing, for its constructor's checks


class Optimizer:
    """Shared by every optimizer: the parameters held, the learning rate, per-parameter state, state dicts.

    Subclasses implement ``_update(name, param, grad)`` (in place) and list their
    hyperparameters in ``_hyper`` (the constructor's keyword names).
    """

    _hyper: tuple = ()
    _slots: tuple = ()              # names of the per-parameter state arrays
    _nonnegative_slots: tuple = ()  # slots that hold sums of squares

    def __init__(self, params, lr: float):
        self._held = [] if params is _SETTINGS_ONLY else held_parameters(params, type(self).__name__)
        self.lr = validate.finite_number("lr", lr, positive=True)
        self.step_count = 0
        self.state: dict[str, dict] = {}   # param name -> {slot: array}

    def named_parameters(self):
        """(name, live array) for every parameter held, under the names its state is kept by."""
        for held in self._held:
            yield held.name, held.module._params[held.key]

    def _parameters_and_gradients(self):
        """(name, parameter, gradient) for each parameter held, read afresh from its module."""
        for held in self._held:
            yield held.name, held.module._params[held.key], held.module._grads[held.key]

    def zero_grad(self) -> None:
        """Set the gradients of the parameters held to zero (backward adds into them)."""
        for _, _, grad in self._parameters_and_gradients():
            grad.fill(0)

    def step(self) -> None:
        """One update of every parameter from its current gradient."""
        self.step_count += 1
        for name, param, grad in self._parameters_and_gradients():
            self._update(name, param, grad)

    def _slot(self, name: str, slot: str, like):
        """The per-parameter state array ``slot`` of ``name``, created as zeros the first time.

        If the model was moved (``to``) or converted (``astype``) since, the state follows
        the parameter to its backend and dtype.
        """
        slots = self.state.setdefault(name, {})
        if slot not in slots:
            slots[slot] = backend.array_module(like).zeros_like(like)
        state = slots[slot]
        if backend.backend_name(state) != backend.backend_name(like) or state.dtype != like.dtype:
            state = slots[slot] = backend.to_backend(state, backend.backend_name(like)).astype(like.dtype)
        return state

    def _update(self, name: str, param, grad) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, **{k: getattr(self, k) for k in self._hyper}}

    def state_dict(self) -> tuple[dict, dict]:
        """(arrays, meta): host copies of the state arrays keyed "param/slot", and a JSON-able dict."""
        arrays = {f"{name}/{slot}": backend.to_host(value)
                  for name, slots in self.state.items() for slot, value in slots.items()}
        meta = {"class": type(self).__name__, "hyper": self.hyperparameters(), "step_count": self.step_count}
        return arrays, meta

    @classmethod
    def checked_settings(cls, settings) -> dict:
        """``settings`` (lr and the hyperparameters), each checked as the constructor checks it."""
        expected = {"lr", *cls._hyper}
        if not isinstance(settings, dict) or set(settings) != expected:
            got = sorted(settings) if isinstance(settings, dict) else type(settings).__name__
            raise ValueError(f"{cls.__name__}'s settings must be {sorted(expected)}, got {got}")
        return cls(_SETTINGS_ONLY, **settings).hyperparameters()     # the constructor's own checks

    @classmethod
    def state_shapes(cls, settings: dict, step_count: int, param_shapes: dict) -> dict:
        """The state arrays ("param/slot" -> shape) this optimizer holds after ``step_count`` steps.

        Every step updates every parameter, so after the first one each parameter has
        every slot the settings use, and before it none.
        """
        slots = cls._slots_in_use(settings) if step_count else ()
        return {f"{name}/{slot}": tuple(shape) for name, shape in param_shapes.items() for slot in slots}

    @classmethod
    def _slots_in_use(cls, settings: dict) -> tuple:
        return cls._slots

    def load_state_dict(self, arrays: dict, meta: dict) -> None:
        """Restore what :meth:`state_dict` returned, onto the parameters' backend and dtype.

        All of it is checked first (:func:`check_state`); nothing changes unless all is sound.
        """
        if meta is None:
            raise ValueError(f"there is no optimizer state to restore into {type(self).__name__} "
                             "(the checkpoint was saved without one)")
        params = dict(self.named_parameters())
        settings, step_count = check_state(meta, arrays, {name: p.shape for name, p in params.items()},
                                           expect_class=type(self).__name__)
        for key, value in settings.items():
            setattr(self, key, value)
        self.step_count = step_count
        self.state = {}
        for key, value in arrays.items():
            name, _, slot = key.rpartition("/")
            like = params[name]
            self.state.setdefault(name, {})[slot] = backend.array_module(like).asarray(
                numpy.array(value, dtype=like.dtype))


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (torch.optim.SGD).

        g = grad + weight_decay * p
        buf = momentum * buf + g              (buf = g on the first step)
        p  -= lr * (g + momentum * buf)       with nesterov, else  p -= lr * buf
    """

    _hyper = ("momentum", "nesterov", "weight_decay")
    _slots = ("momentum_buffer",)

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = validate.probability("momentum", momentum)
        if not isinstance(nesterov, bool):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = nesterov
        self.weight_decay = validate.finite_number("weight_decay", weight_decay)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")

    @classmethod
    def _slots_in_use(cls, settings: dict) -> tuple:
        return cls._slots if settings["momentum"] else ()      # plain SGD keeps no state

    def _update(self, name, param, grad):
        if self.weight_decay:
            grad = grad + self.weight_decay * param                 # g = grad + wd p (a new array: grads stay)
        if self.momentum:
            first = name not in self.state
            buf = self._slot(name, "momentum_buffer", param)
            if first:
                buf[...] = grad                                     # buf_1 = g_1
            else:
                buf *= self.momentum                                # buf_t = mu buf_{t-1} + g_t
                buf += grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= self.lr * grad                                     # p -= lr g


class Adagrad(Optimizer):
    """Adagrad as in min-char-rnn: mem += g^2;  p -= lr g / sqrt(mem + eps).

    (torch's Adagrad divides by sqrt(mem) + eps instead; the two differ only
    while mem is close to zero.)
    """

    _hyper = ("eps",)
    _slots = ("sum",)
    _nonnegative_slots = ("sum",)

    def __init__(self, params, lr: float = 0.1, eps: float = 1e-8):
        super().__init__(params, lr)
        self.eps = _small_positive("eps", eps)

    def _update(self, name, param, grad):
        xp = backend.array_module(param)
        mem = self._slot(name, "sum", param)
        mem += grad * grad                                          # mem += g^2
        param -= self.lr * grad / xp.sqrt(mem + self.eps)           # p -= lr g / sqrt(mem + eps)


class Adam(Optimizer):
    """Adam (torch.optim.Adam), with optional L2 weight decay added to the gradient.

        g = grad + weight_decay * p
        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
        p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    _hyper = ("betas", "eps", "weight_decay")
    _slots = ("exp_avg", "exp_avg_sq")
    _nonnegative_slots = ("exp_avg_sq",)

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = [validate.probability("betas[0]", betas[0]), validate.probability("betas[1]", betas[1])]
        self.eps = _small_positive("eps", eps)
        self.weight_decay = validate.finite_number("weight_decay", weight_decay)

    def _decay(self, param, grad):
        """Adam's weight decay is L2: it joins the gradient (AdamW overrides this)."""
        return grad + self.weight_decay * param if self.weight_decay else grad

    def _update(self, name, param, grad):
        xp = backend.array_module(param)
        beta1, beta2 = self.betas
        grad = self._decay(param, grad)
        m = self._slot(name, "exp_avg", param)
        v = self._slot(name, "exp_avg_sq", param)
        m *= beta1                                                   # m = b1 m + (1 - b1) g
        m += (1 - beta1) * grad
        v *= beta2                                                   # v = b2 v + (1 - b2) g^2
        v += (1 - beta2) * (grad * grad)
        t = self.step_count
        correction1, correction2 = 1 - beta1 ** t, 1 - beta2 ** t     # bias corrections for the zero start
        denom = xp.sqrt(v) / math.sqrt(correction2)                  # sqrt(v_hat)
        denom += self.eps
        param -= (self.lr / correction1) * m / denom                 # p -= lr m_hat / (sqrt(v_hat) + eps)


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay, p -= lr wd p before the Adam step."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _decay(self, param, grad):
        if self.weight_decay:
            param *= 1 - self.lr * self.weight_decay                 # p = p (1 - lr wd), apart from the gradient
        return grad


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW}
CLASSES = {cls.__name__: cls for cls in OPTIMIZERS.values()}


def _small_positive(name: str, value) -> float:
    """A finite number in (0, 1): eps only guards a division, and a large one would stop training."""
    value = validate.finite_number(name, value, positive=True)
    if value >= 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    return value


def check_state(meta, arrays: dict, param_shapes: dict, expect_class: str | None = None) -> tuple[dict, int]:
    """Check an optimizer state (``state_dict()``'s pair) as a whole; returns (settings, step_count).

    meta: {"class", "hyper", "step_count"}; arrays: "param/slot" -> array; param_shapes:
    the model's parameter name -> shape. Every setting must be in its constructor's
    range, the step count an integer >= 0, and the arrays exactly those the optimizer
    holds after that many steps (a missing one would silently restart its averages),
    finite, with their parameter's shape, and sums of squares >= 0. Raises ValueError
    saying what is wrong.
    """
    if not isinstance(meta, dict) or set(meta) != {"class", "hyper", "step_count"}:
        raise ValueError(f"optimizer state must be {{'class', 'hyper', 'step_count'}}, got "
                         f"{sorted(meta) if isinstance(meta, dict) else type(meta).__name__}")
    if meta["class"] not in tuple(CLASSES):                    # a tuple: the stored class may be unhashable
        raise ValueError(f"optimizer class must be one of {tuple(CLASSES)}, got {meta['class']!r}")
    if expect_class is not None and meta["class"] != expect_class:
        raise ValueError(f"optimizer state is for {meta['class']!r}, not {expect_class}")
    cls = CLASSES[meta["class"]]
    settings = cls.checked_settings(meta["hyper"])
    step_count = meta["step_count"]
    if isinstance(step_count, bool) or not isinstance(step_count, numbers.Integral) \
            or not 0 <= step_count <= MAX_STEP_COUNT:
        raise ValueError(f"optimizer step_count must be an integer in [0, 2**63), got {step_count!r}")
    expected = cls.state_shapes(settings, int(step_count), param_shapes)
    missing, unexpected = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{cls.__name__} state after {step_count} steps must hold {len(expected)} arrays: "
                         f"missing {missing[:4]}, unexpected {unexpected[:4]}")
    for key, value in arrays.items():
        validate.refuse_torch(f"optimizer state {key!r}", value)
        if tuple(value.shape) != expected[key]:
            raise ValueError(f"optimizer state {key!r} must have its parameter's shape {expected[key]}, "
                             f"got {validate.describe(value)}")
        host = backend.to_host(value)
        if not numpy.isfinite(host).all():
            raise ValueError(f"optimizer state {key!r} holds NaN or Inf")
        if key.rpartition("/")[2] in cls._nonnegative_slots and (host < 0).any():
            raise ValueError(f"optimizer state {key!r} holds negative values; it is a sum of squares")
    return settings, int(step_count)


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale the gradients in place so that their global L2 norm is at most ``max_norm`` (torch's clip_grad_norm_).

    params: what an optimizer takes (a Module, a list of Modules, named parameters,
    parameter arrays), whose gradients are clipped; or the gradients themselves: a
    mapping name -> array (``model.grads``), a list of arrays, or one array. norm =
    sqrt(sum over arrays of sum(g^2)); when norm > max_norm, each g is multiplied by
    max_norm / (norm + 1e-6), as torch does. Returns the norm before clipping as a
    float: NaN or Inf when a gradient is (the gradients are then left as they are,
    for the caller to refuse).
    """
    max_norm = validate.finite_number("max_norm", max_norm, positive=True)
    grads = gradients(params, "clip_grad_norm")
    norm = _norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for _, grad in grads:
            grad *= scale
    return norm


def grad_norm(params) -> float:
    """The global L2 norm of the gradients, summed in float64 (one host transfer on a GPU).

    params: as :func:`clip_grad_norm` takes it.
    """
    return _norm(gradients(params, "grad_norm"))


def _norm(grads: list) -> float:
    squares = [(grad.astype("float64") ** 2).sum() for _, grad in grads]
    return math.sqrt(float(sum(squares))) if squares else 0.0


# -- learning-rate schedules: factors of the base rate, from the step number ---------------------
def warmup_cosine(step: int, total_steps: int, warmup_steps: int = 0, min_factor: float = 0.0) -> float:
    """Linear warm-up over ``warmup_steps``, then a cosine from 1 down to ``min_factor`` at ``total_steps``.

    step counts from 1 (the step about to be taken): factor = step / warmup_steps
    during warm-up, then min + (1 - min) (1 + cos(pi progress)) / 2 with progress
    running from 0 to 1 over the remaining steps. step and total_steps are integers >= 1,
    warmup_steps >= 0 and min_factor in [0, 1].
    """
    step, total_steps = validate.positive_int("step", step), validate.positive_int("total_steps", total_steps)
    warmup_steps = validate.non_negative_int("warmup_steps", warmup_steps)
    if validate.finite_number("min_factor", min_factor) > 1:
        raise ValueError(f"min_factor must be a number in [0, 1], got {min_factor!r}")
    if warmup_steps and step <= warmup_steps:
        return step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def step_decay(step: int, step_size: int, gamma: float = 0.1) -> float:
    """gamma ** (number of whole ``step_size`` periods before this step): torch's StepLR.

    step counts from 1 (the step about to be taken); step_size is an integer >= 1, gamma a number >= 0.
    """
    step, step_size = validate.positive_int("step", step), validate.positive_int("step_size", step_size)
    return validate.finite_number("gamma", gamma) ** ((step - 1) // step_size)
