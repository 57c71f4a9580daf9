"""Draw the article's figures from a real model: minirnn.tools.study.diagram's graphs, rendered to SVG and PNG.

    draw(model, "figures")   # writes cell.svg, unrolled.svg, bptt.svg and a .png of each

The output directory is checked before any work. Each file is written
atomically (a temporary file beside it, then a rename) and says "minirnn draw"
in its metadata; a file of the same name that does not say so was not written
here, and is only replaced with ``force``. The SVG keeps its text as text, so
that the labels can be read back (and searched) in the file.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy

from minirnn.core.atomic import atomic_write

from .diagram import FIGURES, Diagram, figures

MARK = "minirnn draw"
FORMATS = ("svg", "png")
INSTALL = "drawing needs matplotlib: pip install 'minirnn[plot]'"

# Font sizes in points. A figure's width in inches is what its boxes need, so these set how large the text
# is against the figure: a page that shows the figure at its own width shows 10 points as 10 points.
FONTS = dict(node=11, label=10, gap=22, title=14, caption=10)
BLUE, RED, DARK_RED, GREY, INK = "#1f5fa8", "#b2182b", "#8c0a17", "#c4c4c4", "#333333"
NODE_STYLES = {
    "layer": dict(boxstyle="round,pad=0.5", facecolor="#fdf3d0", edgecolor="#8a6d1d"),
    "step": dict(boxstyle="round,pad=0.5", facecolor="#fdf3d0", edgecolor="#8a6d1d"),
    "op": dict(boxstyle="circle,pad=0.25", facecolor="white", edgecolor="#555555"),
    "value": dict(boxstyle="round,pad=0.3", facecolor="#e5eefa", edgecolor="none"),
    "gap": dict(boxstyle="round,pad=0.3", facecolor="none", edgecolor="none"),
    "loss": dict(boxstyle="round,pad=0.45", facecolor="#fbe3e3", edgecolor=RED),
}
EDGE_STYLES = {                          # kind -> (colour, line width, line style)
    "data": (INK, 1.2, "-"),
    "state": (BLUE, 2.0, "-"),
    "loop": (BLUE, 1.5, "--"),
    "faded": (GREY, 1.0, "-"),
    "gradient": (RED, 1.6, "-"),
}
LABEL_PLACES = {                         # side -> (offset from the arrow's middle in points, ha, va)
    "above": ((0, 3), "center", "bottom"),
    "below": ((0, -3), "center", "top"),
    "left": ((-4, 0), "right", "center"),
    "right": ((4, 0), "left", "center"),
    "above left": ((-2, 2), "right", "bottom"),
    "above right": ((2, 2), "left", "bottom"),
    "below left": ((-2, -2), "right", "top"),
    "below right": ((2, -2), "left", "top"),
}


def require_matplotlib():
    """matplotlib's Figure class, or an ImportError whose message says how to install matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(INSTALL) from err
    return Figure


