"""Characters <-> ids: the vocabulary of a character model.

Id k is the k-th character in sorted (code point) order. Three options, as the
course's data needs them:

- padding: ``PAD`` ("\\0", the first code point, so always id 0) joins the
  vocabulary, an id that no character of the text takes;
- lower: text is lowercased before it is encoded (the vocabulary is built
  from lowercased text);
- min_count with an unknown symbol: characters seen fewer than ``min_count``
  times are left out, and every character the vocabulary lacks is encoded as
  one symbol, ``UNKNOWN`` (U+FFFD, the replacement character) by default.
"""
from __future__ import annotations

import json
from collections import Counter

import numpy

from ..core import validate

PAD = "\0"
UNKNOWN = "\ufffd"


class Vocab:
    """Characters <-> ids: id k is the k-th character in sorted order.

    chars: the characters (any order, repeats ignored). lower: :meth:`encode`
    lowercases its text first. unknown: one of ``chars``, the id :meth:`encode`
    gives any character the vocabulary lacks (None: such a character is an error).
    Stored with a model as JSON (``to_json()`` / ``Vocab.from_json(d)``).
    """

    def __init__(self, chars, *, lower: bool = False, unknown: str | None = None):
        chars = list(chars)
        if not chars or any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError(f"vocab must be a non-empty sequence of single characters, got {chars[:5]!r}...")
        if not isinstance(lower, bool):
            raise ValueError(f"lower must be True or False, got {lower!r}")
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}
        if unknown is not None and (not isinstance(unknown, str) or unknown not in self.index):
            raise ValueError(f"unknown must be one of the vocabulary's characters or None, got {unknown!r}")
        self.lower = lower
        self.unknown = unknown

    @classmethod
    def from_text(cls, text: str, *, padding: bool = False, lower: bool = False, min_count: int = 1,
                  unknown: str | None = None) -> "Vocab":
        """The characters of ``text`` (lowercased with ``lower``) seen at least ``min_count`` times.

        padding: add PAD, which is then id 0. unknown: a symbol added to stand for
        every character left out or never seen (e.g. ``UNKNOWN``); None: encoding
        such a character is an error.
        """
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        min_count = validate.positive_int("min_count", min_count)
        if not isinstance(padding, bool):
            raise ValueError(f"padding must be True or False, got {padding!r}")
        if unknown is not None and (not isinstance(unknown, str) or len(unknown) != 1):
            raise ValueError(f"unknown must be a single character or None, got {unknown!r}")
        counts = Counter(text.lower() if lower else text)
        kept = {c for c, n in counts.items() if n >= min_count}
        if not kept:
            raise ValueError(f"no character of the text is seen min_count={min_count} times; lower min_count")
        extra = ({PAD} if padding else set()) | ({unknown} if unknown is not None else set())
        return cls(kept | extra, lower=lower, unknown=unknown)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    @property
    def pad_id(self) -> int | None:
        """The id of PAD (0) when the vocabulary has padding, else None."""
        return self.index.get(PAD)

    @property
    def unknown_id(self) -> int | None:
        """The id every character the vocabulary lacks is encoded as, or None when that is an error."""
        return None if self.unknown is None else self.index[self.unknown]

    def encode(self, text: str, name: str = "text") -> numpy.ndarray:
        """text -> (len(text),) int64 ids (of the lowercased text with ``lower``).

        A character the vocabulary lacks becomes the unknown id, or, without an
        unknown symbol, a ValueError that names the argument and the characters.
        """
        if self.lower:
            text = text.lower()
        if self.unknown is not None:
            unknown_id = self.index[self.unknown]
            return numpy.fromiter((self.index.get(c, unknown_id) for c in text), dtype=numpy.int64,
                                  count=len(text))
        try:
            return numpy.fromiter((self.index[c] for c in text), dtype=numpy.int64, count=len(text))
        except KeyError:
            unknown = "".join(sorted(set(text) - set(self.index)))
            raise ValueError(f"{name} must use only the vocabulary's characters, got some not in the vocabulary: "
                             f"{unknown[:20]!r}") from None

    def decode(self, ids) -> str:
        """ids (any iterable of ints in [0, len)) -> text."""
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> dict:
        """{"chars": the characters in id order}, with "lower" and "unknown" when they are set."""
        stored = {"chars": "".join(self.chars)}
        if self.lower:
            stored["lower"] = True
        if self.unknown is not None:
            stored["unknown"] = self.unknown
        return stored

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        """The vocabulary :meth:`to_json` stored; a ValueError for anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("chars"), str) \
                or not set(data) <= {"chars", "lower", "unknown"}:
            raise ValueError(f"vocab must be stored as {{'chars': str}} with optional 'lower' and 'unknown', "
                             f"got {json.dumps(data)[:60]}")
        return cls(data["chars"], lower=data.get("lower", False), unknown=data.get("unknown"))
