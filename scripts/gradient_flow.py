#!/usr/bin/env python
"""Plot ||dL/dh_t|| against t for a loss at the last step: vanishing and exploding gradients, measured.

    python scripts/gradient_flow.py --out flow.png [--checkpoint runs/minirnn/best.npz] [--text FILE] ...

The same as ``minirnn gradient-flow``; see its --help.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn.tools.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["gradient-flow", *sys.argv[1:]]))
