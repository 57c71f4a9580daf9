#!/usr/bin/env python
"""Fuzz checkpoint loading: every damaged or hostile file is refused with the one error, or loads identically.

    python scripts/fuzz_checkpoints.py [--cases 20000] [--seed 0]

Three sound files are made first: a CharRNN run (2-layer GRU, dropout, Adam,
stopped between evaluations with a carried state), a CharLoopModel run (SGD with
momentum), and a bare CharRNN checkpoint with a vocabulary. hypothesis then draws
mutations of them:

- bytes: a truncation, bit flips, a range overwritten;
- arrays: one removed, one added, one of another dtype or shape, a NaN, a negative
  sum of squares, a pickled object array, every member compressed, a zip bomb;
- metadata (of the runs): a key removed or added, a value replaced by one of
  another type or a negative number, nesting 100,000 deep, a huge vocabulary or
  hidden size, and the issue's cases (eps 1e30, weight_decay -50, step_count -1,
  batch_index 10**6, rng_states {}, hyper.model 'x', the text at /dev/zero or a FIFO).

Each mutation either damages the file or leaves its content as it was, so each case
must end in one of two ways: refused with CheckpointError (or, for a text path that
is not a regular file, the error naming the text), or read back by ``minirnn train
--resume`` (``checkpoint.load`` for the bare file) into exactly the state the sound
file gives. Anything else, another exception or a different state, is counted and
shown. Prints the cases, refused, loaded identically, and tracebacks; exits 1 unless
the last two lists of failures are empty.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import traceback
import warnings
import zipfile
from pathlib import Path

import hypothesis
import numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                  # run from a clone without installing

from minirnn import checkpoint  # noqa: E402
from minirnn.checkpoint import CheckpointError  # noqa: E402
from minirnn.data import Vocab  # noqa: E402
from minirnn.models import build_model  # noqa: E402
from minirnn.tools.train.trainer import TrainConfig, Trainer, train  # noqa: E402

METADATA = checkpoint.METADATA_KEY


def quiet(message):
    pass


# -- the sound files ---------------------------------------------------------------------------
def make_bases(work: Path) -> dict:
    """name -> (path of a sound file, its members as {name: array}, its metadata)."""
    words = "def class return self import for while if else elif try except with lambda yield pass".split()
    rng = numpy.random.default_rng(0)
    text = work / "text.txt"
    text.write_text("\n".join(" ".join(rng.choice(words, size=rng.integers(2, 6))) + ":" for _ in range(200)) + "\n")
    common = dict(text=str(text), emb=6, hidden=8, batch=4, lr=0.01, eval_every=3, progress=False)
    train(TrainConfig(out=str(work / "charrnn"), cell="gru", layers=2, dropout=0.2, bptt=8, epochs=0.3, **common),
          quiet)
    train(TrainConfig(out=str(work / "charloop"), model="charloop", optimizer="sgd", momentum=0.9, epochs=0.05,
                      **common), quiet)
    vocab = Vocab.from_text(text.read_text())
    checkpoint.save(work / "bare.npz", build_model("charrnn", vocab_size=len(vocab), emb=4, hidden=5, cell="lstm",
                                                   seed=3),
                    meta={"vocab": vocab.to_json()})
    bases = {}
    for name, path in (("charrnn", work / "charrnn" / "last.npz"), ("charloop", work / "charloop" / "last.npz"),
                       ("bare", work / "bare.npz")):
        with numpy.load(path, allow_pickle=False) as archive:
            members = {key: archive[key] for key in archive.files}
        bases[name] = (path, members, json.loads(members[METADATA].tobytes()))
    return bases


def snapshot(path: Path, run: bool) -> dict:
    """Everything a resume (run) or a load (bare) makes of the file at ``path``, as comparable values."""
    if not run:
        saved = checkpoint.load(path)
        model = saved.build_model()
        return {"config": saved.model_config, "meta": saved.meta, "vocab": saved.vocab().chars,
                **{f"param/{k}": v.copy() for k, v in model.params.items()}}
    trainer = Trainer(TrainConfig(out=str(path.parent), resume=True, progress=False), quiet)
    trainer.run_dir.close()
    arrays, optimizer = trainer.optimizer.state_dict()
    return {"config": trainer.config.run_settings(), "vocab": trainer.vocab.chars, "optimizer": optimizer,
            "state": trainer.state.to_json(), "rng": trainer.model.rng_state(),
            **{f"param/{k}": v.copy() for k, v in trainer.model.params.items()},
            **{f"optim/{k}": v for k, v in arrays.items()},
            **{f"carried/{k}": v for k, v in trainer.task.state_arrays().items()}}


def same(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    return all((numpy.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype) if isinstance(a[k], numpy.ndarray)
               else a[k] == b[k] for k in a)


# -- mutations -----------------------------------------------------------------------------------
def npz(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    """An .npz of ``members`` as numpy writes it (or with every member compressed)."""
    buffer = io.BytesIO()
    if compression == zipfile.ZIP_STORED:
        numpy.savez(buffer, **members)
    else:
        numpy.savez_compressed(buffer, **members)
    return buffer.getvalue()


def with_metadata(members: dict, text: str) -> dict:
    return {**members, METADATA: numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8)}


def json_paths(value, prefix=()):
    """Every path (a tuple of keys and indices) to a value inside the metadata."""
    yield prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from json_paths(child, prefix + (key,))


def replaced(value, path, new):
    """A copy of ``value`` with the item at ``path`` set to ``new`` (added, or removed when new is REMOVE)."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    if len(path) > 1:
        copy[path[0]] = replaced(copy[path[0]], path[1:], new)
    elif new is REMOVE:
        del copy[path[0]]
    else:
        copy[path[0]] = new
    return copy


