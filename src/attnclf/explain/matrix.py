"""The token-by-token attention matrix of an Explanation, as HTML (a section of its card on the
explanation page, html.py) and as PNG heatmaps (axes below its words, png.py).

Layers where every token attends to every token (the tutorial families, the transformer) give
one (T, T) map per head, per layer: row t holds token t's weights over the tokens, each row
summing to 1. Each row is coloured like a row of words: relative to its largest weight, or to
EVEN_SHARES / T if that is larger, on the same ramp (colours.py).

On the page each map is a T x T image (a PNG with one pixel per cell, inlined as a data: URI
and scaled up with `image-rendering: pixelated`, so it stays sharp and light for a 200-token
review), with a token label per row and column when they fit and position ticks when not; a
radio button per map picks the one shown (CSS alone does that; assets/matrix.css). The page's
one inline script, allowed by its hash (shell.script_policy), adds the row view
(assets/matrix.js): hovering a word, or a row of the map, recolours the card's first row of
words by that token's row (whom it attends to), a click pins it, and a second click, Esc or
"overall weights" brings back the per-token weights. The script writes tokens with
`textContent` only; each map's rows travel as base64 bytes (the levels, 0..255 of the row's
scale) beside the scale of each row, and the ramp as data (colours.ramp_data).
"""

from __future__ import annotations

import base64
import html
import json
import struct
import textwrap
import zlib
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

import numpy as np

from .colours import EVEN_SHARES, RAMP, colour, colours_script, ramp_data
from .explanation import Explanation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_SIDE = 640  # px: a map's side on the page, at most (a whole number of px per cell)
LABEL_CELL = 10  # px: cells this large or larger get a token label per row and column
LABEL_CHARS = 12  # a longer token is clipped in the axis labels
PNG_LABELS_UP_TO = 60  # tokens: the PNG labels each row and column up to this many
CELL_POINTS = 20.0  # a cell of the PNG's heatmaps is at most this large
ROW_NOTE = (
    "row t: token t's attention over the tokens (columns), each row summing to 1; colour "
    f"relative to the row's largest weight, or {EVEN_SHARES:g} even shares if larger, as the words"
)
RECEIVED = (
    "The words' per-token weights are how much attention each token receives, averaged over "
    "the query rows (and heads), scaled to sum to 1."
)
POOLED = (
    "The words' per-token weights are the model's pooling attention, which this matrix does "
    "not give; the matrix shows how the tokens read each other before it."
)


def received(matrix: np.ndarray) -> np.ndarray:
    """(maps, T, T) -> (T,): the attention each token receives (a column's sum over the query
    rows), scaled to sum to 1 per map, then averaged over the maps: what the tutorial
    families give as their per-token weights."""
    columns = np.asarray(matrix, dtype=np.float64).sum(axis=1)  # (maps, T)
    totals = columns.sum(axis=-1, keepdims=True)  # (maps, 1)
    return (columns / np.where(totals > 0, totals, 1.0)).mean(axis=0)  # (T,)


def weights_are_received(explanation: Explanation) -> bool:
    """Whether the explanation's per-token weights are `received(token_attention)`."""
    e = explanation
    if e.weights is None or e.token_attention is None:
        return False
    return bool(np.allclose(e.weights, received(e.token_attention), atol=1e-4))


def row_levels(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(maps, T, T) -> each weight over its row's scale, in [0, 1], and the scales (maps, T):
    the row's largest weight or EVEN_SHARES / T (at most 1), whichever is larger."""
    values = np.clip(np.asarray(matrix, dtype=np.float64), 0.0, None)  # (maps, T, T)
    floor = min(1.0, EVEN_SHARES / values.shape[-1])
    scales = np.maximum(values.max(axis=-1), floor)  # (maps, T)
    return np.clip(values / scales[..., None], 0.0, 1.0), scales


@cache
def _asset(name: str) -> str:
    return (files("attnclf.explain") / "assets" / name).read_text(encoding="utf-8")


def _palette() -> bytes:
    return b"".join(bytes(colour(level / 255)) for level in range(256))


_PALETTE = _palette()


def png_bytes(levels: np.ndarray) -> bytes:
    """An 8-bit palette PNG of the (H, W) bytes `levels`, one pixel each, coloured by the
    ramp (0: white, 255: the darkest colour)."""
    height, width = levels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        check = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + check

    rows = np.hstack([np.zeros((height, 1), np.uint8), levels.astype(np.uint8)])  # filter 0
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)  # 8 bits, palette
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", _PALETTE)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _clip(token: str) -> str:
    return token if len(token) <= LABEL_CHARS else token[: LABEL_CHARS - 1] + "\u2026"


