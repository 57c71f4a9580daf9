"""The training loop for character models, as a library function: ``train(TrainConfig(...))``.

One step of CharRNN (stateful truncated BPTT):

    logits, state = model(x, state)             x (T, B): chunk k of every stream; state from chunk k-1
    loss, d_logits = cross_entropy(logits, y)   mean over the T*B targets
    model.backward(d_logits)                    BPTT within the chunk only: the gradient stops at state
    clip_grad_norm(grads, clip); optimizer.step()

CharLoopModel takes windows of ``window`` characters and predicts the next one.

Evaluation runs the validation text as stateful streams (CharRNN) or windows
(CharLoopModel) under ``no_grad()`` and reports the mean loss in nats and in bits
per character (loss / ln 2). It happens every ``eval_every`` steps and always at
the end, also when ``minutes`` (which bounds the training time, evaluations
excluded) or a Ctrl-C (after the step under way) stops the run. After each
evaluation the run directory gets:

    last.npz       model, optimizer, position in the data, carried state, RNG states
    best.npz       the same, for the lowest validation loss so far
    metrics.jsonl  one JSON object per evaluation: step, epoch, train_loss (mean since the
                   previous evaluation), val_loss, val_bpc, tokens_per_sec, elapsed_sec
    loss.png       the two losses against the step (with matplotlib, the ``plot`` extra)

``resume=True`` restores all of it from ``last.npz`` and continues exactly as an
uninterrupted run would have (the same losses to the last digit on NumPy). A
NaN or Inf loss or gradient stops the run with a FloatingPointError naming the
step, before anything is written, so the last good checkpoint stays as it was.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..core import backend, checks
from ..core.grad_mode import no_grad
from ..models import CharLoopModel, CharRNN
from ..ops import cross_entropy, log_softmax_forward, nll_loss
from . import checkpoint
from .data import (DEFAULT_CORPUS_BYTES, StreamBatcher, Vocab, WindowBatcher, default_corpus, read_text, split,
                   validation_streams)
from .optim import OPTIMIZERS, clip_grad_norm, grad_norm, step_decay, warmup_cosine

LN2 = math.log(2.0)
EVAL_BATCH_WINDOWS = 1024   # CharLoopModel validation windows per forward: no backward, so memory is small


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
    weight_decay: float | None = None    # None: the optimizer's own default (0, or 0.01 for AdamW)
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
    progress: bool = True               # the tqdm progress bar on stderr

    def check(self) -> None:
        """Refuse values that cannot work, naming the field, before any data is read."""
        checks.choice("model", self.model, ("charrnn", "charloop"))
        checks.choice("cell", self.cell, ("rnn", "lstm", "gru"))
        checks.choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        checks.choice("schedule", self.schedule, ("constant", "cosine", "step"))
        for name in ("corpus_bytes", "emb", "hidden", "layers", "window", "batch", "bptt", "eval_every",
                     "step_size"):
            checks.positive_int(name, getattr(self, name))
        checks.probability("dropout", self.dropout)
        for name in ("epochs", "minutes"):
            if getattr(self, name) is not None:
                checks.finite_number(name, getattr(self, name), positive=True)
        for name in ("clip", "weight_decay", "momentum", "gamma"):
            if getattr(self, name) is not None:          # weight_decay None: the optimizer's default
                checks.finite_number(name, getattr(self, name))
        checks.finite_number("lr", self.lr, positive=True)
        if self.warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {self.warmup!r}")
        if self.schedule == "cosine" and self.epochs is None:
            raise ValueError("schedule 'cosine' needs epochs, to know the last step (minutes alone cannot say)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")

    # Settings that may differ when a run is resumed: where and how long to go on.
    RESUMABLE = ("epochs", "minutes", "eval_every", "out", "resume", "progress")


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    step: int
    epoch: float
    val_loss: float
    val_bpc: float
    best_val_loss: float
    tokens_per_sec: float
    losses: list                        # the training loss of every step taken by this call, in order
    out: str


def load_text(config: TrainConfig) -> str:
    """The text a run trains on: the --text file, or the default corpus."""
    return default_corpus(config.corpus_bytes) if config.text is None else read_text(config.text)


def text_digest(text: str) -> str:
    """SHA-256 of the text, kept in checkpoints so that a resumed run can tell the text is the same."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Data:
    """The text as ids, its vocabulary, and the batchers the model needs."""

    def __init__(self, config: TrainConfig, text: str, vocab: Vocab | None = None):
        self.digest = text_digest(text)
        self.vocab = vocab or Vocab.from_text(text)
        train_ids, val_ids = split(self.vocab.encode(text), config.val_fraction)
        if config.model == "charrnn":
            self.train = StreamBatcher(train_ids, config.batch, config.bptt)
            self.val = validation_streams(val_ids, config.batch, config.bptt)
        else:
            self.train = WindowBatcher(train_ids, config.window, config.batch, seed=config.seed)
            if len(val_ids) <= config.window:
                raise ValueError(f"validation text of {len(val_ids)} characters is shorter than one window "
                                 f"plus its target ({config.window + 1}); use a larger val_fraction or text")
            # All the validation windows, in text order, in batches as large as memory comfortably allows.
            self.val = WindowBatcher(val_ids, config.window, min(EVAL_BATCH_WINDOWS, len(val_ids) - config.window))