def targets(out_dir, formats=FORMATS, force: bool = False, names=FIGURES) -> list:
    """The files :func:`draw` will write into ``out_dir``, checked before any work.

    Refuses, with a ValueError naming the path: an ``out_dir`` that is not a
    directory, or that cannot be made or written to; an unknown format; a file
    of the same name that minirnn draw did not write (unless ``force``).
    """
    formats, names = tuple(formats), tuple(names)
    if not formats or any(fmt not in FORMATS for fmt in formats):
        raise ValueError(f"formats must be some of {FORMATS}, got {formats}")
    if not names or any(name not in FIGURES for name in names):
        raise ValueError(f"names must be some of {FIGURES}, got {names}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    paths = [out / f"{name}.{fmt}" for name in names for fmt in formats]
    for path in paths:
        if path.exists() and not path.is_file():
            raise ValueError(f"{path} exists and is not a file")
        if path.exists() and not force and not written_by_draw(path):
            raise ValueError(f"{path} exists and was not written by minirnn draw; --force replaces it")
    existing = next(folder for folder in (out, *out.absolute().parents) if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{out} cannot be written: {existing} is not a writable directory")
    return paths


def written_by_draw(path) -> bool:
    """Whether the file carries minirnn draw's mark (in the first 4 KiB: an SVG's metadata, a PNG's tEXt)."""
    with open(path, "rb") as file:
        return MARK.encode() in file.read(4096)


def draw(model, out_dir, steps: int = 6, batch: int = 4, seed: int = 0, show_steps: int = 3,
         formats=FORMATS, force: bool = False, title: str = "", names=FIGURES) -> list:
    """Write the cell, unrolled and BPTT figures of ``model`` into ``out_dir``; returns the paths written.

    model: CharLoopModel, CharRNN, or a one-direction RNN, LSTM or GRU; steps,
    batch, seed: the random input its forward and backward run on; show_steps:
    the steps drawn, and title: what the titles call the model (see
    minirnn.tools.study.diagram.figures); formats: of "svg", "png"; names: of the
    figures "cell", "unrolled", "bptt"; force: replace files minirnn draw did not write.
    """
    paths = targets(out_dir, formats, force, names)
    require_matplotlib()
    diagrams = figures(model, steps, batch, seed, show_steps, title)
    rendered = {name: render(diagrams[name]) for name in names}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for path in paths:
        save(rendered[path.stem], path)
    return paths


def render(diagram: Diagram):
    """A matplotlib Figure of ``diagram``: its nodes as boxes, circles and values, its edges as labelled arrows.

    The figure is as large as its boxes (and its title) need at diagram.scale
    inches per layout unit, with a band for the title above and the caption below.
    """
    Figure = require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    figure = Figure()
    FigureCanvasAgg(figure)                 # a renderer, to measure the boxes before the arrows are drawn
    axes = figure.add_axes((0, 0, 1, 1))
    axes.axis("off")
    texts = {node.name: axes.text(node.x, node.y, node.text, ha="center", va="center", zorder=3,
                                  fontsize=FONTS["gap" if node.kind == "gap" else "node"], bbox=NODE_STYLES[node.kind],
                                  linespacing=1.4)
             for node in diagram.nodes}
    heading = figure.text(0.5, 1, diagram.title, ha="center", va="top", fontsize=FONTS["title"],
                          fontweight="bold")

    # The layout's extent in units: each box reaches half its size either side of its centre.
    (x_inch, y_inch), dpi = diagram.scale, figure.dpi
    reach = [(x, y, 0.3, 0.3) for x, y in _bulges(diagram)]
    for node in diagram.nodes:
        box = _outline(texts[node.name], figure)
        reach.append((node.x, node.y, box.width / dpi / x_inch / 2, box.height / dpi / y_inch / 2))
    left = min(x - half_width for x, _, half_width, _ in reach) - 0.45
    right = max(x + half_width for x, _, half_width, _ in reach) + 0.45
    bottom = min(y - half_height for _, y, _, half_height in reach) - 0.35
    top = max(y + half_height for _, y, _, half_height in reach) + 0.35
    renderer = figure.canvas.get_renderer()
    spare = (right - left) * x_inch - heading.get_window_extent(renderer).width / dpi - 0.3
    if spare < 0:                           # a title wider than the boxes: on two lines, if that is enough
        heading.set_text(_two_lines(diagram.title))
        spare = (right - left) * x_inch - heading.get_window_extent(renderer).width / dpi - 0.3
    if spare < 0:                           # else widen the figure to fit it
        left, right = left + spare / x_inch / 2, right - spare / x_inch / 2

    width, height = (right - left) * x_inch, (top - bottom) * y_inch
    per_line = int(width * 72 / (0.55 * FONTS["caption"]))   # characters of about 0.55 em fit in the width
    caption = textwrap.fill(diagram.caption, per_line)
    title_band = 0.2 + (heading.get_text().count("\n") + 1) * 1.3 * FONTS["title"] / 72
    caption_band = 0.15 + (caption.count("\n") + 1) * 1.3 * FONTS["caption"] / 72
    total = title_band + height + caption_band
    figure.set_size_inches(width, total)
    axes.set_position((0, caption_band / total, 1, height / total))
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    heading.set_y(1 - 0.12 / total)
    figure.text(0.5, 0.08 / total, caption, ha="center", va="bottom", fontsize=FONTS["caption"], color="#444444",
                linespacing=1.3)
    boxes = {name: _outline(text, figure) for name, text in texts.items()}
    middle = axes.transData.transform(((left + right) / 2, 0))[0]
    for edge in diagram.edges:
        _arrow(axes, edge, boxes, middle)
    return figure


def _two_lines(text: str) -> str:
    """``text`` broken at the space that best balances two lines, outside parentheses ("a b(c, d)" keeps b(c, d))."""
    depth, spaces = 0, []
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == " " and depth == 0:
            spaces.append(i)
    if not spaces:
        return text
    best = min(spaces, key=lambda i: max(i, len(text) - i - 1))
    return text[:best] + "\n" + text[best + 1:]


def _bulges(diagram: Diagram) -> list:
    """The middle of each bent arrow, in layout units: a curve can reach beyond every box."""
    (x_inch, y_inch), at = diagram.scale, {node.name: (node.x, node.y) for node in diagram.nodes}
    middles = []
    for edge in (edge for edge in diagram.edges if edge.bend):
        (x0, y0), (x1, y1) = at[edge.start], at[edge.end]
        dx, dy = (x1 - x0) * x_inch, (y1 - y0) * y_inch          # arc3 bends along the normal, in inches
        middles.append(((x0 + x1) / 2 + edge.bend / 2 * dy / x_inch, (y0 + y1) / 2 - edge.bend / 2 * dx / y_inch))
    return middles


def _outline(text, figure):
    """The outline of a text's box, in pixels, where the figure now puts it."""
    renderer = figure.canvas.get_renderer()
    text.update_bbox_position_size(renderer)
    return text.get_bbox_patch().get_window_extent(renderer)


def _arrow(axes, edge, boxes: dict, middle: float) -> None:
    """One edge: an arrow from the border of its start box to the border of its end box, and its label.

    The arrow runs between the two boxes' centres, moved sideways by edge.shift
    points (up, or right for an arrow that runs up or down), so that a forward
    and a backward arrow between the same boxes lie side by side. middle: the
    figure's middle in pixels, for placing labels outwards.
    """
    from matplotlib.patches import FancyArrowPatch
    start, end = boxes[edge.start], boxes[edge.end]
    a, b = _centre(start), _centre(end)
    vertical = abs(b[1] - a[1]) > abs(b[0] - a[0])
    sideways = edge.shift * axes.figure.dpi / 72 * (numpy.array([1, 0]) if vertical else numpy.array([0, 1]))
    a, b = a + sideways, b + sideways
    a, b = _leave(a, b - a, start), _leave(b, a - b, end)
    to_data = axes.transData.inverted()
    if edge.kind == "backward":             # wider and darker the larger the gradient
        colour, width, style = _red(edge.strength), 0.8 + 4.2 * edge.strength, "-"
    else:
        colour, width, style = EDGE_STYLES[edge.kind]
    axes.add_artist(FancyArrowPatch(to_data.transform(a), to_data.transform(b), arrowstyle="-|>", color=colour,
                                    linewidth=width, linestyle=style, mutation_scale=10 + 2 * width,
                                    shrinkA=2, shrinkB=2, connectionstyle=f"arc3,rad={edge.bend}", zorder=4))
    if not edge.label:
        return
    # The label's point on the curve: arc3 is the quadratic Bezier through a and b whose control point is
    # the middle of a-b moved by bend times the normal (dy, -dx); at a fraction s it is a + s d + 2 s (1 - s) bend n.
    d = b - a
    point = a + edge.at * d + 2 * edge.at * (1 - edge.at) * edge.bend * numpy.array([d[1], -d[0]])
    offset, ha, va = LABEL_PLACES[_label_side(edge, d, vertical, "left" if point[0] < middle else "right")]
    axes.annotate(edge.label, xy=to_data.transform(point), xycoords="data", xytext=offset,
                  textcoords="offset points", ha=ha, va=va, fontsize=FONTS["label"], zorder=5, linespacing=1.3,
                  color=DARK_RED if edge.kind in ("backward", "gradient") else INK,
                  bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))


def _label_side(edge, d, vertical: bool, outward: str) -> str:
    """Where an edge's label goes: edge.side, or for "auto" beside the arrow and clear of it.

    d: the arrow's direction in pixels; outward: "left" or "right", the side away
    from the figure's middle. A shifted arrow keeps its label on its own side.
    """
    if edge.side != "auto":
        return edge.side
    if vertical:
        return "right" if edge.shift >= 0 else "left"
    if edge.shift < 0:
        return "below"
    if abs(d[1]) < 0.15 * abs(d[0]):        # level
        return "above"
    rising = (d[1] > 0) == (d[0] > 0)       # on a rising line, above-left and below-right are clear of it
    return ("above " if rising == (outward == "left") else "below ") + outward


def _centre(box):
    return numpy.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])


def _leave(point, direction, box):
    """Where the ray from ``point`` (inside ``box``) along ``direction`` crosses the box's border."""
    steps = []
    if direction[0]:
        steps.append(((box.x1 if direction[0] > 0 else box.x0) - point[0]) / direction[0])
    if direction[1]:
        steps.append(((box.y1 if direction[1] > 0 else box.y0) - point[1]) / direction[1])
    return point + max(0.0, min(steps)) * direction


def _red(strength: float):
    """A red from light (0) to dark (1)."""
    light, dark = (0.96, 0.70, 0.62), (0.55, 0.02, 0.09)
    return tuple(a + (b - a) * strength for a, b in zip(light, dark))


def save(figure, path: Path) -> None:
    """Write ``figure`` to ``path`` (its suffix is the format) atomically, marked as written by minirnn draw."""
    import matplotlib
    fmt = path.suffix[1:]
    metadata = {"Creator": MARK, "Date": None} if fmt == "svg" else {"Software": MARK}

    def write(file):
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": MARK}):   # text stays text
            figure.savefig(file, format=fmt, dpi=130, metadata=metadata)

    atomic_write(path, write)