def tick_step(count: int, most: int = 10) -> int:
    """A round step between position ticks that gives at most about `most` of them."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if count / step <= most:
            return step
    return -(-count // most)


def ticks(count: int) -> list[int]:
    """Positions to tick, 1-based: the first token, then every tick_step tokens."""
    step = tick_step(count)
    return [1, *range(step, count + 1, step)] if step > 1 else list(range(1, count + 1))


# --- HTML -----------------------------------------------------------------------------------


def cell_px(count: int) -> float:
    """Pixels a side per cell: a whole number as large as fits MAX_SIDE, at most 18; a
    fraction for more than MAX_SIDE tokens, whose map is MAX_SIDE wide."""
    count = max(count, 1)
    return max(1, min(18, MAX_SIDE // count)) if count <= MAX_SIDE else MAX_SIDE / count


def _axes_html(tokens: list[str], cell: float) -> tuple[str, str]:
    """The column labels (above the map) and the row labels (left of it): a token each when
    the cells fit one, else position ticks."""
    count, side = len(tokens), round(cell * len(tokens))
    if cell >= LABEL_CELL:
        longest = min(max((len(t) for t in tokens), default=1), LABEL_CHARS)
        size = f"font-size:{min(12, int(cell) - 1)}px"
        columns = "".join(
            f'<span style="left:{i * cell}px;width:{cell}px;line-height:{cell}px">'
            f"{html.escape(_clip(t))}</span>"
            for i, t in enumerate(tokens)
        )
        rows = "".join(
            f'<span style="top:{i * cell}px;height:{cell}px;line-height:{cell}px">'
            f"{html.escape(_clip(t))}</span>"
            for i, t in enumerate(tokens)
        )
        return (
            f'<div class="attnclf-cols" style="width:{side}px;height:{longest + 1}ch;{size}">'
            f"{columns}</div>",
            f'<div class="attnclf-rows" style="height:{side}px;width:{longest + 1}ch;{size}">'
            f"{rows}</div>",
        )
    marks = ticks(count)
    columns = "".join(
        f'<span class="attnclf-tick" style="left:{(p - 0.5) * cell:.2f}px">{p}</span>'
        for p in marks
    )
    rows = "".join(
        f'<span class="attnclf-tick" style="top:{(p - 0.5) * cell:.2f}px">{p}</span>' for p in marks
    )
    return (
        f'<div class="attnclf-cols" style="width:{side}px;height:1.6em">{columns}</div>',
        f'<div class="attnclf-rows" style="height:{side}px;width:{len(str(count)) + 1.5}ch">'
        f"{rows}</div>",
    )


def matrix_html(explanation: Explanation, number: int) -> str:
    """The card's matrix section: a radio button per map, the row-view line (shown by the
    script), the maps with their axes, and what the colours and the words' weights mean.
    `number` makes the radio buttons' names unique on the page."""
    e = explanation
    assert e.token_attention is not None
    matrix = e.token_attention  # (maps, T, T)
    names = e.token_attention_names or [f"head {i}" for i in range(1, len(matrix) + 1)]
    count = matrix.shape[-1]
    levels, scales = row_levels(matrix)
    quantised = np.rint(levels * 255).astype(np.uint8)  # (maps, T, T)
    cell = cell_px(count)
    side = round(cell * count)
    if len(names) > 1:
        radios = "".join(
            f'<input type="radio" name="attnclf-map-{number}" id="attnclf-map-{number}-{m}"'
            f'{" checked" if m == 1 else ""}><label for="attnclf-map-{number}-{m}">'
            f"{html.escape(name)}</label>"
            for m, name in enumerate(names, start=1)
        )
        picker = f'<span class="attnclf-picker-name">map:</span>{radios}'
    else:
        picker = f'<span class="attnclf-picker-name">{html.escape(names[0])}</span>'
    images = "".join(
        f'<img class="attnclf-map" width="{side}" height="{side}" alt="{html.escape(name)}"'
        f' data-name="{html.escape(name)}" data-levels="{_base64(quantised[m].tobytes())}"'
        f' data-scales="{_base64(scales[m].astype("<f4").tobytes())}"'
        f' src="data:image/png;base64,{_base64(png_bytes(quantised[m]))}">'
        for m, name in enumerate(names)
    )
    columns, rows = _axes_html(e.tokens, cell)
    words = RECEIVED if weights_are_received(e) else POOLED if e.has_attention else ""
    maps = f"{len(names)} map{'s' if len(names) > 1 else ''}"
    return (
        f'<div class="attnclf-matrix" data-cell="{cell:g}" data-tokens="{count}"'
        f' data-ramp="{html.escape(json.dumps(ramp_data(RAMP)))}">'
        f'<div class="attnclf-matrix-title"><strong>token-by-token attention</strong> '
        f"&middot; {maps} &middot; {count} tokens</div>"
        f"{picker}"
        '<div class="attnclf-rowview" hidden><span class="attnclf-rowview-text"></span> '
        '<button type="button" disabled>overall weights</button> '
        '<span class="attnclf-readout"></span></div>'
        '<div class="attnclf-frame">'
        '<div class="attnclf-corner">&darr; row attends to &rarr;</div>'
        f"{columns}{rows}"
        f'<div class="attnclf-maps" style="width:{side}px;height:{side}px">{images}'
        '<div class="attnclf-rowmark" hidden></div></div></div>'
        f'<div class="attnclf-matrix-note">{html.escape(ROW_NOTE)}. Hover or click a word of the'
        " first row, or a row of the map, to colour the words by that token's row; click again,"
        f" press Esc or &ldquo;overall weights&rdquo; to go back. {html.escape(words)}</div>"
        "</div>"
    )


