"""Plot ||dL/dh_t|| against t for a loss at the last step: the picture of vanishing and exploding gradients.

    minirnn gradient-flow --out gradient_flow.png
        trains a small tanh RNN, relu RNN, LSTM and GRU on the built-in corpus
        (the standard library's sources) for a few seconds each and draws each
        one's curve at initialisation (dashed) and after training (solid);
    minirnn gradient-flow --checkpoint runs/minirnn/best.npz --out flow.png
        draws the curve of a trained CharRNN checkpoint, over windows of the
        validation part of the text its run trained on (or of --text).

The gradients come from one backward pass of the reference implementation, on the
model's own weights (see minirnn.tools.study.gradient_flow).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from minirnn import checkpoint
from minirnn.core import validate
from minirnn.core.atomic import atomic_write
from minirnn.data import Vocab, default_corpus, read_text
from minirnn.models import CharRNN

from ..study import gradient_flow, plotting
from ..study.run_text import run_text
from ..train.trainer import text_digest
from . import output

DEFAULT_CORPUS_BYTES = 300_000
PROBE_CHARS = 20_000          # the probe windows are drawn from the last this many characters of the text
TRAIN_STEPS, HIDDEN = 100, 64  # the defaults of the models trained without --checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="FILE.png", help="where to write the plot")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--checkpoint", metavar="FILE.npz", help="a CharRNN checkpoint written by minirnn train")
    parser.add_argument("--text", metavar="FILE", help="UTF-8 text to train on and probe with (default: 300 kB of "
                        "the standard library's sources; with --checkpoint, the text its run trained on)")
    parser.add_argument("--steps", type=int, default=50, metavar="T",
                        help="steps before the loss (default %(default)s)")
    parser.add_argument("--batch", type=int, default=16, metavar="B", help="probe windows (default %(default)s)")
    # No argparse default for these two: given with --checkpoint, whose model is trained already, they are refused.
    parser.add_argument("--train-steps", type=int, metavar="N",
                        help=f"updates of the short training run (default {TRAIN_STEPS}; not with --checkpoint)")
    parser.add_argument("--hidden", type=int, metavar="H",
                        help=f"hidden units of the models trained (default {HIDDEN}; not with --checkpoint)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="(default %(default)s)")


def run(args: argparse.Namespace) -> int:
    # Everything that can be wrong is found before the models train.
    validate.positive_int("--steps", args.steps)
    validate.positive_int("--batch", args.batch)
    for flag, value in (("--train-steps", args.train_steps), ("--hidden", args.hidden)):
        if value is not None and args.checkpoint:
            raise ValueError(f"{flag} does not apply to --checkpoint, whose model is trained already; leave it out")
    train_steps = validate.positive_int("--train-steps", TRAIN_STEPS if args.train_steps is None else args.train_steps)
    hidden = validate.positive_int("--hidden", HIDDEN if args.hidden is None else args.hidden)
    validate.non_negative_int("--seed", args.seed)
    out = Path(args.out)
    output.check_outputs({"--out": out}, args.force, inputs={"--checkpoint": args.checkpoint, "--text": args.text})
    plotting.pyplot()
    started = time.perf_counter()
    if args.checkpoint:
        saved = checkpoint.load(args.checkpoint)
        model = saved.build_model()
        if "vocab" not in saved.meta or not isinstance(model, CharRNN):
            raise ValueError(f"--checkpoint {args.checkpoint} must hold a CharRNN and its vocabulary (written by "
                             f"minirnn train --model charrnn), got a {saved.model_class}")
        if args.text:
            text, source = read_text(args.text), f"--text {args.text}"
        else:                                   # the run's own text, the part it held out from training
            trained_on = run_text(saved)
            text, source = trained_on.validation, f"the validation part of {trained_on.source}"
        vocab = Vocab.from_json(saved.meta["vocab"])
        ids = vocab.encode(text[-PROBE_CHARS:], name="--text" if args.text else source)
        windows, targets = gradient_flow.probe_batch(ids, args.steps, args.batch, args.seed)
        label = f"{type(model.rnn).__name__}, {model.hidden} units ({Path(args.checkpoint).name})"
        flows = [gradient_flow.Flow(label, *gradient_flow.state_gradient_norms(model, windows, targets))]
    else:
        text = read_text(args.text) if args.text else default_corpus(DEFAULT_CORPUS_BYTES)
        source = (f"--text {args.text}" if args.text else f"the built-in corpus ({DEFAULT_CORPUS_BYTES} bytes of "
                  f"Python {sys.version_info.major}.{sys.version_info.minor}'s standard library)")
        flows = gradient_flow.gradient_flow(text, steps=args.steps, batch=args.batch, train_steps=train_steps,
                                            hidden=hidden, seed=args.seed,
                                            log=lambda line: print(line, file=sys.stderr, flush=True))
    source += f"; the text read has SHA-256 {text_digest(text)}"
    atomic_write(out, lambda file: gradient_flow.plot_flows(flows, file, source=source))
    print(f"wrote {out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
