"""Check every hand-written gradient in minirnn against finite differences.

    python scripts/gradcheck.py [--model lstm] [--seed 0] [--backend numpy] [--verbose]

Exits non-zero if any tensor fails. The same as ``minirnn gradcheck``.
"""
import sys

from minirnn.commands.gradcheck import main

if __name__ == "__main__":
    sys.exit(main())