def page_css(most_maps: int) -> str:
    """The matrix sections' rules, with the radio-button switch for up to `most_maps` maps."""
    switches = "\n".join(
        f".attnclf-matrix > input:nth-of-type({m}):checked ~ .attnclf-frame "
        f".attnclf-map:nth-of-type({m}) {{ display: block; }}"
        for m in range(1, most_maps + 1)
    )
    return _asset("matrix.css") + switches + "\n"


def row_view_script() -> str:
    """The page's one inline script: the ramp's evaluation (colours.js), then the row view
    (assets/matrix.js), which reads the ramp from each matrix section's data-ramp. Static text:
    its hash is the page's script-src (shell.script_policy)."""
    return colours_script() + _asset("matrix.js")


# --- PNG ------------------------------------------------------------------------------------

_TITLE = 16.0  # points above each map for its name
_BAR = 56.0  # points right of the maps for the colour bar and its labels
_GAP = 14.0


class _Grid:
    """Where the maps of one explanation go on the figure, in points."""

    def __init__(self, explanation: Explanation, width: float):
        assert explanation.token_attention is not None
        self.count = explanation.token_attention.shape[-1]
        self.maps = len(explanation.token_attention)
        self.columns = 1 if self.maps == 1 else 2
        self.rows = -(-self.maps // self.columns)
        self.labels = self.count <= PNG_LABELS_UP_TO
        longest = min(max((len(t) for t in explanation.tokens), default=1), LABEL_CHARS)
        available = (width - _BAR) / self.columns
        # the font for token labels follows the cell; 0.62 em is a DejaVu Sans advance, about
        self.font = 7.5
        chars = longest if self.labels else len(str(self.count))
        self.pad = chars * self.font * 0.62 + 18  # tick labels and the axis label
        self.side = min(available - self.pad - _GAP, 430.0 if self.columns == 1 else 360.0)
        # a short text gets cells of at most CELL_POINTS, not one giant block per token
        self.side = min(self.side, max(150.0, CELL_POINTS * self.count))
        if self.labels:
            self.font = max(3.5, min(7.5, 0.85 * self.side / self.count))
            self.pad = chars * self.font * 0.62 + 18
        self.row_height = _TITLE + self.side + self.pad + _GAP
        self.caption = 40.0

    @property
    def height(self) -> float:
        return self.caption + self.rows * self.row_height


def heatmaps_height(explanation: Explanation, width: float) -> float:
    """Points the explanation's heatmaps take on a figure whose maps get `width` points."""
    return _Grid(explanation, width).height if explanation.has_matrix else 0.0


def draw_heatmaps(
    fig: Figure, explanation: Explanation, left: float, top: float, width: float, height: float
) -> None:
    """The explanation's maps as heatmaps from `top` (points from the figure's top) and `left`,
    `width` points wide, on a figure `height` points tall and png.py's width: a caption, then
    one axes per map (a row per token, labelled when they fit, else ticked), with a colour bar
    right of the first row of maps."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    e = explanation
    assert e.token_attention is not None
    grid = _Grid(e, width)
    fig_width = fig.get_figwidth() * 72
    names = e.token_attention_names or [f"head {i}" for i in range(1, grid.maps + 1)]
    levels, _ = row_levels(e.token_attention)  # (maps, T, T)
    cmap = LinearSegmentedColormap.from_list(
        "attnclf", [(t, tuple(c / 255 for c in rgb)) for t, rgb in RAMP]
    )
    grey = "#57606a"

    def box(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x / fig_width, 1 - (y + h) / height, w / fig_width, h / height)

    caption = fig.add_axes(box(left, top, width, grid.caption))
    caption.axis("off")
    words = RECEIVED if weights_are_received(e) else POOLED if e.has_attention else ""
    caption.text(0, 1, "token-by-token attention", fontsize=10, weight="bold", va="top")
    note = textwrap.fill(f"{ROW_NOTE}. {words}".strip(), int(width / (8 * 0.56)))
    caption.text(0, 0.55, note, fontsize=8, color=grey, va="top", parse_math=False)

    if grid.labels:
        tick_at = list(range(grid.count))
        tick_text = [_clip(t) for t in e.tokens]
    else:
        tick_at = [p - 1 for p in ticks(grid.count)]
        tick_text = [str(p) for p in ticks(grid.count)]
    font = grid.font if grid.labels else 7.5
    column_width = min((width - _BAR) / grid.columns, grid.pad + grid.side + 3 * _GAP)
    for m, name in enumerate(names):
        row, column = divmod(m, grid.columns)
        x = left + column * column_width + grid.pad
        y = top + grid.caption + row * grid.row_height + _TITLE
        ax = fig.add_axes(box(x, y, grid.side, grid.side))
        ax.imshow(levels[m], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(name, fontsize=9.5, loc="left", parse_math=False)
        rotation = 90 if grid.labels else 0
        ax.set_xticks(tick_at, tick_text, rotation=rotation, fontsize=font, parse_math=False)
        ax.set_yticks(tick_at, tick_text, fontsize=font, parse_math=False)
        ax.tick_params(length=2, pad=1.5, colors=grey)
        ax.set_xlabel("attended token", fontsize=8, color=grey)
        ax.set_ylabel("attending token (row)", fontsize=8, color=grey)
        for spine in ax.spines.values():
            spine.set_edgecolor("#d0d7de")
    bar_y = top + grid.caption + _TITLE
    last = min(grid.maps, grid.columns) - 1  # the first row's last map
    bar_x = left + last * column_width + grid.pad + grid.side + 12
    bar = fig.add_axes(box(bar_x, bar_y, 9, min(grid.side, 300.0) * 0.8))
    colorbar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), cax=bar)
    colorbar.set_ticks([0, 0.5, 1], labels=["0", "half the\nrow max", "row max"])
    colorbar.ax.tick_params(labelsize=7.5)


__all__ = [
    "draw_heatmaps",
    "heatmaps_height",
    "matrix_html",
    "page_css",
    "png_bytes",
    "received",
    "row_levels",
    "row_view_script",
    "weights_are_received",
]
