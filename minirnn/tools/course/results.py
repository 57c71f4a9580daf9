"""The course's results file: each row's numbers as they are measured, and the table made from them.

The file is JSON, rewritten whole (atomically) each time one library finishes a
row, so a run stopped at any instant keeps every row it finished and a rerun
can skip them:

    {"format": 1,
     "note": "the notebook's schedules, in full" (or "interim: the quick setting ..."),
     "setting": {"quick": false, "seed": 0, "threads": 2},    what every row here was run with
     "machine": {"processor", "cores", "python", "numpy", "torch", "date"},   where, when the file was begun
     "rows": {"2": {"minirnn": RESULT, "torch": RESULT}, ...}}

RESULT is the worker's: {"seconds", "epochs": [{"epoch", "lr", "train", "val",
"seconds"}, ...], "phase_ends", "batches_per_epoch", "val_batches"}. The table
(:func:`markdown`, the README's; :func:`text`, the terminal's) is made from the
file and table.py alone.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from minirnn.core.atomic import atomic_write

from .examples import QUICK_BATCHES, QUICK_VAL_BATCHES
from .table import DATA, ROWS, Row, schedule_text

FORMAT = 1
LIBRARIES = ("minirnn", "torch")


def begin(setting: dict, machine: dict) -> dict:
    """A new results file's contents: no row yet, and a note that says what its numbers are."""
    note = (f"interim: the quick setting ({QUICK_BATCHES} training batches per row), to see that everything runs; "
            "not the notebook's schedules" if setting["quick"] else "the notebook's schedules, in full")
    return {"format": FORMAT, "note": note, "setting": setting, "machine": machine, "rows": {}}


def load(path) -> dict | None:
    """The results stored at ``path``, or None when there is no file; a ValueError when it is not one."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a course results file: {err}") from None
    if not isinstance(results, dict) or results.get("format") != FORMAT \
            or not {"note", "setting", "machine", "rows"} <= set(results):
        raise ValueError(f"{path} is not a course results file (format {FORMAT}): give another --results")
    return results


def save(path, results: dict) -> None:
    atomic_write(path, lambda file: file.write((json.dumps(results, indent=1) + "\n").encode("utf-8")))


def losses(row: Row, result: dict) -> tuple:
    """The two numbers the table shows: the loss after the first phase and at the end (train for row 1)."""
    key = "train" if row.measure == "train" else "val"
    epochs = {record["epoch"]: record for record in result["epochs"]}
    return tuple(epochs[end][key] for end in (result["phase_ends"][0], result["phase_ends"][-1]))


def _pair(values) -> str:
    return "—" if values is None else f"{values[0]:.3f} → {values[1]:.3f}"


def _seconds(result) -> str:
    return "—" if result is None else f"{result['seconds']:.1f}"


def _ratio(ours, theirs) -> str:
    """torch's time over minirnn's: above 1, minirnn is faster."""
    return "—" if ours is None or theirs is None else f"{theirs['seconds'] / ours['seconds']:.2f}"


def table_rows(results: dict) -> list[dict]:
    """One dict of printed cells per row of table.py, in order; "—" where a library has no result."""
    cells = []
    for number, row in ROWS.items():
        stored = results["rows"].get(str(number), {})
        ours, theirs = stored.get("minirnn"), stored.get("torch")
        cells.append({"#": str(number), "model": row.name, "schedule": schedule_text(row),
                      "notebook": _pair(row.notebook) + (" (train)" if row.measure == "train" else ""),
                      "minirnn": _pair(ours and losses(row, ours)), "torch": _pair(theirs and losses(row, theirs)),
                      "minirnn s": _seconds(ours), "torch s": _seconds(theirs), "torch/minirnn": _ratio(ours, theirs)})
    return cells


def totals(results: dict) -> dict:
    """Seconds in all of the rows both libraries have run, and their ratio."""
    both = [r for r in results["rows"].values() if "minirnn" in r and "torch" in r]
    ours, theirs = sum(r["minirnn"]["seconds"] for r in both), sum(r["torch"]["seconds"] for r in both)
    return dict(rows=len(both), minirnn=ours, torch=theirs, ratio=theirs / ours if both else math.nan)


def notes(results: dict) -> list[str]:
    """What the table's reader must know: the setting, the machine, the data of rows 7-9."""
    setting, machine = results["setting"], results["machine"]
    said = []
    if setting["quick"]:
        batches = f"{QUICK_VAL_BATCHES} validation batch" + ("es" if QUICK_VAL_BATCHES > 1 else "")
        said.append(f"**Interim numbers, the quick setting:** {QUICK_BATCHES} training batches per row spread "
                    f"over its epochs and {batches} per evaluation, not the notebook's schedules, so the losses "
                    "are far above the notebook's; the full table replaces them.")
    run = totals(results)
    if run["rows"]:
        said.append(f"In all, over the {run['rows']} rows both ran: minirnn {run['minirnn']:.1f} s, torch "
                    f"{run['torch']:.1f} s (torch/minirnn {run['ratio']:.2f}; above 1, minirnn is faster).")
    threads = f"{setting['threads']} thread" + ("s" if setting["threads"] > 1 else "")
    said.append(f"Measured {machine['date'][:10]} on {machine['processor']}, {machine['cores']} cores, "
                f"{threads}, float32; Python {machine['python']}, NumPy {machine['numpy']}, "
                f"torch {machine['torch'] or '(not run)'}; seed {setting['seed']}; each library in a process of "
                "its own, from the same first weights, on the same batches in the same order.")
    said.append(f"Rows 7-9: {DATA['streams']} (the notebook's split was not published).")
    return said


COLUMNS = ("#", "model", "schedule", "notebook", "minirnn", "torch", "minirnn s", "torch s", "torch/minirnn")


def markdown(results: dict) -> str:
    """The table and its notes as Markdown, as the README shows them."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(cells[c] for c in COLUMNS) + " |" for cells in table_rows(results)]
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes(results)) + "\n"


def text(results: dict) -> str:
    """The table and its notes as plain text for the terminal."""
    shown = ("#", "model", "notebook", "minirnn", "torch", "minirnn s", "torch s", "torch/minirnn")
    rows = table_rows(results)
    widths = {c: max(len(c), *(len(cells[c]) for cells in rows)) for c in shown}
    lines = ["  ".join(c.ljust(widths[c]) for c in shown)]
    lines += ["  ".join(cells[c].ljust(widths[c]) for c in shown) for cells in rows]
    return "\n".join(lines) + "\n\n" + "\n".join(n.replace("**", "") for n in notes(results))
