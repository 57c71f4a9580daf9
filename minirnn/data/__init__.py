"""Text for character models: the text, the vocabulary, windows and batchers, and corpora by name.

- text.py: a file read whole, the default corpus (Python's own standard library), and
  the split of a text into its training part and its last ``val_fraction``;
- vocab.py: characters <-> ids (:class:`Vocab`), with optional padding, lowercasing
  and an unknown symbol for rare characters;
- windows.py: overlapping and non-overlapping windows with their targets, and a
  seeded random split of them;
- batchers.py: contiguous streams for stateful truncated BPTT, and shuffled windows;
- corpus.py: corpora by name (``nietzsche``), found in the data directory or downloaded
  into it, checked by SHA-256.

Everything here is host-side NumPy; the training loop moves batches to the model's backend.
"""
from .batchers import StreamBatcher, WindowBatcher, validation_streams
from .corpus import CORPORA, DATA_ENV, Corpus, corpus_path, data_directory, load_corpus
from .text import DEFAULT_CORPUS_BYTES, default_corpus, read_text, split, stdlib_sources
from .vocab import PAD, UNKNOWN, Vocab
from .windows import random_split, windows

__all__ = ["read_text", "stdlib_sources", "default_corpus", "DEFAULT_CORPUS_BYTES", "split", "Vocab", "PAD",
           "UNKNOWN", "windows", "random_split", "StreamBatcher", "WindowBatcher", "validation_streams",
           "CORPORA", "Corpus", "DATA_ENV", "corpus_path", "data_directory", "load_corpus"]
