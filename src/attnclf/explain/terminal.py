"""Explanations in a terminal: each word on a 24-bit background by its weight (or, without
colour, `word(0.123)`), a row per head for multi-head models, token scores on the signed ramp
(word-attention's, its signed attention, as a row before its weights), lines wrapped at the
terminal's width, and a note where the page or PNG shows more (the token-by-token matrix).
Labels and model names are stripped of control characters, so they cannot send escape codes.
"""

from __future__ import annotations

import os
import textwrap
import unicodedata
from typing import TextIO

from .colours import LEGEND, colour, intensities, is_dark, signed_colour, signed_levels
from .explanation import (
    NO_ATTENTION,
    SIGNED_ATTENTION,
    Explanation,
    score_legend,
    signed_attention_legend,
)

MATRIX_NOTE = "token-by-token attention matrix: {maps}; see it with --html FILE or --png FILE"


def use_color(stream: TextIO) -> bool:
    """Colour only for a terminal that wants it: a tty, NO_COLOR unset or empty
    (https://no-color.org), and TERM not "dumb"."""
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return False
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _printable(text: str) -> str:
    """Drop control characters, so a label or model name cannot send escape codes."""
    return "".join(c for c in text if unicodedata.category(c) != "Cc")


def _header(explanation: Explanation) -> str:
    e = explanation
    parts = [
        _printable(e.model_name),
        f"predicted {_printable(e.label)} (p={e.probability:.3f})",
    ]
    if e.true_label is not None:
        parts.append(f"true {_printable(e.true_label)} ({'right' if e.correct else 'wrong'})")
    parts.append("labels: " + ", ".join(_printable(name) for name in e.label_names))
    return " | ".join(parts)


def to_terminal(explanation: Explanation, color: bool, width: int = 100) -> str:
    """The explanation as lines for a terminal, wrapped at `width` columns.

    With `color`, each word gets a 24-bit background by its weight (scaled per row) and a
    black or white foreground that reads on it; without, each word is `word(0.123)` and the
    text has no escape codes at all. Multi-head models get the mean row and one row per head.
    A model with signed attention (word-attention) gets it first, on the signed ramp (without
    colour `word(+0.123)`), then its weights. A model without attention gets its words plain,
    either way, and NO_ATTENTION; one with token scores (nbsvm) gets them on the signed ramp.
    """
    e = explanation
    lines = [_header(e)]
    if e.truncated:
        lines.append(f"[truncated at {len(e.tokens)} tokens]")
    cut = e.cut()
    if e.has_scores:
        assert e.token_scores is not None
        cells = _cells(e.tokens, e.token_scores, color, signed=True)
        lines.extend(_wrap(_with_cut(cells, cut), "", width))
        legend = score_legend(e, colours=color)
        lines.extend(textwrap.wrap(legend, width, break_on_hyphens=False))
        return "\n".join(lines)
    if not e.has_attention:
        plain_cells = [(len(token), token) for token in e.tokens]
        lines.extend(_wrap(_with_cut(plain_cells, cut), "", width))
        lines.extend(textwrap.wrap(e.note or NO_ATTENTION, width, break_on_hyphens=False))
        lines.extend(_matrix_note(e, width))
        return "\n".join(lines)
    rows = [(name, _cells(e.tokens, weights, color)) for name, weights in e.rows()]
    if e.has_signed_attention:
        assert e.token_scores is not None
        rows.insert(0, (SIGNED_ATTENTION, _cells(e.tokens, e.token_scores, color, signed=True)))
    label_width = max(len(name) for name, _ in rows) + 2 if len(rows) > 1 else 0
    for name, cells in rows:
        label = name.ljust(label_width) if label_width else ""
        lines.extend(_wrap(_with_cut(cells, cut), label, width))
    if e.has_signed_attention:
        signed = signed_attention_legend(e, colours=color)
        lines.extend(textwrap.wrap(signed, width, break_on_hyphens=False))
    legend = LEGEND if color else "word(weight): attention weight per token; each row sums to 1"
    lines.extend(textwrap.wrap(legend, width))
    lines.extend(_matrix_note(e, width))
    return "\n".join(lines)


def _cells(
    tokens: list[str], values: list[float], color: bool, signed: bool = False
) -> list[tuple[int, str]]:
    """(visible width, what is printed) per token: on the ramp by its weight, scaled per row
    (`word(0.123)` without colour), or with `signed` on the signed ramp by its score, scaled by
    the text's largest magnitude (`word(+0.123)`)."""
    levels = signed_levels(values) if signed else intensities(values)
    ramp = signed_colour if signed else colour
    cells = []
    for token, value, level in zip(tokens, values, levels, strict=True):
        if color:
            cells.append((len(token), _ansi(token, ramp(level))))
        else:
            plain = f"{token}({value:+.3f})" if signed else f"{token}({value:.3f})"
            cells.append((len(plain), plain))
    return cells


def _ansi(token: str, rgb: tuple[int, int, int]) -> str:
    """`token` on a 24-bit background `rgb`, in black or white, whichever reads on it."""
    fg = "255;255;255" if is_dark(rgb) else "0;0;0"
    return f"\x1b[48;2;{rgb[0]};{rgb[1]};{rgb[2]}m\x1b[38;2;{fg}m{token}\x1b[0m"


def _matrix_note(explanation: Explanation, width: int) -> list[str]:
    """MATRIX_NOTE, wrapped, for a model with a token-by-token matrix; nothing otherwise."""
    if not explanation.has_matrix:
        return []
    count = len(explanation.token_attention)  # type: ignore[arg-type]
    note = MATRIX_NOTE.format(maps=f"{count} map{'s' if count > 1 else ''}")
    return textwrap.wrap(note, width, break_on_hyphens=False, break_long_words=False)


def _with_cut(cells: list[tuple[int, str]], cut: tuple[int, int] | None) -> list[tuple[int, str]]:
    """`cells`, one per token, with a marker where tokens were cut out of the text."""
    if cut is None or not cut[1]:
        return cells
    marker = f"[... {cut[1]} tokens cut ...]"
    return [*cells[: cut[0]], (len(marker), marker), *cells[cut[0] :]]


def _wrap(cells: list[tuple[int, str]], label: str, width: int) -> list[str]:
    """Cells joined by spaces into lines of at most `width` visible columns (a longer cell gets
    a line of its own); the first line starts with `label`, the rest are indented to match."""
    indent = " " * len(label)
    lines: list[str] = []
    current: list[str] = []
    used = 0
    for size, shown in cells:
        if current and len(indent) + used + 1 + size > width:
            lines.append(" ".join(current))
            current, used = [], 0
        used += size + (1 if current else 0)
        current.append(shown)
    lines.append(" ".join(current))
    return [(label if i == 0 else indent) + line for i, line in enumerate(lines)]


__all__ = ["MATRIX_NOTE", "to_terminal", "use_color"]
