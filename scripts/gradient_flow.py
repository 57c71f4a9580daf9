"""Plot ||dL/dh_t|| against t for a loss at the last step: the picture of vanishing and exploding gradients.

    python scripts/gradient_flow.py --out gradient_flow.png
        trains a small tanh RNN, relu RNN, LSTM and GRU on the default corpus
        (the standard library's sources) for a few seconds each and draws each
        one's curve at initialisation (dashed) and after training (solid);
    python scripts/gradient_flow.py --checkpoint runs/minirnn/best.npz --out flow.png
        draws the curve of a trained CharRNN checkpoint.

The gradients come from minirnn's own backward (see minirnn.study.gradient_flow).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn.study import gradient_flow  # noqa
from minirnn.training import checkpoint  # noqa: E402
from minirnn.training.data import Vocab, default_corpus, read_text  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, metavar="FILE.png", help="where to write the plot")
    parser.add_argument("--checkpoint", metavar="FILE.npz", help="a CharRNN checkpoint written by minirnn train")
    parser.add_argument("--text", metavar="FILE", help="UTF-8 text to train on and probe with "
                        "(default: 300 kB of the standard library's sources)")
    parser.add_argument("--steps", type=int, default=50, metavar="T",
                        help="steps before the loss (default %(default)s)")
    parser.add_argument("--batch", type=int, default=16, metavar="B", help="probe windows (default %(default)s)")
    parser.add_argument("--train-steps", type=int, default=100, metavar="N",
                        help="updates of the short training run (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=64, metavar="H", help="hidden units (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        text = read_text(args.text) if args.text else default_corpus(300_000)
        if args.checkpoint:
            saved = checkpoint.load(args.checkpoint)
            model = saved.build_model()
            if "vocab" not in saved.meta or not isinstance(model, gradient_flow.CharRNN):
                raise ValueError(f"{args.checkpoint} must hold a CharRNN and its vocabulary (written by "
                                 f"minirnn train --model charrnn), got a {saved.model_class}")
            ids = Vocab.from_json(saved.meta["vocab"]).encode(text[-20_000:])
            windows, targets = gradient_flow.probe_batch(ids, args.steps, args.batch, args.seed)
            label = f"{type(model.rnn).__name__}, {model.hidden} units ({Path(args.checkpoint).name})"
            flows = [gradient_flow.Flow(label,
                                        *gradient_flow.state_gradient_norms(model, windows, targets))]
        else:
            flows = gradient_flow.gradient_flow(text, steps=args.steps, batch=args.batch,
                                                train_steps=args.train_steps, hidden=args.hidden, seed=args.seed,
                                                log=lambda line: print(line, file=sys.stderr))
        gradient_flow.plot_flows(flows, args.out)
    except (ValueError, TypeError, OSError, RuntimeError, FloatingPointError) as err:
        print(f"gradient_flow.py: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
