"""Train a character model on a text file or the built-in corpus (Python's standard-library sources).

Writes last.npz, best.npz, metrics.jsonl and loss.png into --out; evaluates on the
last --val-fraction of the text every --eval-every steps and at the end.
With --resume, continues the run in --out with its saved settings: only
--epochs, --minutes and --eval-every may change.
"""
from __future__ import annotations

import argparse
import math

from ..training.trainer import TrainConfig, train

DEFAULTS = TrainConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--text", metavar="FILE", help="UTF-8 text to train on (default: the built-in corpus)")
    data.add_argument("--corpus-bytes", type=int, default=DEFAULTS.corpus_bytes, metavar="N",
                      help="size of the built-in corpus (default %(default)s)")
    data.add_argument("--val-fraction", type=float, default=DEFAULTS.val_fraction, metavar="X",
                      help="the last X of the text is for validation (default %(default)s)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=("charrnn", "charloop"), default=DEFAULTS.model,
                       help="CharRNN (a prediction per step) or the article's CharLoopModel (default %(default)s)")
    model.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=DEFAULTS.cell,
                       help="CharRNN's recurrent cell (default %(default)s)")
    model.add_argument("--emb", type=int, default=DEFAULTS.emb, metavar="N",
                       help="embedding size (default %(default)s)")
    model.add_argument("--hidden", type=int, default=DEFAULTS.hidden, metavar="N",
                       help="hidden size (default %(default)s)")
    model.add_argument("--layers", type=int, default=DEFAULTS.layers, metavar="N",
                       help="stacked layers, CharRNN (default %(default)s)")
    model.add_argument("--dropout", type=float, default=DEFAULTS.dropout, metavar="P",
                       help="dropout between layers and before the head (default %(default)s)")
    model.add_argument("--window", type=int, default=DEFAULTS.window, metavar="N",
                       help="CharLoopModel's window of characters (default %(default)s)")
    model.add_argument("--dtype", choices=("float32", "float64"), default=DEFAULTS.dtype)
    optim = parser.add_argument_group("optimization")
    optim.add_argument("--batch", type=int, default=DEFAULTS.batch, metavar="N",
                       help="streams (CharRNN) or windows (CharLoopModel) per batch (default %(default)s)")
    optim.add_argument("--bptt", type=int, default=DEFAULTS.bptt, metavar="N",
                       help="steps per truncated-BPTT chunk (default %(default)s)")
    optim.add_argument("--optimizer", choices=("sgd", "adagrad", "adam", "adamw"), default=DEFAULTS.optimizer)
    optim.add_argument("--lr", type=float, default=DEFAULTS.lr, metavar="X",
                       help="learning rate (default %(default)s)")
    optim.add_argument("--momentum", type=float, default=DEFAULTS.momentum, metavar="X", help="SGD's momentum")
    optim.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay, metavar="X",
                       help="L2 (sgd, adam; default 0) or decoupled (adamw; default 0.01) weight decay")
    optim.add_argument("--clip", type=float, default=DEFAULTS.clip, metavar="X",
                       help="max global gradient norm, 0 for none (default %(default)s)")
    optim.add_argument("--schedule", choices=("constant", "cosine", "step"), default=DEFAULTS.schedule,
                       help="learning-rate schedule; cosine needs --epochs (default %(default)s)")
    optim.add_argument("--warmup", type=int, default=DEFAULTS.warmup, metavar="N",
                       help="warm-up steps of the cosine schedule")
    optim.add_argument("--step-size", type=int, default=DEFAULTS.step_size, metavar="N",
                       help="steps between decays of the step schedule (default %(default)s)")
    optim.add_argument("--gamma", type=float, default=DEFAULTS.gamma, metavar="X",
                       help="decay factor of the step schedule (default %(default)s)")
    run = parser.add_argument_group("run")
    run.add_argument("--epochs", type=float, metavar="N", help="passes over the training text, fractions allowed")
    run.add_argument("--minutes", type=float, metavar="X",
                     help="training time limit, evaluations excluded; with --resume, the total over all sessions of the "
                          "run (default without --epochs: 1 epoch)")
    run.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every, metavar="N",
                     help="steps between evaluations (default %(default)s)")
    run.add_argument("--seed", type=int, default=DEFAULTS.seed, metavar="N", help="(default %(default)s)")
    run.add_argument("--out", default=DEFAULTS.out, metavar="DIR", help="run directory (default %(default)s)")
    run.add_argument("--resume", action="store_true", help="continue the run in --out from its last.npz")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    fields = {name: getattr(args, name) for name in TrainConfig.__dataclass_fields__ if hasattr(args, name)}
    result = train(TrainConfig(**fields))
    print(f"step {result.step}: val {result.val_bpc:.4f} bits/char "
          f"(best {result.best_val_loss / math.log(2):.4f}); checkpoints in {result.out}")
    return 0
