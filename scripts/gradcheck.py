#!/usr/bin/env python
"""Check every hand-written gradient in minirnn against finite differences.

    python scripts/gradcheck.py [--model lstm] [--seed 0] [--backend numpy] [--cases N] [--verbose]

The same as ``minirnn gradcheck``; exits non-zero if any tensor fails.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn.tools.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["gradcheck", *sys.argv[1:]]))