REMOVE = object()
PLACEHOLDER = "@@placeholder@@"


def hostile_values(original):
    """Values that cannot be valid where ``original`` stands (every number of the schema is >= 0)."""
    if isinstance(original, bool):
        return [0, 1, "true", None, []]
    if isinstance(original, (int, float)):
        return [-1, -0.5, -1e30, "7", [], {}, True]
    if isinstance(original, str):
        return [5, -1, [], {}, True, None, ""]
    if original is None:
        return ["x", [], {}, -1]
    if isinstance(original, list):
        return ["x", 5, {}, None, [0.5], [0.9, 0.999, 0.1]]
    return [[], "x", 5, None, {}] if original else [[], "x", 5, None]


def hostile_text(metadata: dict, path: tuple, draw) -> str:
    """The metadata as JSON after one hostile edit at ``path``."""
    target = metadata
    for key in path:
        target = target[key]
    edit = draw(st.sampled_from(["replace", "remove", "add", "deep", "huge"]))
    is_text = path[-2:] == ("train_config", "text") if len(path) >= 2 else False
    if edit == "remove" and path and not isinstance(path[-1], int):
        return json.dumps(replaced(metadata, path, REMOVE))
    if edit == "add" and isinstance(target, dict):
        return json.dumps(replaced(metadata, path, {**target, "unexpected": 1}))
    if edit == "deep":
        text = json.dumps(replaced(metadata, path, PLACEHOLDER))
        return text.replace(json.dumps(PLACEHOLDER), "[" * 100_000 + "]" * 100_000)
    if edit == "huge":
        return json.dumps(replaced(metadata, path, "x" * 3_000_000 if not is_text else [0] * 1_000_000))
    options = hostile_values(target)
    if is_text:
        options = [v for v in options if not isinstance(v, str) and v is not None]   # any path is a valid text path
    return json.dumps(replaced(metadata, path, draw(st.sampled_from(options))))


