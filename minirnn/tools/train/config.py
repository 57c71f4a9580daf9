"""The settings of a training run, one field per ``minirnn train`` flag, and what a resumed run may change.

Errors name the flag (``--val-fraction``), since that is how the settings are given
on the command line; in Python each flag is the field of the same name
(``val_fraction``).

A resumed run keeps the settings it was started with. What a session may change:
how long the run goes on and how often it reports (``--epochs``, ``--minutes``,
``--eval-every``; giving either of the first two replaces the saved stopping rule
as a whole), where the text lies (``--text``: the same text, checked by its SHA-256,
at another path), and this session's own ``--out`` and ``--no-progress``. Any
other flag given with ``--resume`` must agree with the saved run, or it is an error
that names it.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

from minirnn.cell_kinds import LAYERS
from minirnn.core import validate
from minirnn.data import DEFAULT_CORPUS_BYTES
from minirnn.optim import OPTIMIZERS

SESSION = ("out", "resume", "progress")       # this process's settings, not the run's: never stored


def flag(name: str) -> str:
    """The command-line flag of a field: val_fraction -> --val-fraction."""
    return "--" + name.replace("_", "-")


@dataclass
class TrainConfig:
    """Everything that defines a training run (the ``minirnn train`` flags, one field each).

    Stopping: ``epochs`` (fractions allowed) or ``minutes`` of training time, or both
    (whichever comes first); with neither, one epoch. ``schedule`` "cosine" (with
    ``warmup`` steps) needs ``epochs``, since it must know the last step.
    """

    text: str | None = None             # a UTF-8 file; None: the default corpus (stdlib sources)
    corpus_bytes: int = DEFAULT_CORPUS_BYTES
    model: str = "charrnn"              # "charrnn" or "charloop"
    cell: str = "lstm"
    emb: int = 64
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.0
    window: int = 8                     # CharLoopModel's window length
    batch: int = 64
    bptt: int = 64
    optimizer: str = "adam"
    lr: float = 2e-3
    momentum: float = 0.0               # SGD only
    weight_decay: float | None = None   # None: the optimizer's own default (0, or 0.01 for AdamW)
    clip: float = 5.0                   # max global gradient norm; 0: no clipping
    schedule: str = "constant"          # "constant", "cosine" (warm-up then cosine) or "step"
    warmup: int = 0                     # warm-up steps for "cosine"
    step_size: int = 1000               # steps per decay for "step"
    gamma: float = 0.5                  # decay factor for "step"
    epochs: float | None = None
    minutes: float | None = None
    eval_every: int = 500               # steps between evaluations
    val_fraction: float = 0.1
    seed: int = 0
    dtype: str = "float32"
    out: str = "runs/minirnn"
    resume: bool = False
    progress: bool = True               # progress on stderr: a bar on a terminal, else a line now and then

    def given(self) -> set[str]:
        """The fields set to something other than their default: what a Python caller asked for."""
        return {f.name for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}

    def check(self, given: set[str] | None = None) -> None:
        """Refuse values that cannot work, and flags that do not apply, naming the flag, before any data is read.

        given: the fields the caller set (the flags on the command line); default :meth:`given`.
        """
        given = self.given() if given is None else set(given)
        validate.choice(flag("model"), self.model, ("charrnn", "charloop"))
        validate.choice(flag("cell"), self.cell, tuple(LAYERS))
        validate.choice(flag("optimizer"), self.optimizer, tuple(OPTIMIZERS))
        validate.choice(flag("schedule"), self.schedule, ("constant", "cosine", "step"))
        validate.choice(flag("dtype"), self.dtype, ("float32", "float64"))
        for name in ("corpus_bytes", "emb", "hidden", "layers", "window", "batch", "bptt", "eval_every",
                     "step_size"):
            validate.positive_int(flag(name), getattr(self, name))
        validate.probability(flag("dropout"), self.dropout)
        for name in ("epochs", "minutes"):
            if getattr(self, name) is not None:
                validate.finite_number(flag(name), getattr(self, name), positive=True)
        for name in ("clip", "weight_decay", "gamma"):
            if getattr(self, name) is not None:          # weight_decay None: the optimizer's default
                validate.finite_number(flag(name), getattr(self, name))
        validate.probability(flag("momentum"), self.momentum)
        validate.finite_number(flag("lr"), self.lr, positive=True)
        for name in ("warmup", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{flag(name)} must be an integer >= 0, got {value!r}")
        value = self.val_fraction
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise ValueError(f"{flag('val_fraction')} must be a number between 0 and 1 (the part of the text "
                             f"kept for validation, e.g. 0.1), got {value!r}")
        for name in ("text", "out"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"{flag(name)} must be a path, got {getattr(self, name)!r}")
        if self.out == "":                     # the current directory would silently become the run's
            raise ValueError(f"{flag('out')} must name the run's directory, got ''")
        if self.schedule == "cosine" and self.epochs is None:
            raise ValueError("--schedule cosine needs --epochs, to know the last step (--minutes alone cannot say)")
        for name, applies, where in self._applicability():
            if name in given and not applies:
                raise ValueError(f"{flag(name)} does not apply {where}; leave it out")

    def _applicability(self):
        """(field, whether it applies to these settings, when it does not)."""
        charloop, model = self.model == "charloop", f"to --model {self.model}"
        return [("cell", not charloop, model), ("layers", not charloop, model), ("dropout", not charloop, model),
                ("bptt", not charloop, model), ("window", charloop, model),
                ("momentum", self.optimizer == "sgd", f"to --optimizer {self.optimizer} (only to sgd)"),
                ("weight_decay", self.optimizer != "adagrad", "to --optimizer adagrad"),
                ("warmup", self.schedule == "cosine", f"to --schedule {self.schedule} (only to cosine)"),
                ("step_size", self.schedule == "step", f"to --schedule {self.schedule} (only to step)"),
                ("gamma", self.schedule == "step", f"to --schedule {self.schedule} (only to step)"),
                ("corpus_bytes", self.text is None, "with --text (it sizes the built-in corpus)")]

    def run_settings(self) -> dict:
        """The settings that define the run, as stored in its checkpoints (the session's left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in SESSION}

    @classmethod
    def from_run_settings(cls, settings) -> "TrainConfig":
        """A config from :meth:`run_settings` read back from a file; ValueError unless it is complete and sound."""
        expected = {f.name for f in dataclasses.fields(cls)} - set(SESSION)
        if not isinstance(settings, dict) or set(settings) != expected:
            got = sorted(settings) if isinstance(settings, dict) else type(settings).__name__
            raise ValueError(f"its training settings must have the keys {sorted(expected)}, got {got}")
        config = cls(**settings)
        config.check(given=set())
        return config


def resumed(saved: TrainConfig, config: TrainConfig, given: set[str]) -> TrainConfig:
    """The saved run's settings with what this session may change (the module docstring says what).

    saved: the run's stored settings; config: this session's, of which ``given`` were set.
    """
    changes = {name: getattr(config, name) for name in SESSION}
    if given & {"epochs", "minutes"}:
        changes.update(epochs=config.epochs, minutes=config.minutes)
    if "eval_every" in given:
        changes["eval_every"] = config.eval_every
    if "text" in given:
        changes["text"] = config.text
    merged = dataclasses.replace(saved, **changes)
    merged.check(given & set(changes))                 # what this session changed, checked as any new setting
    for name, applies, where in merged._applicability():
        if name in given and not applies and name not in changes and getattr(config, name) != getattr(saved, name):
            raise ValueError(f"{flag(name)} does not apply {where}; leave it out")
    for name in sorted(given - set(changes)):
        if getattr(config, name) != getattr(saved, name):
            raise ValueError(f"{flag(name)} {_shown(getattr(config, name))} conflicts with the run in "
                             f"{config.out}, which has {flag(name)} {_shown(getattr(saved, name))}; a resumed "
                             "run keeps its settings, so leave it out (or start a new run in another --out)")
    return merged


def _shown(value) -> str:
    return "unset" if value is None else str(value)
