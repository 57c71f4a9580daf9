#!/usr/bin/env python
"""Time minirnn's RNN, LSTM and GRU against torch.nn's: python scripts/bench.py [--quick] [--json] ...

The same as ``minirnn bench``; see minirnn/bench.py for what is measured.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from minirnn import bench  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=bench.__doc__.splitlines()[0])
    bench.add_arguments(parser)
    try:
        sys.exit(bench.run(parser.parse_args()))
    except (ValueError, TypeError, OSError) as err:
        parser.exit(2, f"bench: {err}\n")
