"""The training loop for character models, as a library function: ``train(TrainConfig(...))``.

A run trains, training step by training step (tasks.py: CharRNN by stateful truncated BPTT,
CharLoopModel on windows), evaluates every ``eval_every`` training steps and once more at
its end, and after each evaluation writes its run directory (rundir.py):

    last.npz       model, optimizer, position in the data, carried state, RNG states
    best.npz       the same, for the lowest validation loss so far
    metrics.jsonl  one JSON object per evaluation: step, epoch, train_loss (mean since the
                   previous scheduled evaluation), val_loss, val_bpc, tokens_per_sec, elapsed_sec
    loss.png       the two losses against the step (with matplotlib, the ``plot`` extra)

It ends after ``epochs`` or ``minutes`` of training (evaluations excluded), or at
a Ctrl-C (after the step under way), evaluated and saved either way.
``resume=True`` reads last.npz back, checked as a whole (run_state.py), with the
run's saved settings (config.py says what a session may change), and goes on
exactly as an uninterrupted run would have: the same losses to the last digit on
NumPy. A NaN or Inf loss or gradient stops the run with a FloatingPointError
naming the step, before anything is written, so the last good checkpoint stays.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy

from minirnn import checkpoint, models
from minirnn.checkpoint import refused_as
from minirnn.core.grad_mode import no_grad
from minirnn.data import Vocab, default_corpus, read_text, split
from minirnn.optim import OPTIMIZERS, clip_grad_norm, grad_norm, step_decay, warmup_cosine

from .config import TrainConfig, resumed
from .run_state import RunState, SinceEval, check_rng_states
from .rundir import RunDirectory
from .tasks import TASKS, model_config
from .terminal import StopOnInterrupt, progress_display

LN2 = math.log(2.0)


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
    interrupted: bool = False           # stopped by Ctrl-C (evaluated and saved all the same)


def load_text(config: TrainConfig) -> str:
    """The text a run trains on: the --text file, or the default corpus."""
    return default_corpus(config.corpus_bytes) if config.text is None else read_text(config.text)


def text_digest(text: str) -> str:
    """SHA-256 of the text, kept in checkpoints so that a resumed run can tell the text is the same."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_model(config: TrainConfig, vocab_size: int):
    """The model the settings ask for, initialised from config.seed."""
    return models.build_model(config.model, **model_config(config, vocab_size), seed=config.seed)


def build_optimizer(config: TrainConfig, model):
    """The optimizer named by config.optimizer, given the hyperparameters it takes."""
    decay = {} if config.weight_decay is None else dict(weight_decay=config.weight_decay)
    options = {"sgd": dict(momentum=config.momentum, **decay), "adagrad": {}, "adam": decay, "adamw": decay}
    return OPTIMIZERS[config.optimizer](model, config.lr, **options[config.optimizer])


