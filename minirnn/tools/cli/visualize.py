"""Colour a text by what a trained model's hidden units do while reading it (an HTML page and a heatmap).

    minirnn visualize runs/minirnn/best.npz --string 'def f(x):\n    return "x"' --out units.html
    minirnn visualize best.npz --text some.py --unit 7 --unit 42 --out units.html --heatmap all.png
    minirnn visualize best.npz --out units.html

Without --text or --string, the model reads the text its run held out from
training (the validation part of its own training text, which the checkpoint
records). The page has one span per character, coloured by a hidden unit's value after
reading it (given with --unit, or the --units most interesting ones: those that
vary most, and most slowly), with the model's likeliest next characters on
hover; the heatmap shows every unit. The checkpoint must hold a CharRNN.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from minirnn import checkpoint
from minirnn.core import validate
from minirnn.core.atomic import atomic_write
from minirnn.data import Vocab, read_text
from minirnn.models import CharRNN

from ..study import plotting, visualize
from ..study.run_text import run_text
from . import output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a CharRNN .npz written by minirnn train")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", metavar="FILE", help="a UTF-8 file to read (default: the validation part of the "
                        "text the checkpoint's run trained on)")
    source.add_argument("--string", metavar="TEXT", help="the text itself")
    parser.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")
    parser.add_argument("--heatmap", metavar="FILE.png",
                        help="the heatmap of every unit (needs matplotlib; default: --out with .png, left out "
                             "without matplotlib)")
    parser.add_argument("--force", action="store_true", help="replace the page and the heatmap if they exist")
    parser.add_argument("--unit", type=int, action="append", metavar="N",
                        help="a hidden unit to show (repeat for several; default: the most interesting)")
    parser.add_argument("--units", type=int, default=3, metavar="K",
                        help="how many interesting units to pick when --unit is not given (default %(default)s)")
    parser.add_argument("--top", type=int, default=3, metavar="K",
                        help="next-character predictions shown on hover (default %(default)s)")
    parser.add_argument("--max-chars", type=int, default=2000, metavar="N",
                        help="read at most N characters of the text (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    validate.positive_int("--units", args.units)
    validate.positive_int("--top", args.top)
    validate.positive_int("--max-chars", args.max_chars)
    page, heatmap = Path(args.out), None
    if args.heatmap is not None:
        plotting.pyplot()                       # asked for: without matplotlib, an error now rather than at the end
        heatmap = Path(args.heatmap)
    elif _can_plot():
        heatmap = page.with_suffix(".png")
    outputs = {"--out": page}
    if heatmap is not None:
        outputs["--heatmap" if args.heatmap is not None else "the heatmap (--out with .png)"] = heatmap
    output.check_outputs(outputs, args.force, inputs={"CHECKPOINT": args.checkpoint, "--text": args.text})

    saved = checkpoint.load(args.checkpoint)
    if "vocab" not in saved.meta:
        raise ValueError(f"{args.checkpoint} holds no vocabulary: it was not written by minirnn train")
    model = saved.build_model()
    if not isinstance(model, CharRNN):
        raise ValueError(f"CHECKPOINT {args.checkpoint} must hold a CharRNN (the model that carries its state "
                         f"from character to character), got a {saved.model_class}")
    if args.text is not None:
        text, name = read_text(args.text), "--text"
    elif args.string is not None:
        text, name = args.string, "--string"
    else:
        trained_on = run_text(saved, flag="--text or --string")
        text, name = trained_on.validation, f"the validation part of {trained_on.source}"
    if not text:
        raise ValueError("--string must not be empty" if name == "--string" else f"--text {args.text} is empty")
    text, vocab = text[:args.max_chars], Vocab.from_json(saved.meta["vocab"])
    vocab.encode(text, name=name)                                   # refused by the flag's name
    reading = visualize.read(model, vocab, text, args.top)
    units = args.unit if args.unit else visualize.interesting_units(reading.activations, args.units)
    html = visualize.render_html(reading, units, f"minirnn: {Path(args.checkpoint).name} reading "
                                 f"{len(text)} characters")
    atomic_write(page, lambda file: file.write(html.encode("utf-8")))
    if heatmap is not None:
        atomic_write(heatmap, lambda file: visualize.plot_heatmap(reading, file))
    print(f"wrote {page} (units {', '.join(map(str, units))}) and "
          + (str(heatmap) if heatmap else "no heatmap: pip install 'minirnn[plot]' for matplotlib"))
    return 0


def _can_plot() -> bool:
    try:
        plotting.pyplot()
    except RuntimeError:
        return False
    return True
