"""What a trained character model's hidden units do while it reads a text.

The model reads the text one character at a time, carrying its state, as in
sampling. After character t it has a hidden state h_t (the top layer's h) and a
distribution over the next character. :func:`render_html` writes a page with one
``<span>`` per character, coloured by one hidden unit's value in h_t (blue
negative, red positive), the model's likeliest next characters in the span's
``title`` (shown on hover); :func:`plot_heatmap` draws every unit over the text.

Which units are worth a look is found by :func:`interesting_units`: those that
vary a lot *and* slowly over the text. A unit that only echoes the current
character changes at every step; one that stays high for a while (inside a
string, a comment, an indented block) carries state from step to step, which is
what the recurrence is for.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy

from minirnn.core import backend, validate
from minirnn.core.grad_mode import no_grad
from minirnn.data import Vocab
from minirnn.models import CharRNN
from minirnn.ops import log_softmax_forward

from . import plotting


@dataclass
class TextActivations:
    """What a model showed over a text: its hidden activations and its predictions at each character.

    text: the characters read; activations: (T, H) the top layer's h after each
    character; predictions: for each t, the k likeliest next characters as
    (character, probability) pairs, likeliest first.
    """
    text: str
    activations: numpy.ndarray
    predictions: list


def read(model: CharRNN, vocab: Vocab, text: str, top_k: int = 3) -> TextActivations:
    """Run ``model`` over ``text`` one character at a time from a zero state and record what it does.

    model: a CharRNN; vocab: the one it was trained with (every character of
    ``text`` must be in it); top_k: next-character predictions kept per step.
    """
    if not isinstance(model, CharRNN):
        raise TypeError(f"model must be a CharRNN (the model that carries its state from character to "
                        f"character), got {type(model).__name__}")
    if not isinstance(text, str) or not text:
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    if len(vocab) != model.vocab_size:
        raise ValueError(f"vocab has {len(vocab)} characters but the model predicts {model.vocab_size}")
    top_k = min(validate.positive_int("top_k", top_k), len(vocab))
    ids = vocab.encode(text)
    xp = model.xp
    activations = numpy.empty((len(ids), model.hidden), dtype=numpy.float64)
    predictions = []
    state = None
    with model.evaluating(), no_grad():
        for t, char_id in enumerate(ids):
            logits, state = model(xp.asarray([[char_id]]), state)       # one step: (1, 1, V)
            h = state[0] if isinstance(state, tuple) else state         # (layers, 1, H); LSTM: (h, c)
            activations[t] = backend.to_host(h[-1, 0])
            logp, _ = log_softmax_forward(logits[0, 0])
            p = numpy.exp(backend.to_host(logp).astype(numpy.float64))
            best = numpy.argsort(-p, kind="stable")[:top_k]
            predictions.append([(vocab.chars[int(i)], float(p[i])) for i in best])
    return TextActivations(text, activations, predictions)


def interesting_units(activations: numpy.ndarray, count: int = 3) -> list[int]:
    """The ``count`` units with the largest std(a) * max(autocorrelation at lag 1, 0) over the text.

    activations: (T, H). The standard deviation says how much a unit moves, the
    lag-1 autocorrelation how slowly: their product (:func:`unit_scores`) ranks
    units that carry state.
    """
    count = validate.positive_int("count", count)
    return ranked_units(activations)[:count]


def ranked_units(activations: numpy.ndarray) -> list[int]:
    """Every unit, the one with the highest :func:`unit_scores` first (ties in unit order)."""
    return [int(u) for u in numpy.argsort(-unit_scores(activations), kind="stable")]


def unit_scores(activations: numpy.ndarray) -> numpy.ndarray:
    """(H,) std(a) * max(autocorrelation at lag 1, 0) of each unit over the text; activations (T, H), T >= 1."""
    activations = numpy.asarray(activations, dtype=numpy.float64)
    if activations.ndim != 2 or activations.shape[0] < 1:
        raise ValueError(f"activations must be (T, H) with T >= 1, got {activations.shape}")
    centred = activations - activations.mean(axis=0)
    std = centred.std(axis=0)
    if activations.shape[0] > 2:
        lag1 = (centred[1:] * centred[:-1]).mean(axis=0) / numpy.maximum(std * std, 1e-12)
    else:
        lag1 = numpy.ones(activations.shape[1])
    return std * numpy.clip(lag1, 0.0, None)


def _colour(value: float, scale: float) -> str:
    """Red for positive, blue for negative, opacity by |value| / scale (a CSS rgba colour)."""
    alpha = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    red, blue = (220, 40) if value >= 0 else (40, 220)
    return f"rgba({red}, 60, {blue}, {alpha:.3f})"


def render_html(reading: TextActivations, units: list, title: str = "minirnn: hidden units over text") -> str:
    """The page: per unit, the text with each character's background coloured by that unit's h_t.

    units: hidden-unit indices in [0, H). Hovering a character shows the unit's
    value and the model's likeliest next characters. Every piece of text is
    HTML-escaped, in the content and in the attributes.
    """
    H = reading.activations.shape[1]
    for unit in units:
        if isinstance(unit, bool) or not isinstance(unit, (int, numpy.integer)) or not 0 <= unit < H:
            raise ValueError(f"unit must be an integer in [0, {H}), got {unit!r}")
    sections = []
    for unit in units:
        values = reading.activations[:, unit]
        scale = float(numpy.abs(values).max())
        spans = []
        for char, value, top in zip(reading.text, values, reading.predictions):
            guesses = ", ".join(f"{_show(c)} {p:.2f}" for c, p in top)
            hover = f"{_show(char)}: unit {unit} = {value:+.3f}; next: {guesses}"
            shown = html.escape(char) if char != "\n" else "\u21b5\n"   # a visible mark, then the line break
            spans.append(f'<span style="background:{_colour(float(value), scale)}" '
                         f'title="{html.escape(hover, quote=True)}">{shown}</span>')
        sections.append(f"<h2>unit {unit}</h2>\n<p class=\"range\">from {values.min():+.3f} (blue) to "
                        f"{values.max():+.3f} (red)</p>\n<div class=\"text\">{''.join(spans)}</div>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        ".text{font-family:monospace;white-space:pre-wrap;line-height:1.5;border:1px solid #ccc;padding:.5em}"
        ".range{color:#555;margin:0}span{cursor:default}</style>",
        "</head>", "<body>", f"<h1>{html.escape(title)}</h1>",
        "<p>Each character is coloured by the unit's value in h<sub>t</sub> after the model read it; "
        "hover over a character for the value and the model's likeliest next characters.</p>",
        *sections, "</body>", "</html>", ""])


def _show(char: str) -> str:
    """A character as it reads in a tooltip: newline, tab and space spelled out."""
    return {"\n": "\\n", "\t": "\\t", " ": "' '"}.get(char, char)


MARK = "minirnn visualize"


def plot_heatmap(reading: TextActivations, path, max_chars: int = 120) -> None:
    """Write :func:`heatmap_figure` as a PNG; path: a file name or a binary file.

    The PNG's text (its "Description") gives the title and each row's unit and score, so that
    the figure can be compared with what the code draws now.
    """
    plt = plotting.pyplot()
    figure, description = heatmap_figure(reading, max_chars)
    figure.savefig(path, dpi=110, format="png", metadata={"Software": MARK, "Description": description})
    plt.close(figure)


def heatmap_figure(reading: TextActivations, max_chars: int = 120) -> tuple:
    """Every unit (rows) over the first ``max_chars`` characters (columns): (a matplotlib Figure, its text).

    The rows are sorted by :func:`unit_scores` over those characters, the units that
    vary most, and most slowly, at the top; each labelled row names its unit.
    Needs matplotlib (pip install 'minirnn[plot]').
    """
    plt = plotting.pyplot()
    values = reading.activations[:validate.positive_int("max_chars", max_chars)]
    text = reading.text[:len(values)]
    order = ranked_units(values)
    rows = values[:, order].T                                  # (H, T), the highest score first
    H = rows.shape[0]
    scale = float(numpy.abs(values).max()) or 1.0
    width = min(max(7.0, 0.12 * len(text) + 2.0), 24.0)        # a column per character, wide enough for it
    figure, axis = plt.subplots(figsize=(width, max(3.0, 0.07 * H + 1.8)))
    image = axis.imshow(rows, aspect="auto", cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    marks = {" ": "\u2423", "\n": "\u21b5", "\t": "\u21e5"}   # space, newline and tab as one visible mark each
    axis.set_xticks(range(len(text)))
    axis.set_xticklabels([marks.get(c, c) for c in text], fontsize=10, fontfamily="monospace")
    every = max(1, -(-H // 32))                                # at most 32 labelled rows
    axis.set_yticks(range(0, H, every))
    axis.set_yticklabels([str(order[row]) for row in range(0, H, every)], fontsize=10)
    axis.set_xlabel("character read (t)", fontsize=11)
    axis.set_ylabel("hidden unit (those that vary most, and most slowly, at the top)", fontsize=11)
    title = f"h_t of all {H} units over the first {len(text)} characters"
    axis.set_title(title, fontsize=13)
    colour_bar = figure.colorbar(image, ax=axis, fraction=0.02, pad=0.01)
    colour_bar.ax.tick_params(labelsize=10)
    figure.tight_layout()
    scores = unit_scores(values)
    return figure, "\n".join([title, "units from the top, with their scores: "
                               + ", ".join(f"{unit} {scores[unit]:.4g}" for unit in order)])