def build_model(config: TrainConfig, vocab_size: int):
    if config.model == "charrnn":
        return CharRNN(vocab_size, config.emb, config.hidden, config.layers, config.cell, config.dropout,
                       config.dtype, seed=config.seed)
    return CharLoopModel(vocab_size, config.emb, config.hidden, config.dtype, seed=config.seed)


def build_optimizer(config: TrainConfig, model):
    """The optimizer named by config.optimizer, given the hyperparameters it takes."""
    decay = {} if config.weight_decay is None else dict(weight_decay=config.weight_decay)
    if decay and config.optimizer == "adagrad":
        raise ValueError("weight_decay is not an option of adagrad; leave it unset (--weight-decay)")
    options = {"sgd": dict(momentum=config.momentum, **decay), "adagrad": {}, "adam": decay, "adamw": decay}
    return OPTIMIZERS[config.optimizer](model, config.lr, **options[config.optimizer])


class Trainer:
    """The state of one run: model, optimizer, data, position, and what has been reported."""

    def __init__(self, config: TrainConfig, log=None):
        config.check()
        self.log = log or (lambda message: print(message, file=sys.stderr))
        self.out = Path(config.out)
        last = self.out / "last.npz"
        if config.resume:
            saved = checkpoint.load(last)
            if not {"train_config", "vocab", "text_sha256", "rng_states"} <= set(saved.meta):
                raise ValueError(f"{last} was not written by minirnn train, so it cannot be resumed")
            stored = dict(saved.meta["train_config"])
            stored.update({k: getattr(config, k) for k in TrainConfig.RESUMABLE})
            config = TrainConfig(**stored)
            config.check()
        elif last.exists():
            raise ValueError(f"out directory {str(self.out)!r} already holds a run (last.npz): pass resume "
                             "(--resume) to continue it, or choose another out directory (--out)")
        self.config = config
        text = load_text(config)
        if config.resume and saved.meta["text_sha256"] != text_digest(text):
            raise ValueError(f"the text differs from the one {saved.path} was trained on; resume with the same "
                             "text (--text, --corpus-bytes)")
        self.data = Data(config, text, Vocab.from_json(saved.meta["vocab"]) if config.resume else None)
        self.model = build_model(config, len(self.data.vocab))
        self.optimizer = build_optimizer(config, self.model)
        self.step, self.epoch, self.batch_index = 0, 0, 0
        self.state = None                  # the carried RNN state (CharRNN)
        self.order = None                  # the window order of the current epoch (CharLoopModel)
        self.saved_step = None             # the step last.npz holds, for the NaN message
        self.interrupted = False           # set by a first Ctrl-C: stop after this step, evaluated and saved
        self.train_seconds = 0.0           # training time so far, evaluations excluded
        self.best_val_loss = math.inf
        if config.resume:
            self._restore(saved)
        self.out.mkdir(parents=True, exist_ok=True)

    # -- checkpoints ----------------------------------------------------------------
    def _meta(self) -> dict:
        return {"train_config": dataclasses.asdict(self.config), "vocab": self.data.vocab.to_json(),
                "text_sha256": self.data.digest, "step": self.step, "epoch": self.epoch,
                "batch_index": self.batch_index, "train_seconds": self.train_seconds,
                "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
                "rng_states": self.model.rng_state(),
                "window": self.config.window}

    def _state_arrays(self) -> dict:
        if self.state is None:
            return {}
        states = self.state if isinstance(self.state, tuple) else (self.state,)
        return {f"state{i}": s for i, s in enumerate(states)}

    def save(self, name: str) -> None:
        checkpoint.save(self.out / name, self.model, self.optimizer, self._meta(), self._state_arrays())

    def _restore(self, saved) -> None:
        meta = saved.meta
        self.model.load_state_dict(saved.params)
        self.optimizer.load_state_dict(saved.optimizer_arrays, saved.optimizer)
        self.model.set_rng_state(meta["rng_states"])
        self.step, self.epoch, self.batch_index = meta["step"], meta["epoch"], meta["batch_index"]
        self.train_seconds = meta["train_seconds"]
        self.best_val_loss = math.inf if meta["best_val_loss"] is None else meta["best_val_loss"]
        states = [self.model.xp.asarray(saved.arrays[f"state{i}"]) for i in range(len(saved.arrays))]
        self.state = None if not states else tuple(states) if len(states) > 1 else states[0]

    # -- one step -------------------------------------------------------------------
    def _learning_rate(self) -> float:
        """The rate for the step about to be taken (self.step + 1)."""
        config, step = self.config, self.step + 1
        if config.schedule == "cosine":
            return config.lr * warmup_cosine(step, self.total_steps, config.warmup)
        if config.schedule == "step":
            return config.lr * step_decay(step, config.step_size, config.gamma)
        return config.lr

    def train_step(self) -> tuple[float, int]:
        """One optimizer step on the next batch. Returns (loss, tokens); raises FloatingPointError on NaN/Inf."""
        xp, model, data = self.model.xp, self.model, self.data
        if self.config.model == "charrnn":
            if self.batch_index == 0:
                self.state = None          # each epoch starts every stream from a zero state
            x, y = data.train[self.batch_index]
            logits, state = model(xp.asarray(x), self.state)
            loss, d_out = cross_entropy(logits, xp.asarray(y))
        else:
            if self.batch_index == 0 or self.order is None:
                self.order = data.train.order(self.epoch)   # this epoch's window order, from (seed, epoch)
            x, y = data.train.batch_at(self.order, self.batch_index)
            logp = model(xp.asarray(x))
            loss, d_out = nll_loss(logp, xp.asarray(y))
        model.zero_grad()
        model.backward(d_out)
        grads = model.grads
        norm = clip_grad_norm(grads, self.config.clip) if self.config.clip else grad_norm(grads)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            what = f"loss is {loss}" if not math.isfinite(loss) else f"gradient norm is {norm}"
            kept = (f"{self.out / 'last.npz'} (step {self.saved_step}) is kept as it was"
                    if self.saved_step is not None else "no checkpoint has been written yet")
            raise FloatingPointError(f"training stopped at step {self.step + 1}: the {what}; {kept}. "
                                     "Try a lower --lr or --clip")
        self.optimizer.lr = self._learning_rate()
        self.optimizer.step()
        if self.config.model == "charrnn":
            self.state = state
        self.step += 1
        self.batch_index += 1
        if self.batch_index == len(data.train):
            self.epoch, self.batch_index = self.epoch + 1, 0
        return loss, y.size

    # -- evaluation -----------------------------------------------------------------
    def evaluate(self) -> float:
        """Mean validation loss in nats per character, with no backward cache and no dropout."""
        model, xp, val = self.model, self.model.xp, self.data.val
        total, count = 0.0, 0
        model.eval()
        try:
            with no_grad():
                if self.config.model == "charrnn":
                    state = None
                    for k in range(len(val)):
                        x, y = val[k]
                        logits, state = model(xp.asarray(x), state)
                        total += _sum_nll(log_softmax_forward(logits)[0], xp.asarray(y))
                        count += y.size
                else:
                    order = val.order(0)
                    for k in range(len(val)):
                        x, y = val.batch_at(order, k)
                        total += _sum_nll(model(xp.asarray(x)), xp.asarray(y))
                        count += y.size
        finally:
            model.train()
        return total / count

    # -- the loop -------------------------------------------------------------------
    @property
    def total_steps(self) -> int | None:
        """The step to stop at when ``epochs`` is set."""
        if self.config.epochs is None:
            return None if self.config.minutes is not None else len(self.data.train)
        return max(1, math.ceil(self.config.epochs * len(self.data.train)))

    def run(self) -> TrainResult:
        config, data = self.config, self.data
        self.saved_step = self.step if config.resume else None
        total_steps = self.total_steps
        time_limit = None if config.minutes is None else config.minutes * 60.0
        self.log(f"minirnn train: {type(self.model).__name__} {self.model.config()}, "
                 f"{sum(p.size for p in self.model.params.values()):,} parameters; vocab {len(data.vocab)}; "
                 f"{data.train.tokens:,} training and {data.val.tokens:,} validation characters; "
                 f"{len(data.train)} batches per epoch")
        bar = _progress(total_steps, self.step, config.progress)
        losses, window_losses, window_tokens, window_seconds = [], [], 0, 0.0
        result = None
        try:
            with _interrupt_stops(self):
                while True:
                    done = self._finished(total_steps, time_limit)
                    if not done:
                        started = time.perf_counter()
                        loss, tokens = self.train_step()
                        seconds = time.perf_counter() - started
                        self.train_seconds += seconds
                        window_seconds += seconds
                        window_tokens += tokens
                        losses.append(loss)
                        window_losses.append(loss)
                        if bar is not None:
                            bar.update(1)
                            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{window_tokens / window_seconds:,.0f}",
                                            refresh=False)
                    if window_losses and (done or self.step % config.eval_every == 0):
                        result = self._report(window_losses, window_tokens, window_seconds, losses, bar)
                        window_losses, window_tokens, window_seconds = [], 0, 0.0
                    if done:
                        break
        finally:
            if bar is not None:
                bar.close()
        _plot(self.out, self.log)
        if result is None:   # resumed at the stopping point: nothing trained, report where the run stands
            val_loss = self.evaluate()
            result = TrainResult(self.step, self.step / len(data.train), val_loss, val_loss / LN2,
                                 self.best_val_loss, 0.0, losses, str(self.out))
        return result

    def _finished(self, total_steps: int | None, time_limit: float | None) -> bool:
        """Whether to stop before the next step: the last step is taken, the time is used up, or Ctrl-C."""
        return ((total_steps is not None and self.step >= total_steps)
                or (time_limit is not None and self.train_seconds >= time_limit) or self.interrupted)

    def _report(self, window_losses, tokens, seconds, losses, bar) -> TrainResult:
        """Evaluate, write checkpoints and a metrics line, and say it."""
        val_loss = self.evaluate()
        if not math.isfinite(val_loss):
            raise FloatingPointError(f"training stopped at step {self.step}: the validation loss is {val_loss}; "
                                     f"{self.out / 'last.npz'} is kept as it was. Try a lower --lr or --clip")
        record = {"step": self.step, "epoch": round(self.step / len(self.data.train), 6),
                  "train_loss": sum(window_losses) / len(window_losses), "val_loss": val_loss,
                  "val_bpc": val_loss / LN2, "tokens_per_sec": tokens / seconds if seconds else 0.0,
                  "elapsed_sec": round(self.train_seconds, 3)}
        improved = val_loss < self.best_val_loss
        if improved:
            self.best_val_loss = val_loss
        self.save("last.npz")
        if improved:
            self.save("best.npz")
        self.saved_step = self.step
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
        message = (f"step {self.step} epoch {record['epoch']:.3f}: train loss {record['train_loss']:.4f}, "
                   f"val loss {val_loss:.4f}, val {record['val_bpc']:.4f} bits/char, "
                   f"{record['tokens_per_sec']:,.0f} tokens/s{' (best)' if improved else ''}")
        if bar is not None:
            bar.write(message, file=sys.stderr)
        else:
            self.log(message)
        return TrainResult(self.step, record["epoch"], val_loss, record["val_bpc"], self.best_val_loss,
                           record["tokens_per_sec"], losses, str(self.out))


