#!/usr/bin/env python
"""Time minirnn's RNN, LSTM and GRU against torch.nn's: python scripts/bench.py [--quick] [--json] ...

The same as ``minirnn bench``; see minirnn/tools/bench/bench.py for what is measured.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn.tools.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
