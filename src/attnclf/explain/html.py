"""Explanations as HTML: a self-styled card per explanation (`to_html_fragment`, also what a
notebook shows), the page of explanations (`explanations_page`, with the token-by-token matrix
of matrix.py where a model has one) and the same texts under several models side by side
(`comparison_page`), each page in the shared shell (shell.py).

Each word is coloured by its weight on the ramp of colours.py, scaled per row by the row's
largest weight (or EVEN_SHARES / T if larger), with the exact weight in a tooltip; token scores
go on the signed ramp (word-attention's, its signed attention, as a row before its weights); a
model without attention gets its words uncoloured and a note saying why. Every piece of text is
escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from . import shell
from .colours import (
    LEGEND,
    RAMP,
    SIGNED_RAMP,
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
    show_in_notebooks,
    signed_attention_legend,
)
from .matrix import matrix_html, page_css, row_view_script

# Inline styles only: a fragment must look the same in a notebook, where a page's <style> is
# absent, as on the page.
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;"
    "background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;"
    "margin:0 0 14px 0;"
)
_WORDS = "font-size:15px;line-height:1.95;overflow-wrap:anywhere;"
_ROW_NAME = "flex:0 0 5.5em;color:#57606a;font-size:12px;padding-top:4px;"
_MARKER = (
    "display:inline-block;font-size:12px;color:#57606a;border:1px dashed #8c959f;"
    "border-radius:3px;padding:0 5px;margin:0 2px;line-height:1.5;"
)
_BADGE = "font-size:12px;border-radius:10px;padding:1px 8px;margin-left:4px;"
_NOTE = "font-size:12px;color:#57606a;margin-top:6px;"


def _span(token: str, weight: float, level: float, signed: bool = False) -> str:
    rgb = signed_colour(level) if signed else colour(level)
    text_colour = "color:#fff;" if is_dark(rgb) else ""
    title = f"{weight:+.6f}" if signed else f"{weight:.6f}"
    return (
        f'<span title="{title}" style="background:{hex_colour(rgb)};{text_colour}'
        f'padding:1px 2px;border-radius:3px">{html.escape(token)}</span>'
    )


def _words_html(
    explanation: Explanation,
    values: Sequence[float] | None,
    cut: tuple[int, int] | None,
    spans: bool = False,
    signed: bool = False,
) -> str:
    """The tokens, each coloured by its value: a weight on the ramp, or with `signed` a token
    score on the signed ramp; plain when `values` is None (each in a <span> of its own with
    `spans`, for the row view to colour)."""
    if values is None:
        pieces = [
            f"<span>{html.escape(token)}</span>" if spans else html.escape(token)
            for token in explanation.tokens
        ]
    else:
        levels = signed_levels(values) if signed else intensities(values)
        pieces = [
            _span(token, value, level, signed)
            for token, value, level in zip(explanation.tokens, values, levels, strict=True)
        ]
    if cut is not None and cut[1]:
        marker = f"&#8943; {cut[1]} tokens cut &#8943;"
        pieces.insert(cut[0], f'<span class="attnclf-cut" style="{_MARKER}">{marker}</span>')
    return " ".join(pieces)


def _signed_note_html(legend: str, kind: str, hover: str) -> str:
    """`legend` (score_legend or signed_attention_legend) as a grey note of class `kind` after a
    swatch of the signed ramp, saying what hovering a word gives (`hover`)."""
    stops = ", ".join(f"{hex_colour(rgb)} {(t + 1) * 50:.0f}%" for t, rgb in SIGNED_RAMP)
    ramp = (
        '<span style="display:inline-block;width:90px;height:10px;border:1px solid #d0d7de;'
        f'vertical-align:middle;margin-right:6px;background:linear-gradient(to right, {stops})">'
        "</span>"
    )
    text = f"{html.escape(legend)}; hover a word for its exact {hover}"
    return f'<div class="{kind}" style="{_NOTE}">{ramp}{text}</div>'


def _no_attention_html(note: str | None = None) -> str:
    """NO_ATTENTION (or `note`) as a grey note, its `command` in <code>."""
    pieces = html.escape(note or NO_ATTENTION).split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
    return f'<div class="attnclf-no-attention" style="{_NOTE}">{text}</div>'


def _header_html(explanation: Explanation) -> str:
    e = explanation
    parts = [
        f"<strong>{html.escape(e.model_name)}</strong>",
        f"predicted <strong>{html.escape(e.label)}</strong> (p = {e.probability:.3f})",
    ]
    if e.true_label is not None:
        if e.correct:
            badge = f'<span style="{_BADGE}background:#dafbe1;color:#1a7f37">&#10003; right</span>'
        else:
            badge = f'<span style="{_BADGE}background:#ffebe9;color:#cf222e">&#10007; wrong</span>'
        parts.append(f"true <strong>{html.escape(e.true_label)}</strong>{badge}")
    if e.truncated:
        parts.append(f'<span style="{_MARKER}">truncated at {len(e.tokens)} tokens</span>')
    probabilities = " &middot; ".join(
        f"{html.escape(name)} {e.probabilities.get(name, float('nan')):.3f}"
        for name in e.label_names
    )
    return (
        f'<div style="font-size:14px;margin-bottom:6px">{" &middot; ".join(parts)}</div>'
        f'<div style="font-size:12px;color:#57606a;margin-bottom:8px">'
        f"probabilities: {probabilities}</div>"
    )


def _fragment(explanation: Explanation, with_text: bool, matrix: str = "") -> str:
    """The card; `matrix`, the matrix section (matrix.matrix_html), goes under the words,
    whose first row of weights becomes the one the row view recolours. A model with signed
    attention gets it as a row before its weights, and its legend under them."""
    e, cut = explanation, explanation.cut()
    main = ' class="attnclf-main"' if matrix else ""
    body = []
    if not e.has_attention:
        if e.has_scores:
            words = _words_html(e, e.token_scores, cut, signed=True)
            note = _signed_note_html(score_legend(e), "attnclf-token-scores", "share")
        else:
            words = _words_html(e, None, cut, spans=bool(matrix))
            note = _no_attention_html(e.note)
        body.extend([f'<div{main} style="{_WORDS}">{words}</div>', note])
    rows = [(name, weights, False) for name, weights in e.rows()]
    if e.has_signed_attention:
        assert e.token_scores is not None
        rows.insert(0, (SIGNED_ATTENTION, e.token_scores, True))
    for number, (name, values, signed) in enumerate(rows):
        kind = main if number == int(e.has_signed_attention) else ""
        words = f'<div{kind} style="{_WORDS}">{_words_html(e, values, cut, signed=signed)}</div>'
        if len(rows) > 1:
            divider = "border-top:1px solid #eaeef2;padding-top:4px;" if number else ""
            label = ' class="attnclf-row-name"' if kind else ""
            body.append(
                f'<div style="display:flex;gap:8px;margin-bottom:4px;{divider}">'
                f'<div{label} style="{_ROW_NAME}">{html.escape(name)}</div>{words}</div>'
            )
        else:
            body.append(words)
    if e.has_signed_attention:
        legend = signed_attention_legend(e)
        body.append(_signed_note_html(legend, "attnclf-signed-attention", "term"))
    text = (
        '<details style="margin-top:6px;font-size:13px;color:#57606a">'
        "<summary>original text</summary>"
        f'<div style="white-space:pre-wrap;margin-top:4px">{html.escape(e.text)}</div>'
        "</details>"
        if with_text
        else ""
    )
    return (
        f'<div class="attnclf-explanation" style="{_BOX}">'
        f"{_header_html(e)}{''.join(body)}{matrix}{text}</div>"
    )


def to_html_fragment(explanation: Explanation) -> str:
    """One example as a self-styled <div>: header, coloured words (a tooltip gives each exact
    weight), a row per head for multi-head models, the signed attention first for a model
    with it (word-attention), and the original text folded away. A model without attention
    gets its words uncoloured and a note saying why. The token-by-token matrix is left out: it
    needs the page (explanations_page) for its rules and its script."""
    return _fragment(explanation, with_text=True)


def _legend_html() -> str:
    stops = ", ".join(f"{hex_colour(rgb)} {t * 100:.0f}%" for t, rgb in RAMP)
    return (
        '<div class="attnclf-legend" style="display:flex;flex-wrap:wrap;align-items:center;'
        "gap:4px 8px;font-family:system-ui,sans-serif;font-size:12px;color:#57606a;"
        'margin:0 0 14px 0"><span>0</span>'
        f'<span style="display:inline-block;width:180px;height:12px;border:1px solid #d0d7de;'
        f'background:linear-gradient(to right, {stops})"></span>'
        '<span style="white-space:nowrap;margin-right:8px">row max</span>'
        f"<span>{html.escape(LEGEND)}; hover a word for its exact weight</span></div>"
    )


def _legend_if_needed(explanations: Sequence[Explanation]) -> str:
    """The colour legend, unless no explanation on the page has colours to explain."""
    if explanations and not any(e.has_attention for e in explanations):
        return ""
    return _legend_html()


def explanations_page(explanations: Sequence[Explanation], title: str) -> str:
    """One self-contained HTML page (shell.py) with every explanation. Where a model has a
    token-by-token matrix, its card also draws the matrix, a map per head (and layer), and the
    page carries the one inline script of the row view (matrix.py), allowed by its hash; a page
    without a matrix has no script and no image."""
    if not any(e.has_matrix for e in explanations):
        body = _legend_if_needed(explanations) + "\n".join(map(to_html_fragment, explanations))
        return shell.page_shell(title, body)
    cards = [
        _fragment(e, True, matrix_html(e, n) if e.has_matrix else "")
        for n, e in enumerate(explanations, start=1)
    ]
    most = max(len(e.token_attention) for e in explanations if e.token_attention is not None)
    return shell.page_shell(
        title,
        _legend_if_needed(explanations) + "\n".join(cards),
        extra_css=page_css(most),
        script=row_view_script(),
        data_images=True,
    )


def comparison_page(
    rows: Sequence[Sequence[Explanation]], model_names: Sequence[str], title: str
) -> str:
    """The same texts under several models: one row per text, one column per model. A column
    whose model has no attention shows its words uncoloured with a note."""
    columns = len(model_names)
    for number, row in enumerate(rows, start=1):
        if len(row) != columns:
            raise ValueError(f"row {number} has {len(row)} explanations for {columns} models")
    grid = (
        f"display:grid;grid-template-columns:repeat({columns}, minmax(0, 1fr));"
        "gap:12px;align-items:start"
    )
    heading = "".join(
        f'<div style="font-weight:600;font-size:14px">{html.escape(name)}</div>'
        for name in model_names
    )
    # The model names stay in view while the rows scroll past.
    sticky = "position:sticky;top:0;z-index:1;background:#f6f8fa;padding:6px 0;"
    legend = _legend_if_needed([e for row in rows for e in row])
    sections = [legend] if legend else []
    sections.append(f'<div style="{grid};{sticky}">{heading}</div>')
    for number, row in enumerate(rows, start=1):
        first = row[0] if row else None
        truth = (
            f" &middot; true label <strong>{html.escape(first.true_label)}</strong>"
            if first is not None and first.true_label is not None
            else ""
        )
        text = (
            '<details style="margin:0 0 8px 0;font-size:13px;color:#57606a">'
            "<summary>original text</summary>"
            f'<div style="white-space:pre-wrap;margin-top:4px">{html.escape(first.text)}</div>'
            "</details>"
            if first is not None
            else ""
        )
        cells = "".join(_fragment(e, with_text=False) for e in row)
        sections.append(
            f"<section><h2>Text {number}{truth}</h2>{text}"
            f'<div style="{grid}">{cells}</div></section>'
        )
    width = "1100px" if columns <= 1 else f"{min(560 * columns, 1900)}px"
    return shell.page_shell(title, "\n".join(sections), max_width=width)


def notebook_card(explanation: Explanation) -> str:
    """What a notebook shows for an Explanation (its _repr_html_): the card, with the colour
    legend when its words are coloured by attention."""
    legend = _legend_html() if explanation.has_attention else ""
    return to_html_fragment(explanation) + legend


show_in_notebooks(notebook_card)

__all__ = ["comparison_page", "explanations_page", "notebook_card", "to_html_fragment"]
