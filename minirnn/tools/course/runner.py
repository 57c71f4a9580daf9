"""The ``minirnn course`` command: every row of the table, or the rows named, in minirnn and in torch.

For each row it runs minirnn's side and then, when torch is installed, torch's,
each in a fresh process (worker.py) whose environment lacks the OpenBLAS pins
(as ``minirnn bench``'s workers' does), and records each side's result in the
results file the moment it ends (results.py). A rerun with the same file skips
what is recorded (``--redo`` runs it again). Progress goes to stderr, the table
to stdout.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy

from minirnn.data import corpus_path

from ..bench.bench import _processor, _torch_version, worker_environment
from . import results as stored
from .table import ROWS


def machine(torch_version) -> dict:
    return dict(processor=_processor(), cores=os.cpu_count(), python=platform.python_version(),
                numpy=numpy.__version__, torch=torch_version,
                date=datetime.datetime.now().isoformat(timespec="seconds"))


def chosen_rows(numbers) -> list[int]:
    """The rows named (all when none), in table order; a ValueError names the ones that do not exist."""
    unknown = sorted(set(numbers) - set(ROWS))
    if unknown:
        raise ValueError(f"rows must be among {min(ROWS)}..{max(ROWS)}, got {', '.join(map(str, unknown))}")
    return [n for n in ROWS if n in numbers] if numbers else list(ROWS)


def run_table(rows, results_path, quick: bool = False, seed: int = 0, threads: int | None = None,
              use_torch: bool = True, redo: bool = False, download: bool = True, log=None) -> dict:
    """Run ``rows`` (numbers), record each side in ``results_path`` as it ends; returns the results."""
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    threads = threads or os.cpu_count()
    torch_version = _torch_version("numpy") if use_torch else None
    corpus = corpus_path("nietzsche", download=download, progress=download_progress(log))
    setting = dict(quick=quick, seed=seed, threads=threads)
    results = stored.load(results_path)
    if results is None:
        results = stored.begin(setting, machine(torch_version))
    elif results["setting"] != setting:
        raise ValueError(f"{results_path} holds rows run with {results['setting']}, not {setting}: give another "
                         "--results, or the settings it was run with")
    libraries = ("minirnn", "torch") if torch_version else ("minirnn",)
    env = worker_environment(threads)
    for number in rows:
        recorded = results["rows"].setdefault(str(number), {})
        for library in libraries:
            if library in recorded and not redo:
                log(f"row {number} {library}: recorded in {results_path}, skipped (--redo runs it again)")
                continue
            spec = dict(row=number, library=library, corpus=str(corpus), seed=seed, quick=quick, threads=threads)
            recorded[library] = run_worker(spec, env, log)
            if library == "torch":
                results["machine"]["torch"] = torch_version
            stored.save(results_path, results)
            first, last = stored.losses(ROWS[number], recorded[library])
            log(f"row {number} {library}: {first:.3f} → {last:.3f} in {recorded[library]['seconds']:.1f} s "
                f"(the 2017 notebook: {ROWS[number].notebook[0]:.3f} → {ROWS[number].notebook[1]:.3f}); "
                f"recorded in {results_path}")
    return results


def run_worker(spec: dict, env: dict, log) -> dict:
    """One library's side of one row in a process of its own; its epochs logged as they end; its result."""
    name = f"row {spec['row']} {spec['library']}"
    row = ROWS[spec["row"]]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([sys.executable, "-m", "minirnn.tools.course.worker", json.dumps(spec)],
                                   env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        result = None
        try:
            for line in process.stdout:
                message = json.loads(line) if line.startswith("{") else {}
                if "epoch" in message:
                    record = message["epoch"]
                    val = "" if record["val"] is None else f", val {record['val']:.3f}"
                    log(f"{name}: epoch {record['epoch']}/{row.epochs}, lr {record['lr']:.2g}, train "
                        f"{record['train']:.3f}{val} ({record['seconds']:.1f} s)")
                result = message.get("result", result)
            status = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if status != 0 or result is None:
            errors.seek(0)
            last = (errors.read().decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
            raise ChildProcessError(f"{name} failed (exit status {status}): {last}")
    return result


def download_progress(log):
    """A progress(received, total) for the corpus's download: a tqdm bar when tqdm is installed, else one line."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    bar = None

    def progress(received: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            log("downloading the nietzsche corpus")
            bar = tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr) if tqdm else False
        if bar:
            bar.update(received - bar.n)
            if received >= total:
                bar.close()
    return progress
