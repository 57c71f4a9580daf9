"""Draw the article's figures from a real model: its cell, its unrolled loop, and BPTT's gradients.

Writes cell.svg, unrolled.svg and bptt.svg, and a .png of each, into --out.
Every label comes from the model: the parameters' names and shapes, the shapes
of a forward's arrays, and ||dL/dh_t|| from a backward over a random input of
--steps x --batch, for a loss at the last step. Files in --out that minirnn draw
did not write are never replaced, unless --force. Needs matplotlib.

    minirnn draw charloop --hidden-size 256 --steps 8 --out figures/charloop
    minirnn draw lstm --steps 8 --out figures/lstm
    minirnn draw runs/stdlib/best.npz --out figures/trained
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..study import draw
from ..study.diagram import describe
from ..study.explain import MODELS
from .explain import add_model_arguments, model_from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, steps=6)
    parser.add_argument("--show-steps", type=int, default=3, metavar="K",
                        help="steps drawn when there are more: the first K-1, then '…' and the last "
                             "(default %(default)s)")
    parser.add_argument("--out", required=True, metavar="DIR", help="the directory to write the figures into")
    parser.add_argument("--figure", choices=draw.FIGURES, action="append", dest="names",
                        help="draw only this figure (repeatable; default: all three)")
    parser.add_argument("--format", choices=draw.FORMATS, action="append", dest="formats",
                        help="write only this format (repeatable; default: svg and png)")
    parser.add_argument("--force", action="store_true", help="replace files that minirnn draw did not write")


def run(args: argparse.Namespace) -> int:
    try:
        draw.require_matplotlib()
    except ImportError as err:
        print(f"minirnn: error: {err}", file=sys.stderr)
        return 2
    formats, names = tuple(args.formats or draw.FORMATS), tuple(args.names or draw.FIGURES)
    paths = draw.targets(args.out, formats, args.force, names)   # before any work: a refusal costs nothing
    if args.model not in MODELS and Path(args.model).resolve() in {path.resolve() for path in paths}:
        raise ValueError(f"--out {args.out} would replace MODEL {args.model} itself, even with --force; "
                         "draw into another directory")
    model = model_from(args)
    title = "" if args.model in MODELS else f"{Path(args.model).name}: {describe(model)}"
    paths = draw.draw(model, args.out, args.steps, args.batch, args.seed, args.show_steps, formats, args.force,
                      title, names)
    print(f"wrote {', '.join(str(path) for path in paths)}")
    return 0
