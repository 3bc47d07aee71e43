"""Explanations as a PNG: wrapped words on boxes coloured by their weights (a row per head for
multi-head models, token scores on the signed ramp: word-attention's, its signed attention, as a
row before its weights), a note for a model without attention, the token-by-token heatmaps of
matrix.py under the words of a model with a matrix, and the ramp's colour bar. Drawn with
matplotlib on the Agg canvas, without pyplot.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..runtime.files import atomic_write
from .colours import (
    EVEN_SHARES,
    RAMP,
    colour,
    hex_colour,
    intensities,
    is_dark,
    signed_colour,
    signed_levels,
)
from .explanation import (
    NO_ATTENTION,
    SIGNED_ATTENTION,
    Explanation,
    score_legend,
    signed_attention_legend,
)
from .matrix import draw_heatmaps, heatmaps_height

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The figure is laid out in points, in a monospaced font whose advance is known
# (DejaVu Sans Mono: 1233/2048 em), so words wrap without asking the renderer for sizes.
_FONT = 10.5
_CHAR = _FONT * 1233 / 2048
_LINE = _FONT * 1.9
_MARGIN = 22.0
_FIG_WIDTH = 12 * 72.0


class _Box(NamedTuple):
    """One word (or the cut marker) placed on the figure."""

    x: float  # points from the left of the words' column
    line: int
    text: str
    # intensity in [0, 1] (token scores: [-1, 1]); None: drawn uncoloured (no attention, marker)
    level: float | None
    marker: bool  # the marker where the text was cut


def _layout_words(
    tokens: Sequence[str],
    weights: Sequence[float] | None,
    cut: tuple[int, int] | None,
    width: float,
    signed: bool = False,
) -> list[_Box]:
    """A box per token (and one for the cut marker), lines wrapped at `width` points; the
    tokens have no intensity when `weights` is None, and a signed one with `signed` (token
    scores)."""
    levels: Sequence[float | None] = [None] * len(tokens)
    if weights is not None:
        levels = signed_levels(weights) if signed else intensities(weights)
    items = [(token, level, False) for token, level in zip(tokens, levels, strict=True)]
    if cut is not None and cut[1]:
        items.insert(cut[0], (f"\u22ef {cut[1]} tokens cut \u22ef", None, True))
    max_chars = max(int(width / _CHAR) - 2, 4)
    boxes = []
    x, line = 0.0, 0
    for text, level, marker in items:
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "\u2026"
        if x > 0 and x + _box_width(text) > width:
            x, line = 0.0, line + 1
        boxes.append(_Box(x, line, text, level, marker))
        x += _box_width(text) + 0.45 * _CHAR
    return boxes


def _box_width(text: str) -> float:
    return (len(text) + 0.8) * _CHAR


def render_png(explanations: Sequence[Explanation], path: str | Path, dpi: int = 110) -> None:
    """`figure(explanations)` written atomically to `path` as PNG."""
    fig = figure(explanations)
    # Agg draws at most 2^16 pixels a side: a very long gallery is drawn at a lower dpi.
    dpi = min(dpi, int(60000 / fig.get_figheight()))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")  # scripts the font lacks
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def figure(explanations: Sequence[Explanation]) -> Figure:
    """A figure of wrapped, coloured words per explanation (a row per head for multi-head
    models, the signed attention first for a model with it) with a colour bar. A model
    without attention gets its words uncoloured under a note; the colour bar is left out when
    nothing is coloured. A model with a token-by-token matrix also gets a heatmap per map under
    its words (matrix.draw_heatmaps)."""
    # A Figure on the Agg canvas, not pyplot: no global backend switch, no figure left open.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    grey = "#57606a"
    mono: dict[str, Any] = dict(family="DejaVu Sans Mono", fontsize=_FONT, ha="center", va="center")

    def text(x: float, y: float, s: str, **style: Any) -> None:
        ax.text(x, y, s, parse_math=False, **style)  # "$" in a label is not mathtext

    label_width = 0.0
    if any(e.has_signed_attention for e in explanations):
        label_width = 14 * _CHAR  # room for SIGNED_ATTENTION
    elif any(e.head_weights for e in explanations):
        label_width = 7 * _CHAR
    words_width = _FIG_WIDTH - 2 * _MARGIN - label_width
    maps_width = _FIG_WIDTH - 2 * _MARGIN
    heatmaps: list[tuple[Explanation, float]] = []  # drawn once the figure's height is known
    y = _MARGIN  # points from the top edge; the axes' y axis runs downwards
    for e in explanations:
        truth = ""
        if e.true_label is not None:
            truth = f" | true {e.true_label} \u2014 {'right' if e.correct else 'wrong'}"
        title = f"{e.model_name} | predicted {e.label} (p = {e.probability:.3f}){truth}"
        text(_MARGIN, y, title, fontsize=12, weight="bold", va="top")
        y += 1.05 * _LINE
        probs = ", ".join(f"{n} {e.probabilities.get(n, float('nan')):.3f}" for n in e.label_names)
        cut_note = f" | truncated at {len(e.tokens)} tokens" if e.truncated else ""
        text(_MARGIN, y, f"probabilities: {probs}{cut_note}", fontsize=9.5, color=grey, va="top")
        y += 1.1 * _LINE
        cut = e.cut()
        rows = _rows(e)
        for name, values, signed in rows:
            if len(rows) > 1:
                text(_MARGIN, y + _LINE / 2, name, fontsize=9, color=grey, va="center")
            boxes = _layout_words(e.tokens, values, cut, words_width, signed=signed)
            for box in boxes:
                left, top = _MARGIN + label_width + box.x, y + box.line * _LINE
                width = _box_width(box.text)
                middle = (left + width / 2, top + _LINE / 2)
                if box.marker:  # where the text was cut
                    outline = Rectangle((left, top + 2), width, _LINE - 4, fill=False)
                    outline.set(edgecolor="#8c959f", linestyle="--", linewidth=0.8)
                    ax.add_patch(outline)
                    text(*middle, box.text, color=grey, **mono)
                elif box.level is None:  # a model without attention: the word alone
                    text(*middle, box.text, color="black", **mono)
                else:
                    rgb = signed_colour(box.level) if signed else colour(box.level)
                    ax.add_patch(
                        Rectangle((left, top + 2), width, _LINE - 4, facecolor=hex_colour(rgb))
                    )
                    text(*middle, box.text, color="white" if is_dark(rgb) else "black", **mono)
            y += (boxes[-1].line + 1) * _LINE if boxes else _LINE
            y += 0.35 * _LINE if len(rows) > 1 else 0
        if e.has_scores or e.has_signed_attention:  # the legend of the signed colours
            legend = score_legend(e) if e.has_scores else signed_attention_legend(e)
            for line in textwrap.wrap(legend, int(maps_width / (9.5 * 0.55))):
                text(_MARGIN, y + _LINE / 2, line, fontsize=9.5, color=grey, va="center")
                y += 0.8 * _LINE
            y += 0.2 * _LINE
        elif not e.has_attention:
            note = e.note or NO_ATTENTION
            text(_MARGIN, y + _LINE / 2, note, fontsize=9.5, color=grey, va="center")
            y += _LINE
        if e.has_matrix:
            y += 0.6 * _LINE
            heatmaps.append((e, y))
            y += heatmaps_height(e, maps_width)
        y += 0.6 * _LINE
        ax.plot([_MARGIN, _FIG_WIDTH - _MARGIN], [y, y], color="#d0d7de", linewidth=0.8)
        y += 0.6 * _LINE

    with_bar = not explanations or any(e.has_attention for e in explanations)
    height = y + (3.2 * _LINE if with_bar else 0.0) + _MARGIN / 2
    fig.set_size_inches(_FIG_WIDTH / 72, height / 72)
    ax.set_xlim(0, _FIG_WIDTH)
    ax.set_ylim(height, 0)
    if with_bar:
        _add_colour_bar(fig, top=y, height=height)
    if heatmaps:
        for e, top in heatmaps:
            draw_heatmaps(fig, e, _MARGIN, top, maps_width, height)
    return fig


def _rows(explanation: Explanation) -> list[tuple[str, list[float] | None, bool]]:
    """(name, values, signed) per row of words: the signed attention first for a model with it,
    then the weights (the mean and each head); the token scores alone, or the plain words, for a
    model without attention."""
    e = explanation
    rows: list[tuple[str, list[float] | None, bool]] = [
        (name, weights, False) for name, weights in e.rows()
    ]
    if e.has_signed_attention:
        rows.insert(0, (SIGNED_ATTENTION, e.token_scores, True))
    return rows or [("", e.token_scores, e.has_scores)]


def _add_colour_bar(fig: Figure, top: float, height: float) -> None:
    """The ramp as a horizontal colour bar just below `top` (points from the top edge) on a
    figure `height` points tall."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    bar = fig.add_axes(
        (_MARGIN / _FIG_WIDTH, 1 - (top + 1.9 * _LINE) / height, 0.35, 0.7 * _LINE / height)
    )
    cmap = LinearSegmentedColormap.from_list(
        "attnclf", [(t, tuple(c / 255 for c in rgb)) for t, rgb in RAMP]
    )
    colorbar = fig.colorbar(
        ScalarMappable(Normalize(0, 1), cmap), cax=bar, orientation="horizontal"
    )
    colorbar.set_ticks([0, 0.5, 1], labels=["0", "half the row max", "row max"])
    colorbar.ax.tick_params(labelsize=8.5)
    bar.set_title(
        f"attention weight relative to the largest in its row, or to {EVEN_SHARES:g}/T if larger"
        " (T tokens; each row sums to 1)",
        fontsize=9,
        loc="left",
    )


__all__ = ["figure", "render_png"]
