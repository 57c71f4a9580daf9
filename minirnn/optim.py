"""Optimizers, gradient clipping and learning-rate schedules.

An optimizer holds a model, not a list of arrays: every ``step()`` reads
``model.params`` and ``model.grads`` afresh (so a model moved with ``to()`` or
``astype()`` keeps training) and updates the parameters in place. Per-parameter
state (momentum, squared-gradient sums) is kept by parameter name, on the
parameters' backend; the math takes its array module from the arrays, so the
same lines run on NumPy and CuPy. The updates follow torch.optim's equations
(Adagrad follows min-char-rnn's), written with in-place operations because
they touch every parameter on every step.

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

import numpy

from .core import backend, validate

MAX_STEP_COUNT = 2**63 - 1      # an int64 counter: larger counts cannot come from training


class Optimizer:
    """Shared by every optimizer: the model, the learning rate, per-parameter state, state dicts.

    Subclasses implement ``_update(name, param, grad)`` (in place) and list their
    hyperparameters in ``_hyper`` (the constructor's keyword names).
    """

    _hyper: tuple = ()
    _slots: tuple = ()              # names of the per-parameter state arrays
    _nonnegative_slots: tuple = ()  # slots that hold sums of squares

    def __init__(self, model, lr: float):
        self.model = model
        self.lr = validate.finite_number("lr", lr, positive=True)
        self.step_count = 0
        self.state: dict[str, dict] = {}   # param name -> {slot: array}

    def zero_grad(self) -> None:
        self.model.zero_grad()

    def step(self) -> None:
        """One update of every parameter from its current gradient."""
        self.step_count += 1
        grads = self.model.grads
        for name, param in self.model.params.items():
            self._update(name, param, grads[name])

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
        return cls(None, **settings).hyperparameters()     # the constructor's own checks; no model needed

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
        """Restore what :meth:`state_dict` returned, onto the model's backend and dtype.

        All of it is checked first (:func:`check_state`); nothing changes unless all is sound.
        """
        if meta is None:
            raise ValueError(f"there is no optimizer state to restore into {type(self).__name__} "
                             "(the checkpoint was saved without one)")
        params = self.model.params
        settings, step_count = check_state(meta, arrays, {name: p.shape for name, p in params.items()},
                                           expect_class=type(self).__name__)
        for key, value in settings.items():
            setattr(self, key, value)
        self.step_count = step_count
        self.state = {}
        for key, value in arrays.items():
            name, _, slot = key.rpartition("/")
            self.state.setdefault(name, {})[slot] = self.model.xp.asarray(
                numpy.array(value, dtype=params[name].dtype))


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (torch.optim.SGD).

        g = grad + weight_decay * p
        buf = momentum * buf + g              (buf = g on the first step)
        p  -= lr * (g + momentum * buf)       with nesterov, else  p -= lr * buf
    """

    _hyper = ("momentum", "nesterov", "weight_decay")
    _slots = ("momentum_buffer",)

    def __init__(self, model, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(model, lr)
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

    def __init__(self, model, lr: float = 0.1, eps: float = 1e-8):
        super().__init__(model, lr)
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

    def __init__(self, model, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(model, lr)
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

    def __init__(self, model, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(model, lr, betas, eps, weight_decay)

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
        if tuple(value.shape) != expected[key]:
            raise ValueError(f"optimizer state {key!r} must have its parameter's shape {expected[key]}, "
                             f"got {validate.describe(value)}")
        host = backend.to_host(value)
        if not numpy.isfinite(host).all():
            raise ValueError(f"optimizer state {key!r} holds NaN or Inf")
        if key.rpartition("/")[2] in cls._nonnegative_slots and (host < 0).any():
            raise ValueError(f"optimizer state {key!r} holds negative values; it is a sum of squares")
    return settings, int(step_count)


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale every gradient in place so that their global L2 norm is at most ``max_norm``.

    norm = sqrt(sum over arrays of sum(g^2)); when norm > max_norm, each g is
    multiplied by max_norm / (norm + 1e-6), as torch does. Returns the norm
    before clipping as a float: NaN or Inf when a gradient is (the grads are then
    left as they are, for the caller to refuse).
    """
    max_norm = validate.finite_number("max_norm", max_norm, positive=True)
    norm = grad_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for grad in grads.values():
            grad *= scale
    return norm


def grad_norm(grads: dict) -> float:
    """The global L2 norm of a dict of gradients, summed in float64 (one host transfer on a GPU)."""
    squares = [(grad.astype("float64") ** 2).sum() for grad in grads.values()]
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
