"""Where a training run stands, as its checkpoints store it, and the check of a saved run as a whole.

A training checkpoint's ``meta`` holds, besides the model and optimizer that
checkpoint.py stores and checks:

    train_config   the run's settings (config.py; the session's own left out)
    vocab          the characters, in id order
    text_sha256    the digest of the text, so that a resume can tell it is the same
    window         CharLoopModel's window (for sampling)
    run            RunState: step, epoch, batch, training time, the best evaluation so
                   far, the training since the last scheduled evaluation, and the
                   metrics line of the evaluation at this step
    rng_states     every random generator of the model (dropout), by module

:func:`read_run` checks all of it, and its agreement with the model and the
optimizer, before any of it is used; a file that fails is refused with
checkpoint.py's one error.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import re
from dataclasses import dataclass, field

from minirnn.checkpoint import Checkpoint, load, refused_as
from minirnn.data import Vocab
from minirnn.optim import OPTIMIZERS

from .config import TrainConfig
from .tasks import model_config

META_KEYS = {"train_config", "vocab", "text_sha256", "window", "run", "rng_states"}
RECORD_KEYS = ("step", "epoch", "train_loss", "val_loss", "val_bpc", "tokens_per_sec", "elapsed_sec")


@dataclass
class SinceEval:
    """The training since the last scheduled evaluation, which its metrics line averages.

    Kept in checkpoints so that a run stopped between evaluations and resumed reports
    the same train_loss at the next one as a run that was never stopped.
    """

    loss_sum: float = 0.0
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def add(self, loss: float, tokens: int, seconds: float) -> None:
        self.loss_sum += loss
        self.steps += 1
        self.tokens += tokens
        self.seconds += seconds


@dataclass
class RunState:
    """The position of a run: step = epoch * batches_per_epoch + batch_index."""

    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    train_seconds: float = 0.0             # training time so far, evaluations excluded
    best_val_loss: float | None = None     # the lowest validation loss so far, at best_step
    best_step: int | None = None
    since_eval: SinceEval = field(default_factory=SinceEval)
    record: dict | None = None             # the metrics line of the evaluation at ``step``

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data) -> "RunState":
        """A RunState from :meth:`to_json`'s dict; ValueError naming the first field out of range."""
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise ValueError(f"its run state must have the keys {sorted(names)}, got "
                             f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
        since = data["since_eval"]
        since_names = {f.name for f in dataclasses.fields(SinceEval)}
        if not isinstance(since, dict) or set(since) != since_names:
            raise ValueError(f"its run state's since_eval must have the keys {sorted(since_names)}")
        for name in ("step", "epoch", "batch_index"):
            _count(name, data[name])
        _count("since_eval.steps", since["steps"])
        _count("since_eval.tokens", since["tokens"])
        for name, value in (("train_seconds", data["train_seconds"]), ("since_eval.seconds", since["seconds"]),
                            ("since_eval.loss_sum", since["loss_sum"])):
            _nonnegative(name, value)
        if (data["best_val_loss"] is None) != (data["best_step"] is None):
            raise ValueError("its run state must have both best_val_loss and best_step, or neither")
        if data["best_step"] is not None:
            _nonnegative("best_val_loss", data["best_val_loss"])
            if _count("best_step", data["best_step"]) > data["step"]:
                raise ValueError(f"its best_step {data['best_step']} is after its step {data['step']}")
        if (data["record"] is None) != (data["step"] == 0) or (data["best_step"] is None) != (data["step"] == 0):
            raise ValueError("its run state must have its step's metrics line and a best evaluation, unless it "
                             "is at step 0 (before any)")
        if data["record"] is not None:
            check_record(data["record"])
            if data["record"]["step"] != data["step"]:
                raise ValueError(f"its last metrics line is for step {data['record']['step']}, not {data['step']}")
        return cls(**{**data, "since_eval": SinceEval(**since)})


def check_record(record) -> dict:
    """A metrics line: exactly RECORD_KEYS, finite numbers >= 0, an integer step. ValueError otherwise."""
    if not isinstance(record, dict) or set(record) != set(RECORD_KEYS):
        raise ValueError(f"a metrics line must have the keys {list(RECORD_KEYS)}")
    _count("step", record["step"])
    for key in RECORD_KEYS[1:]:
        _nonnegative(key, record[key])
    return record


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**63:
        raise ValueError(f"its {name} must be an integer in [0, 2**63), got {value!r}")
    return int(value)


def _nonnegative(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"its {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_rng_states(states, prefixes) -> dict:
    """Generator states for exactly the model's modules, each a sound PCG64 state (as numpy writes it)."""
    if not isinstance(states, dict) or set(states) != set(prefixes):
        raise ValueError(f"its rng_states must be for the modules {sorted(prefixes)}, got "
                         f"{sorted(states) if isinstance(states, dict) else type(states).__name__}")
    for prefix, state in states.items():
        sound = (isinstance(state, dict) and set(state) == {"bit_generator", "state", "has_uint32", "uinteger"}
                 and state["bit_generator"] == "PCG64" and isinstance(state["state"], dict)
                 and set(state["state"]) == {"state", "inc"}
                 and all(_in_range(state["state"][k], 2**128) for k in ("state", "inc"))
                 and _in_range(state["has_uint32"], 2) and _in_range(state["uinteger"], 2**32))
        if not sound:
            raise ValueError(f"its rng_states[{prefix!r}] is not a PCG64 generator state")
    return states


def _in_range(value, end: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < end


@dataclass
class SavedRun:
    """A training checkpoint, checked as a whole by :func:`read_run`."""

    checkpoint: Checkpoint
    config: TrainConfig
    vocab: Vocab
    text_sha256: str
    state: RunState
    rng_states: dict

    @property
    def path(self) -> str:
        return self.checkpoint.path


def read_run(path) -> SavedRun:
    """Load and check a training checkpoint (last.npz or best.npz) before any of it is used.

    Raises CheckpointError (or OSError for a missing or unreadable file).
    """
    saved = load(path)
    with refused_as(saved.path):
        return _checked_run(saved)


def _checked_run(saved: Checkpoint) -> SavedRun:
    meta = saved.meta
    if set(meta) != META_KEYS or saved.optimizer is None:
        raise ValueError("it was not written by minirnn train (its meta lacks the run's state), so it "
                         "cannot be resumed")
    config = TrainConfig.from_run_settings(meta["train_config"])
    vocab = saved.vocab()
    if model_config(config, len(vocab)) != saved.model_config:
        raise ValueError(f"its {saved.model_class} {saved.model_config} is not the model its training settings "
                         "build")
    if not isinstance(meta["text_sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", meta["text_sha256"]):
        raise ValueError("its text_sha256 must be 64 hexadecimal digits")
    if meta["window"] != config.window:
        raise ValueError(f"its window {meta['window']!r} is not its training settings' window {config.window}")
    state = RunState.from_json(meta["run"])
    if saved.optimizer["step_count"] != state.step:
        raise ValueError(f"its optimizer has taken {saved.optimizer['step_count']} steps, its run {state.step}")
    if saved.optimizer["class"] != OPTIMIZERS[config.optimizer].__name__:
        raise ValueError(f"its optimizer is {saved.optimizer['class']}, its training settings say "
                         f"{config.optimizer}")
    return SavedRun(saved, config, vocab, meta["text_sha256"], state, meta["rng_states"])