class Trainer:
    """One run: its directory (locked from here until run() returns), settings, data, model, optimizer, position.

    given: the fields of ``config`` the caller set (the command line's flags); default: those that
    differ from TrainConfig's defaults. With ``config.resume`` they must agree with the saved run.
    """

    def __init__(self, config: TrainConfig, log=None, given=None):
        self.log = log or (lambda message: print(message, file=sys.stderr))
        given = config.given() if given is None else set(given)
        self.run_dir = RunDirectory(config.out, self.log)
        try:
            if config.resume:
                self._resume(config, given)
            else:
                config.check(given)
                text = load_text(config)
                self.run_dir.create()
                self._setup(dataclasses.replace(config, text=_absolute(config.text)), text)
                self.run_dir.begin(self.save)
        except BaseException:
            self.run_dir.close()
            raise

    def _setup(self, config: TrainConfig, text: str, vocab: Vocab | None = None) -> None:
        self.config = config
        self.text_sha256 = text_digest(text)
        self.vocab = vocab or Vocab.from_text(text)
        train_ids, val_ids = split(self.vocab.encode(text), config.val_fraction, name="--val-fraction")
        self.task = TASKS[config.model](config, train_ids, val_ids)
        self.model = build_model(config, len(self.vocab))
        self.optimizer = build_optimizer(config, self.model)
        self.state = RunState()

    # -- resuming ------------------------------------------------------------------------
    def _resume(self, session: TrainConfig, given: set) -> None:
        session.check(given=set())                       # values only: what applies depends on the saved run
        saved = self.run_dir.reopen()
        config = resumed(saved.config, dataclasses.replace(session, text=_absolute(session.text)), given)
        try:
            text = load_text(config)
        except OSError as err:
            if "text" in given or config.text is None:
                raise
            raise OSError(f"the run in {config.out} was trained on {config.text}, which cannot be read "
                          f"({err.strerror}); give its new path with --text") from None
        if text_digest(text) != saved.text_sha256:
            raise ValueError(_text_changed(config, given))
        self._setup(config, text, saved.vocab)
        with refused_as(saved.path):
            self._restore(saved)

    def _restore(self, saved) -> None:
        """Check what depends on the data and the built model, then restore everything (nothing before)."""
        state, batches = saved.state, len(self.task.train)
        if state.batch_index >= batches or state.step != state.epoch * batches + state.batch_index:
            raise ValueError(f"its position (step {state.step}, epoch {state.epoch}, batch {state.batch_index}) "
                             f"does not fit {batches} batches per epoch")
        check_rng_states(saved.rng_states, [prefix for prefix, _ in self.model.named_modules()])
        self.task.check_state_arrays(saved.checkpoint.arrays, state.step)
        expected = {k: v for k, v in self.optimizer.hyperparameters().items() if k != "lr"}
        stored = {k: v for k, v in saved.checkpoint.optimizer["hyper"].items() if k != "lr"}
        if stored != expected:
            raise ValueError(f"its optimizer settings {stored} are not its training settings' {expected}")
        self.model.load_state_dict(saved.checkpoint.params)
        self.optimizer.load_state_dict(saved.checkpoint.optimizer_arrays, saved.checkpoint.optimizer)
        self.model.set_rng_state(saved.rng_states)
        self.task.restore(saved.checkpoint.arrays, self.model.xp)
        self.state = state

    # -- checkpoints ------------------------------------------------------------------------
    def save(self, path) -> None:
        meta = {"train_config": self.config.run_settings(), "vocab": self.vocab.to_json(),
                "text_sha256": self.text_sha256, "window": self.config.window, "run": self.state.to_json(),
                "rng_states": self.model.rng_state()}
        checkpoint.save(path, self.model, self.optimizer, meta, self.task.state_arrays())

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train to the run's end, then release the run directory:

            while not (self.finished() or Ctrl-C):
                self.take_step()
                if step % eval_every == 0: self.evaluate_and_save()
            self.evaluate_and_save()          unless that step was just evaluated
        """
        try:
            if self.finished():
                # loss.png again, which a run killed after its last commit may lack (without matplotlib, no hint:
                # the run gave it when it trained)
                self.run_dir.plot(hint=False)
                return self._nothing_to_train()
            self.log(self._description())
            losses = []
            # A NaN or Inf stops the run with one line naming its step (train_step): NumPy need not warn of it
            # on the way there, line by line of the library's source.
            with progress_display(self.config.progress, self.total_steps, self.state.step, self.log) as display, \
                    StopOnInterrupt() as interrupt, numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while not (self.finished() or interrupt.requested):
                    losses.append(self.take_step(display))
                    if self.state.step % self.config.eval_every == 0:
                        self.evaluate_and_save(display, scheduled=True)
                if self.state.step != self._last_evaluated_step():
                    self.evaluate_and_save(display, scheduled=False)
            self.run_dir.plot()
            return self._result(losses, interrupted=interrupt.requested)
        finally:
            self.run_dir.close()

    @property
    def total_steps(self) -> int | None:
        """The step to stop at when ``epochs`` is set (or, with neither epochs nor minutes, after one epoch)."""
        if self.config.epochs is None:
            return None if self.config.minutes is not None else len(self.task.train)
        return max(1, math.ceil(self.config.epochs * len(self.task.train)))

    def finished(self) -> bool:
        """Whether the run has reached its end: its last step, or its training time."""
        total, minutes = self.total_steps, self.config.minutes
        return ((total is not None and self.state.step >= total)
                or (minutes is not None and self.state.train_seconds >= minutes * 60.0))

    def take_step(self, display) -> float:
        """One training step, timed; returns its loss."""
        started = time.perf_counter()
        loss, tokens = self.train_step()
        seconds = time.perf_counter() - started
        self.state.train_seconds += seconds
        since = self.state.since_eval
        since.add(loss, tokens, seconds)
        display.update(self.state.step, loss, since.tokens / since.seconds if since.seconds else 0.0)
        return loss

    def train_step(self) -> tuple[float, int]:
        """One optimizer step on the next batch. Returns (loss, tokens); raises FloatingPointError on NaN/Inf."""
        state = self.state
        loss, d_out, tokens, carried = self.task.forward_loss(self.model, state.epoch, state.batch_index)
        self.model.zero_grad()
        self.model.backward(d_out)
        grads = self.model.grads
        norm = clip_grad_norm(grads, self.config.clip) if self.config.clip else grad_norm(grads)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            what = f"loss is {loss}" if not math.isfinite(loss) else f"gradient norm is {norm}"
            raise FloatingPointError(f"training stopped at step {state.step + 1}: the {what}; {self._kept()}. "
                                     "Try a lower --lr or --clip")
        self.optimizer.lr = self._learning_rate()
        self.optimizer.step()
        self.task.carry(carried)
        state.step += 1
        state.batch_index += 1
        if state.batch_index == len(self.task.train):
            state.epoch, state.batch_index = state.epoch + 1, 0
        return loss, tokens

    def _learning_rate(self) -> float:
        """The rate for the step about to be taken (step + 1)."""
        config, step = self.config, self.state.step + 1
        if config.schedule == "cosine":
            return config.lr * warmup_cosine(step, self.total_steps, config.warmup)
        if config.schedule == "step":
            return config.lr * step_decay(step, config.step_size, config.gamma)
        return config.lr

    def evaluate(self) -> float:
        """Mean validation loss in nats per character, with no backward cache and no dropout."""
        with self.model.evaluating(), no_grad():
            total, count = self.task.evaluate(self.model)
        return total / count

    def evaluate_and_save(self, display, scheduled: bool) -> None:
        """Evaluate, write the run directory (rundir.py), and say it.

        scheduled: an eval_every evaluation, after which train_loss averages afresh; an
        evaluation at the run's end (or a Ctrl-C) leaves that average running, so that a
        resumed run reports the same train_loss at the next scheduled one.
        """
        val_loss, state = self.evaluate(), self.state
        if not math.isfinite(val_loss):
            raise FloatingPointError(f"training stopped at step {state.step}: the validation loss is {val_loss}; "
                                     f"{self._kept()}. Try a lower --lr or --clip")
        since = state.since_eval
        record = {"step": state.step, "epoch": round(state.step / len(self.task.train), 6),
                  "train_loss": since.loss_sum / since.steps, "val_loss": val_loss, "val_bpc": val_loss / LN2,
                  "tokens_per_sec": since.tokens / since.seconds if since.seconds else 0.0,
                  "elapsed_sec": round(state.train_seconds, 3)}
        improved = state.best_val_loss is None or val_loss < state.best_val_loss
        if improved:
            state.best_val_loss, state.best_step = val_loss, state.step
        state.record = record
        if scheduled:
            state.since_eval = SinceEval()
        self.run_dir.commit(self.save, record, improved)
        display.message(f"step {state.step} epoch {record['epoch']:.3f}: train loss {record['train_loss']:.4f}, "
                        f"val loss {val_loss:.4f}, val {record['val_bpc']:.4f} bits/char, "
                        f"{record['tokens_per_sec']:,.0f} tokens/s{' (best)' if improved else ''}")

    # -- what the run says -----------------------------------------------------------------
    def _last_evaluated_step(self) -> int:
        return self.state.record["step"] if self.state.record else 0

    def _kept(self) -> str:
        return f"{self.run_dir / 'last.npz'} (step {self._last_evaluated_step()}) is kept as it was"

    def _description(self) -> str:
        model, data = self.model, self.task
        return (f"minirnn train: {type(model).__name__} {model.config()}, "
                f"{sum(p.size for p in model.params.values()):,} parameters; vocab {len(self.vocab)}; "
                f"{data.train.tokens:,} training and {data.val.tokens:,} validation characters; "
                f"{len(data.train)} batches per epoch" + (self._resuming() if self.config.resume else ""))

    def _resuming(self) -> str:
        """Where a resumed run goes on from: its last commit, made at each evaluation."""
        if self.state.step:
            return f"; resuming at step {self.state.step}"
        return (f"; resuming at step 0: no evaluation was reached before it stopped (a run commits its "
                f"progress at each, every --eval-every {self.config.eval_every} steps)")

    def _nothing_to_train(self) -> TrainResult:
        total, config = self.total_steps, self.config
        end = f"its last step, {total}" if total is not None and self.state.step >= total \
            else f"--minutes {config.minutes} of training"
        self.log(f"nothing to train: the run in {config.out} has reached its end ({end}) at step {self.state.step}; "
                 "give a larger --epochs or --minutes with --resume to train on")
        return self._result([], interrupted=False)

    def _result(self, losses: list, interrupted: bool) -> TrainResult:
        """The result from the latest evaluation (NaNs when a Ctrl-C came before any step was taken)."""
        state = self.state
        record = state.record or dict(epoch=0.0, val_loss=math.nan, val_bpc=math.nan, tokens_per_sec=0.0)
        best = math.nan if state.best_val_loss is None else state.best_val_loss
        return TrainResult(state.step, record["epoch"], record["val_loss"], record["val_bpc"], best,
                           record["tokens_per_sec"], losses, str(self.config.out), interrupted)


def _absolute(path: str | None) -> str | None:
    """The path made absolute, so that a run can be resumed from another directory."""
    return None if path is None else str(Path(path).absolute())


def _text_changed(config: TrainConfig, given: set) -> str:
    """Why the text is not the run's, in terms of what the user gave."""
    if "text" in given:
        return (f"--text {config.text} is not the text the run in {config.out} was trained on (their SHA-256 "
                "differ); give the same text")
    if config.text is not None:
        return (f"{config.text}, the text the run in {config.out} was trained on, has changed since (its SHA-256 "
                "differs); give the original text with --text")
    return (f"the built-in corpus ({config.corpus_bytes} bytes of this Python's standard library) is not the one "
            f"the run in {config.out} was trained on (another Python version?); give that text with --text")


def train(config: TrainConfig, log=None, given=None) -> TrainResult:
    """Train (or, with ``config.resume``, continue) a character model; see the module docstring.

    log: a function taking one line of text (default: print to stderr); given: see :class:`Trainer`.
    """
    return Trainer(config, log, given).run()
