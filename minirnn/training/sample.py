"""Sampling text from a trained character model, one character at a time.

The model runs inside ``no_grad()`` and in evaluation mode (no dropout, no
backward cache). CharRNN reads the prime once and then carries its state, one
step per new character; CharLoopModel, which has no state between calls, reads
the last ``window`` characters again for every new one.
"""
from __future__ import annotations

import numbers

import numpy

from ..core import backend, checks
from ..core.grad_mode import no_grad
from ..models import CharLoopModel, CharRNN
from .data import Vocab


def next_char_distribution(logits, temperature: float, top_k: int | None) -> numpy.ndarray:
    """p (V,) float64 on the host from one row of logits (V,).

    p = softmax(logits / temperature), restricted to the ``top_k`` largest logits
    when top_k is given. temperature 0 puts all the mass on the largest logit (greedy).
    """
    z = backend.to_host(logits).astype(numpy.float64)
    if top_k is not None and top_k < z.size:
        kth_largest = numpy.partition(z, -top_k)[-top_k]
        z = numpy.where(z >= kth_largest, z, -numpy.inf)
    if temperature == 0:
        p = (z == z.max()).astype(numpy.float64)
    else:
        z = z / temperature
        p = numpy.exp(z - z.max())             # softmax, shifted by the maximum so exp cannot overflow
    return p / p.sum()


def sample(model, vocab: Vocab, prime: str = "", length: int = 200, temperature: float = 1.0,
           top_k: int | None = None, seed: int | None = None, window: int = 8) -> str:
    """Generate ``length`` characters after ``prime``; returns prime + the new characters.

    model: CharRNN or CharLoopModel; vocab: the one it was trained with.
    prime: text to start from (every character must be in the vocabulary); when
    empty, the first character is drawn uniformly from the vocabulary.
    temperature >= 0 (0: always the most likely character); top_k: draw only from
    the k most likely characters; seed: for the draws; window: CharLoopModel's
    window length (the last ``window`` characters are read for each step).
    """
    if not isinstance(model, (CharRNN, CharLoopModel)):
        raise TypeError(f"model must be a CharRNN or CharLoopModel, got {type(model).__name__}")
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None:
        checks.positive_int("top_k", top_k)
    if len(vocab) != model.vocab_size:
        raise ValueError(f"vocab has {len(vocab)} characters but the model predicts {model.vocab_size}")
    rng = numpy.random.default_rng(seed)
    ids = list(vocab.encode(prime, name="prime"))
    if not ids:
        ids = [int(rng.integers(len(vocab)))]
    xp = model.xp
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            if isinstance(model, CharRNN):
                logits, state = model(xp.asarray(numpy.array(ids)[:, None]))       # read the prime: (T, 1)
                for _ in range(length):
                    p = next_char_distribution(logits[-1, 0], temperature, top_k)
                    ids.append(int(rng.choice(len(p), p=p)))
                    logits, state = model(xp.asarray([[ids[-1]]]), state)          # one step, state carried
            else:
                for _ in range(length):
                    logp = model(xp.asarray(numpy.array(ids[-window:])[:, None]))  # (1, V)
                    p = next_char_distribution(logp[0], temperature, top_k)
                    ids.append(int(rng.choice(len(p), p=p)))
    finally:
        model.train(was_training)
    return vocab.decode(ids)
