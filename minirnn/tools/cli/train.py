"""Train a character model on a text file or the built-in corpus (Python's standard-library sources).

Writes last.npz, best.npz, metrics.jsonl and loss.png into --out; evaluates on the
last --val-fraction of the text every --eval-every steps and at the end. Ctrl-C
stops after the step under way, evaluated and saved (exit status 130).

Each evaluation reports train_loss, the running mean of the training loss (the
cross-entropy in nats per character of each training step's batch) over the training
steps since the previous --eval-every evaluation; val_loss, the loss over the whole
validation text; and val_bpc, val_loss in bits per character.

With --resume, continues the run in --out with its saved settings, the same losses
as if it had never stopped. --epochs and --minutes (either replaces the saved
stopping rule, counting the whole run) and --eval-every may change; --text may
give the same text at a new path; any other flag must agree with the saved run.
"""
from __future__ import annotations

import argparse
import math

from minirnn.cell_kinds import LAYERS

from ..train.config import TrainConfig
from ..train.trainer import train

DEFAULTS = TrainConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No flag has an argparse default: a flag's absence must be visible, since with --resume an
    # absent flag keeps the saved setting while a given one must agree with it.
    def add(group, *names, default_shown=True, **kwargs):
        dest = names[0][2:].replace("-", "_")
        if default_shown:
            kwargs["help"] += f" (default {getattr(DEFAULTS, dest)})"
        group.add_argument(*names, default=argparse.SUPPRESS, **kwargs)

    data = parser.add_argument_group("data")
    add(data, "--text", metavar="FILE", default_shown=False,
        help="UTF-8 text to train on (default: the built-in corpus)")
    add(data, "--corpus-bytes", type=int, metavar="N",
        help="bytes of the built-in corpus, at most what the standard library's top-level modules hold "
             "(about 4.7 MB on Python 3.11)")
    add(data, "--val-fraction", type=float, metavar="X", help="the last X of the text is for validation")
    model = parser.add_argument_group("model")
    add(model, "--model", choices=("charrnn", "charloop"),
        help="CharRNN (a prediction per step) or the article's CharLoopModel")
    add(model, "--cell", choices=tuple(LAYERS), help="CharRNN's recurrent layer")
    add(model, "--emb", type=int, metavar="N", help="embedding size")
    add(model, "--hidden", type=int, metavar="N", help="hidden size")
    add(model, "--layers", type=int, metavar="N", help="stacked layers, CharRNN")
    add(model, "--dropout", type=float, metavar="P", help="dropout between layers and before the head, CharRNN")
    add(model, "--window", type=int, metavar="N", help="CharLoopModel's window of characters")
    add(model, "--dtype", choices=("float32", "float64"), help="precision of the parameters and the math")
    optim = parser.add_argument_group("optimization")
    add(optim, "--batch", type=int, metavar="N", help="streams (CharRNN) or windows (CharLoopModel) per batch")
    add(optim, "--bptt", type=int, metavar="N", help="steps per truncated-BPTT chunk, CharRNN")
    add(optim, "--optimizer", choices=("sgd", "adagrad", "adam", "adamw"), help="the update rule")
    add(optim, "--lr", type=float, metavar="X", help="learning rate")
    add(optim, "--momentum", type=float, metavar="X", help="momentum of --optimizer sgd")
    add(optim, "--weight-decay", type=float, metavar="X", default_shown=False,
        help="L2 (sgd, adam; default 0) or decoupled (adamw; default 0.01) weight decay")
    add(optim, "--clip", type=float, metavar="X", help="max global gradient norm, 0 for none")
    add(optim, "--schedule", choices=("constant", "cosine", "step"),
        help="learning-rate schedule; cosine needs --epochs")
    add(optim, "--warmup", type=int, metavar="N", help="warm-up steps of --schedule cosine")
    add(optim, "--step-size", type=int, metavar="N", help="steps between decays of --schedule step")
    add(optim, "--gamma", type=float, metavar="X", help="decay factor of --schedule step")
    run = parser.add_argument_group("run")
    add(run, "--epochs", type=float, metavar="N", default_shown=False,
        help="passes over the training text, fractions allowed (default without --minutes: 1)")
    add(run, "--minutes", type=float, metavar="X", default_shown=False,
        help="training time limit, evaluations excluded; with --resume, the total over all sessions of the run")
    add(run, "--eval-every", type=int, metavar="N", help="steps between evaluations")
    add(run, "--seed", type=int, metavar="N", help="seed of the initial weights, dropout and window order")
    add(run, "--out", metavar="DIR", help="run directory")
    add(run, "--resume", action="store_true", default_shown=False,
        help="continue the run in --out from its last.npz, with its saved settings")
    add(run, "--no-progress", dest="progress", action="store_false", default_shown=False,
        help="no progress display (by default a bar on a terminal, else a line every 30 s)")


def run(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in TrainConfig.__dataclass_fields__ if hasattr(args, name)}
    result = train(TrainConfig(**given), given=set(given))
    print(f"step {result.step}: val {result.val_bpc:.4f} bits/char "
          f"(best {result.best_val_loss / math.log(2):.4f}); checkpoints in {result.out}")
    return 130 if result.interrupted else 0