@st.composite
def cases(draw, bases):
    """(base name, the mutated file's bytes, a label, whether a text error is the right refusal)."""
    name = draw(st.sampled_from(sorted(bases)))
    path, members, metadata = bases[name]
    raw = path.read_bytes()
    kinds = ["truncate", "flip", "overwrite", "drop", "extra", "retype", "reshape", "poison", "objects",
             "compressed", "bomb"] + (["metadata"] * 6 + ["issue"] * 2 if name != "bare" else [])
    kind = draw(st.sampled_from(kinds))
    arrays = [k for k in members if k != METADATA]
    if kind == "truncate":
        return name, raw[:draw(st.integers(0, len(raw) - 1))], kind, False
    if kind == "flip":
        data = bytearray(raw)
        for offset in draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
            data[offset] ^= 1 << draw(st.integers(0, 7))
        return name, bytes(data), kind, False
    if kind == "overwrite":
        start = draw(st.integers(0, len(raw) - 1))
        junk = draw(st.binary(min_size=1, max_size=64))
        return name, raw[:start] + junk + raw[start + len(junk):], kind, False
    key = draw(st.sampled_from(arrays))
    if kind == "drop":
        return name, npz({k: v for k, v in members.items() if k != key}), f"drop {key}", False
    if kind == "extra":
        extras = ["param/extra", "optim/extra/exp_avg", "other", key + "x"]
        if name != "bare":                                  # a bare file's own arrays are its writer's to choose
            extras.append("array/state9")
        extra = draw(st.sampled_from(extras))
        return name, npz({**members, extra: numpy.zeros(3, numpy.float32)}), f"extra {extra}", False
    if kind == "retype":
        dtype = draw(st.sampled_from(["float64", "float16", "int32", "uint8", "bool", "complex64"]))
        if members[key].dtype == dtype:
            dtype = "int64"
        return name, npz({**members, key: members[key].astype(dtype)}), f"retype {key} {dtype}", False
    if kind == "reshape":
        return name, npz({**members, key: numpy.zeros(members[key].shape + (1,), members[key].dtype)}), \
            f"reshape {key}", False
    if kind == "poison":
        value = members[key].astype(members[key].dtype, copy=True)
        if value.dtype.kind != "f" or value.size == 0:
            return name, npz({k: v for k, v in members.items() if k != key}), f"drop {key}", False
        value.reshape(-1)[draw(st.integers(0, value.size - 1))] = draw(st.sampled_from([numpy.nan, numpy.inf]))
        if "exp_avg_sq" in key or "/sum" in key:
            value[...] = -1.0
        return name, npz({**members, key: value}), f"poison {key}", False
    if kind == "objects":
        buffer = io.BytesIO()
        numpy.savez(buffer, **{**members, key: numpy.array([None, {"a": 1}], dtype=object)})
        return name, buffer.getvalue(), f"objects {key}", False
    if kind == "compressed":
        return name, npz(members, zipfile.ZIP_DEFLATED), kind, False
    if kind == "bomb":
        return name, npz({**members, key: numpy.zeros(20_000_000, numpy.uint8)}, zipfile.ZIP_DEFLATED), kind, False
    if kind == "metadata":
        path_in = draw(st.sampled_from([p for p in json_paths(metadata) if p]))
        text = hostile_text(metadata, path_in, draw)
        return name, npz(with_metadata(members, text)), f"metadata {'.'.join(map(str, path_in))}", False
    return issue_case(name, members, metadata, draw(st.sampled_from(ISSUE_CASES)))


ISSUE_CASES = ["eps=1e30", "weight_decay=-50", "step_count=-1", "batch_index=10**6", "rng_states={}",
               "hyper.model='x'", "hidden=10**9", "vocab of 10**6 characters", "text=/dev/zero", "text=FIFO"]


