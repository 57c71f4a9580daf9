"""Sampling text from a trained character model, one character at a time.

Each step runs the model in evaluation mode inside ``no_grad()`` (no dropout, no
backward cache) and restores its mode afterwards, so a generator paused between
characters leaves the model as its owner set it. CharRNN, and CharSeqRNN with a
prediction at every step, read the prime once and then carry their state, one step
per new character; CharLoopModel, CharLoopConcatModel and CharSeqRNN predicting after
the last step only, which start from zeros at every call, read the last ``window``
characters again for every new one.
"""
from __future__ import annotations

import collections
from typing import Iterator

import numpy

from .core import backend, validate
from .core.grad_mode import no_grad
from .data import Vocab
from .models import CharLoopConcatModel, CharLoopModel, CharRNN, CharSeqRNN

# The model's own distribution: what a character model learned, neither sharpened nor flattened.
DEFAULT_TEMPERATURE = 1.0
MODELS = (CharRNN, CharLoopModel, CharLoopConcatModel, CharSeqRNN)


def _carries_state(model) -> bool:
    """Whether the model predicts at every step and hands its state on (else it reads a window each time)."""
    return isinstance(model, CharRNN) or isinstance(model, CharSeqRNN) and model.every_step


def next_char_distribution(logits, temperature: float, top_k: int | None) -> numpy.ndarray:
    """p (V,) float64 on the host from one row of logits (V,).

    p = softmax(logits / temperature) over the ``top_k`` largest logits (all of
    them when top_k is None); temperature 0 puts all the mass on the largest
    (greedy). Equal logits are ranked by id, lowest first, so exactly top_k
    characters (one when greedy) can be drawn.
    """
    z = backend.to_host(logits).astype(numpy.float64)
    if not numpy.isfinite(z).all():
        raise ValueError("the model's logits for the next character are NaN or Inf: its parameters are not finite")
    if temperature == 0:
        top_k, temperature = 1, 1.0                         # greedy: the likeliest character alone
    if top_k is not None and top_k < z.size:
        kept = numpy.argsort(-z, kind="stable")[:top_k]     # stable: among equal logits the lower id comes first
        masked = numpy.full_like(z, -numpy.inf)
        masked[kept] = z[kept]
        z = masked
    # The maximum is subtracted before dividing, so every exponent is <= 0 even for a temperature
    # near 0 (dividing first turns 1e-320 into inf - inf = NaN); a gap / 1e-320 overflows to -inf: p = 0.
    with numpy.errstate(over="ignore"):
        p = numpy.exp((z - z.max()) / temperature)
    return p / p.sum()


def generate(model, vocab: Vocab, prime: str = "", length: int = 200, temperature: float = DEFAULT_TEMPERATURE,
             top_k: int | None = None, seed: int | None = None, window: int = 8) -> Iterator[str]:
    """The characters that follow ``prime``, one at a time, as the model draws them.

    The arguments are those of :func:`sample`, and are checked now, before the
    first character. When ``prime`` is empty, the character drawn uniformly to
    start from comes first, then ``length`` new ones. The generator keeps one
    state (or one window), never the text so far, so it can run without end.
    """
    if not isinstance(model, MODELS):
        raise TypeError(f"model must be one of {', '.join(cls.__name__ for cls in MODELS)}, "
                        f"got {type(model).__name__}")
    length = validate.non_negative_int("length", length)
    temperature = validate.finite_number("temperature", temperature)
    if top_k is not None:
        validate.positive_int("top_k", top_k)
    if seed is not None:
        validate.non_negative_int("seed", seed)
    window = validate.positive_int("window", window)
    if len(vocab) != model.vocab_size:
        raise ValueError(f"vocab has {len(vocab)} characters but the model predicts {model.vocab_size}")
    ids = [int(i) for i in vocab.encode(prime, name="prime")]
    return _draw(model, vocab, ids, length, temperature, top_k, numpy.random.default_rng(seed), window)


def _draw(model, vocab: Vocab, ids: list, length: int, temperature: float, top_k: int | None,
          rng: numpy.random.Generator, window: int) -> Iterator[str]:
    xp = model.xp
    if not ids:
        ids = [int(rng.integers(len(vocab)))]
        yield vocab.decode(ids)
    if _carries_state(model):       # logits, or CharSeqRNN's log p: the same softmax either way
        logits, state = _evaluate(model, xp.asarray(numpy.array(ids)[:, None]), None)   # read the prime: (T, 1)
        for _ in range(length):
            p = next_char_distribution(logits[-1, 0], temperature, top_k)
            char_id = int(rng.choice(len(p), p=p))
            yield vocab.decode([char_id])
            logits, state = _evaluate(model, xp.asarray([[char_id]]), state)           # one step, state carried
    else:
        recent = collections.deque(ids[-window:], maxlen=window)
        for _ in range(length):
            logp = _evaluate(model, xp.asarray(numpy.array(recent)[:, None]))           # (1, V)
            if isinstance(model, CharSeqRNN):
                logp, _ = logp                                                           # its state is not needed
            p = next_char_distribution(logp[0], temperature, top_k)
            recent.append(int(rng.choice(len(p), p=p)))
            yield vocab.decode([recent[-1]])


def _evaluate(model, *inputs):
    """One forward in evaluation mode and without a cache; the model's mode is restored."""
    with model.evaluating(), no_grad():
        return model(*inputs)


def sample(model, vocab: Vocab, prime: str = "", length: int = 200, temperature: float = DEFAULT_TEMPERATURE,
           top_k: int | None = None, seed: int | None = None, window: int = 8) -> str:
    """Generate ``length`` characters after ``prime``; returns prime + the new characters.

    model: CharRNN, CharLoopModel, CharLoopConcatModel or CharSeqRNN; vocab: the one it was trained with.
    prime: text to start from (every character must be in the vocabulary); when
    empty, the first character is drawn uniformly from the vocabulary.
    temperature >= 0 (1: the model's own distribution; below 1 safer, above 1
    wilder; 0: always the most likely character); top_k: draw only from the k
    most likely characters (equal logits ranked by id); seed: for the draws;
    window: the window length of a model that reads one each time (CharLoopModel,
    CharLoopConcatModel, CharSeqRNN with every_step=False): the last ``window``
    characters are read for each step. :func:`generate` yields the same characters one by one.
    """
    return prime + "".join(generate(model, vocab, prime, length, temperature, top_k, seed, window))