@contextmanager
def _interrupt_stops(trainer: Trainer):
    """While training: a first Ctrl-C lets the current step finish, then the run evaluates, saves and returns
    as if it had reached its end (so nothing since the last evaluation is lost); a second one stops at once.

    The handler only sets a flag, so a step is never cut in half between the gradient and the update.
    Signal handlers belong to the main thread; elsewhere Ctrl-C keeps its usual meaning.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum, frame):
        if trainer.interrupted:
            raise KeyboardInterrupt
        trainer.interrupted = True
        print("\ninterrupted: finishing this step, then evaluating and saving (Ctrl-C again to quit now)",
              file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _sum_nll(logp, target) -> float:
    """sum_n -log p[n, target[n]] over every position (logp (..., V), target (...))."""
    xp = backend.array_module(logp)
    rows = logp.reshape(-1, logp.shape[-1])
    return -float(rows[xp.arange(rows.shape[0]), target.reshape(-1)].astype("float64").sum())


def _progress(total_steps, initial: int, enabled: bool):
    """A tqdm bar on stderr counting steps (None when disabled)."""
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total_steps, initial=initial, unit="step", file=sys.stderr, dynamic_ncols=True)


def _plot(out: Path, log) -> None:
    """loss.png from metrics.jsonl when matplotlib is installed; otherwise a one-line hint."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        log("loss curve: install matplotlib (pip install 'minirnn[plot]') to get loss.png")
        return
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    steps = [r["step"] for r in records]
    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)        # an off-screen canvas: no display and no global pyplot state
    axes = figure.add_subplot()
    axes.plot(steps, [r["train_loss"] / LN2 for r in records], marker=".", label="train")
    axes.plot(steps, [r["val_bpc"] for r in records], marker=".", label="validation")
    axes.set_xlabel("step")
    axes.set_ylabel("bits per character")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out / "loss.png", dpi=100)


def train(config: TrainConfig, log=None) -> TrainResult:
    """Train (or, with ``config.resume``, continue) a character model; see the module docstring.

    log: a function taking one line of text (default: print to stderr).
    """
    return Trainer(config, log).run()
