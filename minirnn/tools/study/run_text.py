"""The text a checkpoint's model was trained on, found from what its run recorded.

``minirnn train`` keeps in a checkpoint's meta its settings (``train_config``:
the --text file as an absolute path, or the size of the built-in corpus) and the
SHA-256 of the text (``text_sha256``; see minirnn.tools.train.run_state). The
study tools read a model over that text when they are given no other: it is
found again where the run found it, and used only when its digest is the
recorded one. Otherwise a ValueError says why, and to give the text with --text.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy

from minirnn.checkpoint import Checkpoint
from minirnn.data import split

from ..train.config import TrainConfig
from ..train.trainer import load_text, text_digest


@dataclass
class RunText:
    """The training text of a checkpoint's run: the text, what it is (for messages), the held-out part's start.

    validation_start: where the run's validation text (its last --val-fraction) begins,
    in characters; the model never trained on text[validation_start:].
    """
    text: str
    source: str
    validation_start: int

    @property
    def validation(self) -> str:
        return self.text[self.validation_start:]


def run_text(saved: Checkpoint, flag: str = "--text") -> RunText:
    """The text ``saved``'s run trained on, checked against its recorded SHA-256.

    flag: the option that gives a text instead, named in the errors. Raises
    ValueError when the checkpoint records no text (it was not written by minirnn
    train), when the text cannot be read, or when it is not the one the run read.
    """
    name = saved.path
    meta = saved.meta
    if "train_config" not in meta or "text_sha256" not in meta:
        raise ValueError(f"{name} does not record the text its model was trained on (it was not written by "
                         f"minirnn train); give the text with {flag}")
    try:
        config = TrainConfig.from_run_settings(meta["train_config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} records training settings that cannot be read ({err}); give the text with "
                         f"{flag}") from None
    if config.text is None:
        source = (f"the built-in corpus ({config.corpus_bytes} bytes of Python {sys.version_info.major}."
                  f"{sys.version_info.minor}'s standard library)")
        changed = "is not the one the run trained on (another Python version?)"
    else:
        source = config.text
        changed = "has changed since the run trained on it (its SHA-256 differs)"
    try:
        text = load_text(config)
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ValueError(f"{name} was trained on {source}, which cannot be read ({reason}); give the text with "
                         f"{flag}") from None
    if text_digest(text) != meta["text_sha256"]:
        raise ValueError(f"{name} was trained on {source}, which {changed}; give that text with {flag}")
    _, held_out = split(numpy.arange(len(text)), config.val_fraction)   # the positions, split as the run split them
    return RunText(text, source, int(held_out[0]))