def issue_case(name, members, metadata, which):
    """The hostile metadata the issue reproduced, each made from a sound run."""
    edits = {
        "eps=1e30": ("optimizer", "hyper", "eps"),              # SGD has no eps: an unexpected setting
        "weight_decay=-50": ("optimizer", "hyper", "weight_decay"),
        "step_count=-1": ("optimizer", "step_count"),
        "batch_index=10**6": ("meta", "run", "batch_index"),
        "rng_states={}": ("meta", "rng_states"),
        "hyper.model='x'": ("optimizer", "hyper", "model"),
        "hidden=10**9": ("meta", "train_config", "hidden"),
        "vocab of 10**6 characters": ("meta", "vocab", "chars"),
        "text=/dev/zero": ("meta", "train_config", "text"),
        "text=FIFO": ("meta", "train_config", "text"),
    }
    values = {"eps=1e30": 1e30, "weight_decay=-50": -50, "step_count=-1": -1, "batch_index=10**6": 10**6,
              "rng_states={}": {}, "hyper.model='x'": "x", "hidden=10**9": 10**9,
              "vocab of 10**6 characters": MANY_CHARACTERS,
              "text=/dev/zero": "/dev/zero", "text=FIFO": FIFO}
    text = json.dumps(replaced(metadata, edits[which], values[which]))
    return name, npz(with_metadata(members, text)), which, which.startswith("text=")


MANY_CHARACTERS = "".join(map(chr, range(0x100, 0x100 + 10**6)))
FIFO = str(Path(tempfile.gettempdir()) / f"minirnn-fuzz-fifo-{os.getpid()}")


# -- the oracle ----------------------------------------------------------------------------------
class Tally:
    def __init__(self):
        self.cases = self.refused = self.identical = 0
        self.tracebacks: list = []
        self.different: list = []

    def line(self) -> str:
        return (f"cases: {self.cases}, refused: {self.refused}, loaded identically: {self.identical}, "
                f"tracebacks: {len(self.tracebacks)}, loaded differently: {len(self.different)}")


def check_case(work: Path, bases: dict, expected: dict, case, tally: Tally) -> None:
    """Write the case as a run's last.npz (or a bare file), read it back, and tally the outcome."""
    name, data, label, text_error = case
    directory = work / "case"
    if directory.exists():
        for leftover in directory.iterdir():
            leftover.unlink()
    directory.mkdir(exist_ok=True)
    target = directory / ("last.npz" if name != "bare" else "bare.npz")
    target.write_bytes(data)
    tally.cases += 1
    try:
        got = snapshot(target, run=name != "bare")
    except CheckpointError:
        tally.refused += 1
        return
    except (ValueError, OSError) as err:
        if text_error and "is not a regular file" in str(err):
            tally.refused += 1
            return
        tally.tracebacks.append(f"{name} {label}: {traceback.format_exc(limit=-3)}")
        return
    except Exception:   # noqa: BLE001 - the fuzz counts what escapes, whatever it is
        tally.tracebacks.append(f"{name} {label}: {traceback.format_exc(limit=-3)}")
        return
    if same(got, expected[name]):
        tally.identical += 1
    else:
        tally.different.append(f"{name} {label}")


def fuzz(work: Path, max_examples: int, seed: int | None = None) -> Tally:
    """Draw ``max_examples`` cases against fresh sound files in ``work``; returns the tally.

    seed: None draws the same cases every time (hypothesis's derandomized mode, for the tests).
    """
    bases = make_bases(work)
    expected = {}
    for name, (path, _, _) in bases.items():
        copy = work / "sound" / path.name
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(path.read_bytes())
        expected[name] = snapshot(copy, run=name != "bare")
        for leftover in copy.parent.iterdir():
            leftover.unlink()
    tally = Tally()

    @settings(max_examples=max_examples, deadline=None, derandomize=seed is None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        check_case(work, bases, expected, data.draw(cases(bases)), tally)

    os.mkfifo(FIFO)
    try:
        (run if seed is None else hypothesis.seed(seed)(run))()
    finally:
        os.unlink(FIFO)
    return tally


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000, metavar="N", help="mutated files to try")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", hypothesis.errors.HypothesisWarning)   # the cases' reprs are large
    with tempfile.TemporaryDirectory(prefix="minirnn-fuzz-") as work:
        tally = fuzz(Path(work), args.cases, seed=args.seed)
    for failure in tally.tracebacks[:10] + tally.different[:10]:
        print(failure)
    print(tally.line())
    return 1 if tally.tracebacks or tally.different else 0


if __name__ == "__main__":
    sys.exit(main())
