"""The colour ramps every view shares (terminal, HTML, PNG, the matrix maps, the live page and
the seq2seq heatmaps), how a row of weights is scaled onto them, and what the colours mean.

Attention is coloured on RAMP, relative to the row's largest weight (`intensities`); signed
token scores on SIGNED_RAMP, relative to the text's largest magnitude (`signed_levels`). Pages
that colour in the browser get the ramps as data (`ramp_data`) and evaluate them with the one
script that mirrors `colour` (assets/colours.js, `colours_script`); no page defines a ramp of
its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files

Ramp = list[tuple[float, tuple[int, int, int]]]

# One colour ramp for every view: white (no attention) through amber to a deep orange at the
# row's largest weight. Orange carries no sentiment, unlike red/green.
RAMP: Ramp = [
    (0.0, (255, 255, 255)),
    (0.5, (253, 174, 97)),
    (1.0, (179, 48, 0)),
]
# The darkest colour needs at least this many even shares (1/T each) of the attention.
EVEN_SHARES = 3.0
# Token scores' diverging ramp (ColorBrewer RdBu): blue at -1 (the text's most negative share)
# through white at 0 to red at +1 (its most positive).
SIGNED_RAMP: Ramp = [
    (-1.0, (33, 102, 172)),
    (-0.5, (146, 197, 222)),
    (0.0, (255, 255, 255)),
    (0.5, (244, 165, 130)),
    (1.0, (178, 24, 43)),
]
# SIGNED_RAMP's blue half from 0 to 1: the live page's colour for gradient scores against the
# predicted label (orange, RAMP, stays "for").
NEGATIVE_RAMP: Ramp = [(abs(t), rgb) for t, rgb in reversed(SIGNED_RAMP) if t <= 0]

LEGEND = (
    "colour: attention weight relative to the largest weight in the same row "
    f"(darkest = the row's maximum, or {EVEN_SHARES:g} even shares if no word gets that much); "
    "each row's weights sum to 1"
)


def _on_ramp(ramp: Ramp, t: float) -> tuple[int, int, int]:
    """`ramp`'s colour at `t`, clamped to its ends, linear between neighbouring stops."""
    t = min(max(float(t), ramp[0][0]), ramp[-1][0])
    for (t0, c0), (t1, c1) in zip(ramp, ramp[1:], strict=False):  # neighbouring stops
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))
            return r, g, b
    return ramp[-1][1]


def colour(intensity: float) -> tuple[int, int, int]:
    """The ramp's colour at `intensity` in [0, 1]."""
    return _on_ramp(RAMP, intensity)


def signed_colour(value: float) -> tuple[int, int, int]:
    """SIGNED_RAMP's colour at `value` in [-1, 1]."""
    return _on_ramp(SIGNED_RAMP, value)


def intensities(weights: Sequence[float]) -> list[float]:
    """Each weight over the row's scale: its largest weight, or EVEN_SHARES / T if that is
    larger (capped at 1, the most a weight can be)."""
    if not weights:
        return []
    scale = max(max(weights), min(1.0, EVEN_SHARES / len(weights)))
    return [w / scale for w in weights]


def signed_levels(scores: Sequence[float]) -> list[float]:
    """Each score over the text's largest |score|, in [-1, 1] (all 0 when every score is)."""
    scale = max((abs(v) for v in scores), default=0.0)
    return [v / scale if scale > 0 else 0.0 for v in scores]


def is_dark(rgb: tuple[int, int, int]) -> bool:
    """Whether white text reads better than black on `rgb` (WCAG relative luminance)."""

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = map(linear, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.2


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """`rgb` as CSS: "#rrggbb"."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def ramp_data(ramp: Ramp) -> list[list[object]]:
    """`ramp` as JSON-ready data for a page's script: [[t, [r, g, b]], ...]."""
    return [[t, list(rgb)] for t, rgb in ramp]


@cache
def colours_script() -> str:
    """The script that evaluates a ramp handed over as `ramp_data` in the browser exactly as
    `colour` does, and tells dark colours as `is_dark` does (assets/colours.js). It defines
    `attnclfColours` for the page script that follows it."""
    return (files("attnclf.explain") / "assets" / "colours.js").read_text(encoding="utf-8")


__all__ = [
    "EVEN_SHARES",
    "LEGEND",
    "NEGATIVE_RAMP",
    "RAMP",
    "SIGNED_RAMP",
    "colour",
    "colours_script",
    "hex_colour",
    "intensities",
    "is_dark",
    "ramp_data",
    "signed_colour",
    "signed_levels",
]
