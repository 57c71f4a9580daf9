"""One library's side of one row of the course's table, in a process of its own.

``python -m minirnn.tools.course.worker SPEC`` reads a JSON spec: row, library
("minirnn" or "torch"), corpus (the path of the text), seed, quick, threads. It
prepares the row's examples, trains the library's model by the row's schedule
(fit.py) and prints JSON lines: ``{"epoch": {...}}`` after each epoch and
``{"result": {...}}`` at the end. A process of its own for each library, because
torch's OpenMP threads keep spinning after each call and slow whatever else runs
in their process; torch is imported in the torch worker alone.
"""
from __future__ import annotations

import json
import sys

from minirnn.data import read_text

from .examples import prepare
from .fit import fit
from .minirnn_side import MinirnnSide
from .table import ROWS


def emit(**message) -> None:
    print(json.dumps(message), flush=True)


def main(argv) -> int:
    spec = json.loads(argv[0])
    row = ROWS[spec["row"]]
    examples = prepare(row, read_text(spec["corpus"]), spec["seed"], spec["quick"])
    if spec["library"] == "torch":
        from .torch_side import TorchSide
        side = TorchSide(row, len(examples.vocab), spec["seed"], spec["threads"])
    else:
        side = MinirnnSide(row, len(examples.vocab), spec["seed"])
    result = fit(side, examples, row, report=lambda record: emit(epoch=record))
    emit(result=dict(result, batches_per_epoch=examples.batches_per_epoch, val_batches=examples.val_batches))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
