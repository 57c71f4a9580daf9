#!/usr/bin/env python
"""Draw the figures that the README and docs/walkthrough.md show, with ``minirnn draw``.

    python scripts/draw_figures.py [--out docs/images]

writes, under --out: charloop/ (the article's model at its sizes, n_fac 42 and
256 hidden units, over a window of 8 characters: cell, unrolled, bptt), lstm/
(cell) and gru/ (cell), each as .svg and .png. A second run replaces the files
the first one wrote (and no others). The README and docs/walkthrough.md give the
same commands, and tests/tools/study/test_figures.py holds the committed figures equal
to what these draw.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn.tools.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# (folder, the arguments of minirnn draw)
FIGURES = [
    ("charloop", ["charloop", "--hidden-size", "256", "--steps", "8"]),
    ("lstm", ["lstm", "--figure", "cell"]),
    ("gru", ["gru", "--figure", "cell"]),
]


def draw_all(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"), metavar="DIR",
                        help="where the folders of figures go (default: docs/images)")
    args = parser.parse_args(argv)
    for folder, arguments in FIGURES:
        status = main(["draw", *arguments, "--out", str(Path(args.out) / folder)])
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(draw_all())
