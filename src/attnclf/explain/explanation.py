"""Attention -> per-token weights -> terminal, HTML and PNG views of what a model read.

An Explanation holds one text as the model saw it (tokens after truncation) with the pooling
attention on each token: one row of weights, plus one row per head for multi-head models. The
views colour each word by its weight, scaled per row by the row's largest weight so that a
200-token review, whose weights are all small, is not uniformly pale. The scale never drops
below three times an even share (3/T, at most 1): otherwise near-even attention, as from an
untrained model, would paint every word the darkest colour. The weights themselves (in
tooltips, in the plain terminal view) are the model's own, renormalised to sum to 1.

Attention weights show where the pooling looked, not why the model decided (Jain & Wallace
2019, "Attention is not Explanation"); the views say "attention", never "importance".

A model that pools without attention (a max-pooling BiLSTM baseline, say) gives no weights:
its Explanation has `weights` None, and every view shows the words uncoloured with NO_ATTENTION
rather than failing or inventing an even spread, which would read as "every word mattered
equally". Pages are built in the shared shell of page.py.

A model without attention that adds its logit up from the tokens (nbsvm) gives each token its
signed share of the logit instead (`token_scores`; see models/outputs.py). The views colour
those on a diverging ramp, scaled per text by the largest share: red is evidence for the second
label (for more labels: for the predicted one), blue for the first (against the predicted
one), white none; each view says which label each colour stands for (`score_legend`).

Models where every token attends to every token (the tutorial families, the transformer) also
give a token-by-token matrix per head (and per layer): row t holds token t's weights over the
tokens. The Explanation keeps it (`token_attention`, (nh, T, T), with a name per map), the
HTML page and the PNG draw it (matrix_view.py), and the terminal says where to see it. For the
tutorial families the per-token weights are how much attention each token receives, averaged
over the query rows (and heads), scaled to sum to 1; the transformer's are its pooling
attention, which the matrix does not give. The page says which, by checking the weights
against the matrix.
"""

from __future__ import annotations

import html
import os
import textwrap
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

import numpy as np

from ..errors import AttnclfError
from ..runtime.files import atomic_write
from ..text.tokens import tokenize
from . import shell
from .colours import EVEN_SHARES, RAMP, colour

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..inference.classifier import Prediction, Scored, TextClassifier

LEGEND = (
    "colour: attention weight relative to the largest weight in the same row "
    f"(darkest = the row's maximum, or {EVEN_SHARES:g} even shares if no word gets that much); "
    "each row's weights sum to 1"
)
NO_ATTENTION = (
    "this model has no attention weights to show (it pools without attention); "
    "try `attnclf faithfulness` for gradient-based explanations"
)
MATRIX_NOTE = "token-by-token attention matrix: {maps}; see it with --html FILE or --png FILE"
# Token scores' diverging ramp (ColorBrewer RdBu): blue at -1 (the text's most negative share)
# through white at 0 to red at +1 (its most positive).
SIGNED_RAMP: list[tuple[float, tuple[int, int, int]]] = [
    (-1.0, (33, 102, 172)),
    (-0.5, (146, 197, 222)),
    (0.0, (255, 255, 255)),
    (0.5, (244, 165, 130)),
    (1.0, (178, 24, 43)),
]


@dataclass
class Explanation:
    """One text, the tokens the model read, and the attention on each of them (None for a
    model without attention)."""

    text: str
    tokens: list[str]  # what the model read, after truncation
    # (T,) one per token, sums to 1; the mean over heads for multi-head; None: no attention
    weights: list[float] | None
    label: str  # predicted
    probability: float  # of the predicted label
    probabilities: dict[str, float]
    label_names: list[str]
    truncated: bool
    model_name: str
    head_weights: list[list[float]] | None = None  # (nh, T), each row sums to 1
    true_label: str | None = None  # known for test reviews
    # (maps, T, T) float32 for layers where every token attends to every token: row t is token
    # t's weights over the tokens; one map per head (per layer and head for several layers)
    token_attention: np.ndarray | None = field(default=None, repr=False, compare=False)
    token_attention_names: list[str] | None = None  # one per map: "head 1", "layer 2, head 1"
    # (T,) signed share of the logit per token, for a model without attention that adds its
    # logit up from the tokens (nbsvm); positive: towards the second label (more labels: the
    # predicted one)
    token_scores: list[float] | None = None
    # shown instead of NO_ATTENTION for a model without attention (an ensemble says why)
    note: str | None = None
    tokenizer: str = "attnclf"  # how `text` became tokens (TextConfig.tokenizer)

    @classmethod
    def from_prediction(
        cls,
        prediction: Prediction,
        label_names: Sequence[str],
        model_name: str,
        true_label: str | None = None,
    ) -> Explanation:
        attention = prediction.attention
        # Heads without a pooled row cannot happen in a real model; drop them rather than draw
        # head rows under a "no attention" note.
        heads = prediction.head_attention if attention is not None else None
        return cls(
            text=prediction.text,
            tokens=list(prediction.tokens),
            weights=_sum_to_one(attention) if attention is not None else None,
            label=prediction.label,
            probability=float(prediction.probability),
            probabilities=dict(prediction.probabilities),
            label_names=list(label_names),
            truncated=bool(prediction.truncated),
            model_name=model_name,
            head_weights=[_sum_to_one(row) for row in heads] if heads is not None else None,
            true_label=true_label,
        )

    @classmethod
    def from_scored(
        cls,
        text: str,
        scored: Scored,
        label_names: Sequence[str],
        model_name: str,
        true_label: str | None = None,
        map_names: Sequence[str] | None = None,
        tokenizer: str = "attnclf",
    ) -> Explanation:
        """From `TextClassifier.score`, which also gives the token-by-token matrix; its maps
        are named by `map_names`, else "head 1", "head 2", ...; `tokenizer` is the one that
        made `scored.tokens` (TextConfig.tokenizer)."""
        probs = np.asarray(scored.probabilities, dtype=np.float64)  # (K,)
        best = int(probs.argmax())
        attention, heads, matrix = scored.attention, scored.head_attention, scored.token_attention
        if matrix is not None:
            matrix = np.asarray(matrix, dtype=np.float32)  # (maps, T, T)
            count = matrix.shape[0]
            if map_names is None or len(map_names) != count:
                map_names = [f"head {i}" for i in range(1, count + 1)]
        else:
            map_names = None
        return cls(
            text=text,
            tokens=list(scored.tokens),
            weights=_sum_to_one(attention) if attention is not None else None,
            label=label_names[best],
            probability=float(probs[best]),
            probabilities=dict(zip(label_names, map(float, probs), strict=True)),
            label_names=list(label_names),
            truncated=bool(scored.truncated),
            model_name=model_name,
            head_weights=(
                [_sum_to_one(row) for row in heads]
                if heads is not None and attention is not None
                else None
            ),
            true_label=true_label,
            token_attention=matrix,
            token_attention_names=list(map_names) if map_names is not None else None,
            token_scores=(
                [float(v) for v in scored.token_scores] if scored.token_scores is not None else None
            ),
            tokenizer=tokenizer,
        )

    @property
    def has_attention(self) -> bool:
        """Whether the model gave attention weights; False for one that pools without."""
        return self.weights is not None

    @property
    def has_scores(self) -> bool:
        """Whether the views colour signed token scores: a model without attention that gave
        them."""
        return self.weights is None and self.token_scores is not None

    @property
    def has_matrix(self) -> bool:
        """Whether the model gave a token-by-token matrix (token_attention)."""
        return self.token_attention is not None and len(self.token_attention) > 0

    @property
    def correct(self) -> bool | None:
        """Whether the prediction matches the true label; None when that is unknown."""
        return None if self.true_label is None else self.label == self.true_label

    def rows(self) -> list[tuple[str, list[float]]]:
        """(name, weights) per row to draw: the mean and then each head, or the one row; none
        for a model without attention."""
        if self.weights is None:
            return []
        if not self.head_weights:
            return [("attention", self.weights)]
        heads = [(f"head {h}", row) for h, row in enumerate(self.head_weights, start=1)]
        return [("mean", self.weights), *heads]

    def cut(self) -> tuple[int, int] | None:
        """Where the text was cut, as (position among `tokens`, number of tokens left out), or
        None when it was not. Found by matching the full tokenization, so it works for every
        truncation mode ("head" cuts at the end, "tail" at the start, "head+tail" inside)."""
        if not self.truncated:
            return None
        full, n = tokenize(self.text, self.tokenizer), len(self.tokens)
        dropped = len(full) - n
        if dropped <= 0:
            return (n, 0)
        for position in (n // 4, n, 0, *range(n + 1)):
            if (
                self.tokens[:position] == full[:position]
                and self.tokens[position:] == full[len(full) - (n - position) :]
            ):
                return (position, dropped)
        return (n, dropped)

    def _repr_html_(self) -> str:
        legend = _legend_html() if self.has_attention else ""
        return to_html_fragment(self) + legend


def explain(
    classifier: TextClassifier,
    texts: str | Sequence[str],
    true_labels: Sequence[str | None] | None = None,
) -> list[Explanation]:
    """One Explanation per text, in order, from `classifier.score` (which, unlike `predict`,
    also gives the token-by-token matrix). A text with no words is an error."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    labels = [None] * len(texts) if true_labels is None else list(true_labels)
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} true labels")
    scored = classifier.score(texts)
    explanations = []
    for number, (text, found, truth) in enumerate(zip(texts, scored, labels, strict=True), 1):
        if found is None:
            raise AttnclfError(f"text {number} has no words to explain: {text!r}")
        names = None
        if found.token_attention is not None:
            names = map_names(classifier.model, len(found.token_attention))
        explanations.append(
            Explanation.from_scored(
                text,
                found,
                classifier.label_names,
                classifier.architecture,
                truth,
                names,
                tokenizer=classifier.text_config.tokenizer,
            )
        )
    return explanations


def map_names(model: Any, count: int) -> list[str]:
    """The model's names for the `count` maps of its token_attention ("layer 1, head 2"), or
    "head 1", "head 2", ... for a model that does not name them (or names another count)."""
    name = getattr(model, "token_attention_names", None)
    if callable(name):
        try:
            names = [str(n) for n in name(count)]
        except (TypeError, ValueError):
            names = []
        if len(names) == count:
            return names
    return [f"head {i}" for i in range(1, count + 1)]


def _sum_to_one(row: Sequence[float] | np.ndarray) -> list[float]:
    values = np.asarray(row, dtype=np.float64)
    total = values.sum()
    if not np.isfinite(total) or total <= 0:
        return [1.0 / len(values)] * len(values) if len(values) else []
    return (values / total).tolist()


# --- colours --------------------------------------------------------------------------------


def signed_colour(value: float) -> tuple[int, int, int]:
    """SIGNED_RAMP's colour at `value` in [-1, 1]."""
    t = min(max(float(value), -1.0), 1.0)
    for (t0, c0), (t1, c1) in zip(SIGNED_RAMP, SIGNED_RAMP[1:], strict=False):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))
            return r, g, b
    return SIGNED_RAMP[-1][1]


def _signed_levels(scores: Sequence[float]) -> list[float]:
    """Each score over the text's largest |score|, in [-1, 1] (all 0 when every score is)."""
    scale = max((abs(v) for v in scores), default=0.0)
    return [v / scale if scale > 0 else 0.0 for v in scores]


def score_legend(explanation: Explanation, colours: bool = True) -> str:
    """What the colours (or, without `colours`, the signs) of token scores mean for this
    explanation's labels."""
    names = explanation.label_names
    up, down = ("red", "blue") if colours else ("+", "-")
    if len(names) == 2:
        towards = f"{up}: evidence for {names[1]}, {down}: evidence for {names[0]}"
    else:
        towards = f"{up}: evidence for the predicted {explanation.label}, {down}: against it"
    what, scale = (
        ("colour", "; darkest = the text's largest share") if colours else ("word(score)", "")
    )
    return (
        f"{what}: each word's share of the logit ({towards}{scale}); every n-gram's weight is "
        "split equally over its words, so the shares add up to the logit minus the bias"
    )


def _is_dark(rgb: tuple[int, int, int]) -> bool:
    """Whether white text reads better than black on `rgb` (WCAG relative luminance)."""

    def linear(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = map(linear, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.2


def _intensities(weights: Sequence[float]) -> list[float]:
    """Each weight over the row's scale: its largest weight, or EVEN_SHARES / T if that is
    larger (capped at 1, the most a weight can be)."""
    if not weights:
        return []
    scale = max(max(weights), min(1.0, EVEN_SHARES / len(weights)))
    return [w / scale for w in weights]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# --- terminal -------------------------------------------------------------------------------


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
    A model without attention gets its words plain, either way, and NO_ATTENTION.
    """
    e = explanation
    lines = [_header(e)]
    if e.truncated:
        lines.append(f"[truncated at {len(e.tokens)} tokens]")
    cut = e.cut()
    if e.has_scores:
        assert e.token_scores is not None
        cells: list[tuple[int, str]] = []  # (visible width, what is printed)
        levels = _signed_levels(e.token_scores)
        for token, score, level in zip(e.tokens, e.token_scores, levels, strict=True):
            if color:
                cells.append((len(token), _ansi(token, signed_colour(level))))
            else:
                plain = f"{token}({score:+.3f})"
                cells.append((len(plain), plain))
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
    rows = e.rows()
    label_width = max(len(name) for name, _ in rows) + 2 if len(rows) > 1 else 0
    for name, weights in rows:
        cells = []
        for token, weight, level in zip(e.tokens, weights, _intensities(weights), strict=True):
            if color:
                cells.append((len(token), _ansi(token, colour(level))))
            else:
                plain = f"{token}({weight:.3f})"
                cells.append((len(plain), plain))
        label = name.ljust(label_width) if label_width else ""
        lines.extend(_wrap(_with_cut(cells, cut), label, width))
    legend = LEGEND if color else "word(weight): attention weight per token; each row sums to 1"
    lines.extend(textwrap.wrap(legend, width))
    lines.extend(_matrix_note(e, width))
    return "\n".join(lines)


def _ansi(token: str, rgb: tuple[int, int, int]) -> str:
    """`token` on a 24-bit background `rgb`, in black or white, whichever reads on it."""
    fg = "255;255;255" if _is_dark(rgb) else "0;0;0"
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


# --- HTML -----------------------------------------------------------------------------------

# Inline styles only: a fragment must look the same in a notebook, where a page's <style> is
# absent, as on the page.
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;"
    "background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;"
    "margin:0 0 14px 0;"
)
_WORDS = "font-size:15px;line-height:1.95;overflow-wrap:anywhere;"
_ROW_NAME = "flex:0 0 4.5em;color:#57606a;font-size:12px;padding-top:4px;"
_MARKER = (
    "display:inline-block;font-size:12px;color:#57606a;border:1px dashed #8c959f;"
    "border-radius:3px;padding:0 5px;margin:0 2px;line-height:1.5;"
)
_BADGE = "font-size:12px;border-radius:10px;padding:1px 8px;margin-left:4px;"
_NOTE = "font-size:12px;color:#57606a;margin-top:6px;"


def _span(token: str, weight: float, level: float, signed: bool = False) -> str:
    rgb = signed_colour(level) if signed else colour(level)
    text_colour = "color:#fff;" if _is_dark(rgb) else ""
    title = f"{weight:+.6f}" if signed else f"{weight:.6f}"
    return (
        f'<span title="{title}" style="background:{_hex(rgb)};{text_colour}'
        f'padding:1px 2px;border-radius:3px">{html.escape(token)}</span>'
    )


def _words_html(
    explanation: Explanation,
    weights: Sequence[float] | None,
    cut: tuple[int, int] | None,
    spans: bool = False,
) -> str:
    """The tokens, each coloured by its weight, or plain when `weights` is None (each in a
    <span> of its own with `spans`, for the row view to colour); an explanation with token
    scores and no weights gets them on the signed ramp."""
    if weights is None and explanation.has_scores:
        assert explanation.token_scores is not None
        scores = explanation.token_scores
        pieces = [
            _span(token, score, level, signed=True)
            for token, score, level in zip(
                explanation.tokens, scores, _signed_levels(scores), strict=True
            )
        ]
    elif weights is None:
        pieces = [
            f"<span>{html.escape(token)}</span>" if spans else html.escape(token)
            for token in explanation.tokens
        ]
    else:
        pieces = [
            _span(token, weight, level)
            for token, weight, level in zip(
                explanation.tokens, weights, _intensities(weights), strict=True
            )
        ]
    if cut is not None and cut[1]:
        marker = f"&#8943; {cut[1]} tokens cut &#8943;"
        pieces.insert(cut[0], f'<span class="attnclf-cut" style="{_MARKER}">{marker}</span>')
    return " ".join(pieces)


def _score_note_html(explanation: Explanation) -> str:
    """score_legend as a grey note after a swatch of the signed ramp."""
    stops = ", ".join(f"{_hex(rgb)} {(t + 1) * 50:.0f}%" for t, rgb in SIGNED_RAMP)
    ramp = (
        '<span style="display:inline-block;width:90px;height:10px;border:1px solid #d0d7de;'
        f'vertical-align:middle;margin-right:6px;background:linear-gradient(to right, {stops})">'
        "</span>"
    )
    text = html.escape(score_legend(explanation)) + "; hover a word for its exact share"
    return f'<div class="attnclf-token-scores" style="{_NOTE}">{ramp}{text}</div>'


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
    """The card; `matrix`, the matrix section (matrix_view.matrix_html), goes under the words,
    whose first row becomes the one the row view recolours."""
    rows, cut = explanation.rows(), explanation.cut()
    main = ' class="attnclf-main"' if matrix else ""
    body = []
    if not explanation.has_attention:
        plain = _words_html(explanation, None, cut, spans=bool(matrix))
        body.append(f'<div{main} style="{_WORDS}">{plain}</div>')
        body.append(
            _score_note_html(explanation)
            if explanation.has_scores
            else _no_attention_html(explanation.note)
        )
    for number, (name, weights) in enumerate(rows):
        kind = main if number == 0 else ""
        words = f'<div{kind} style="{_WORDS}">{_words_html(explanation, weights, cut)}</div>'
        if len(rows) > 1:
            divider = "border-top:1px solid #eaeef2;padding-top:4px;" if number else ""
            label = ' class="attnclf-row-name"' if kind else ""
            body.append(
                f'<div style="display:flex;gap:8px;margin-bottom:4px;{divider}">'
                f'<div{label} style="{_ROW_NAME}">{html.escape(name)}</div>{words}</div>'
            )
        else:
            body.append(words)
    text = (
        '<details style="margin-top:6px;font-size:13px;color:#57606a">'
        "<summary>original text</summary>"
        f'<div style="white-space:pre-wrap;margin-top:4px">{html.escape(explanation.text)}</div>'
        "</details>"
        if with_text
        else ""
    )
    return (
        f'<div class="attnclf-explanation" style="{_BOX}">'
        f"{_header_html(explanation)}{''.join(body)}{matrix}{text}</div>"
    )


def to_html_fragment(explanation: Explanation) -> str:
    """One example as a self-styled <div>: header, coloured words (a tooltip gives each exact
    weight), a row per head for multi-head models, and the original text folded away. A model
    without attention gets its words uncoloured and a note saying why. The token-by-token
    matrix is left out: it needs the page (render_page) for its rules and its script."""
    return _fragment(explanation, with_text=True)


def _legend_html() -> str:
    stops = ", ".join(f"{_hex(rgb)} {t * 100:.0f}%" for t, rgb in RAMP)
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


def render_page(explanations: Sequence[Explanation], title: str) -> str:
    """One self-contained HTML page (page.py's shell) with every explanation. Where a model
    has a token-by-token matrix, its card also draws the matrix, a map per head (and layer),
    and the page carries the one inline script of the row view (matrix_view.py), allowed by
    its hash; a page without a matrix has no script and no image."""
    if not any(e.has_matrix for e in explanations):
        body = _legend_if_needed(explanations) + "\n".join(map(to_html_fragment, explanations))
        return shell.render_page(title, body)
    from . import matrix as matrix_view

    cards = [
        _fragment(e, True, matrix_view.matrix_html(e, n) if e.has_matrix else "")
        for n, e in enumerate(explanations, start=1)
    ]
    most = max(len(e.token_attention) for e in explanations if e.token_attention is not None)
    return shell.render_page(
        title,
        _legend_if_needed(explanations) + "\n".join(cards),
        extra_css=matrix_view.page_css(most),
        script=matrix_view.SCRIPT,
        data_images=True,
    )


def render_comparison_page(
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
    return shell.render_page(title, "\n".join(sections), max_width=width)


def write_html(path: str | Path, html_text: str) -> None:
    """Write a page atomically: a crash leaves the old page or the new one (page.write_html)."""
    shell.write_html(path, html_text)


# --- PNG ------------------------------------------------------------------------------------

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
        levels = _signed_levels(weights) if signed else _intensities(weights)
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
    models) with a colour bar. A model without attention gets its words uncoloured under a
    note; the colour bar is left out when nothing is coloured. A model with a token-by-token
    matrix also gets a heatmap per map under its words (matrix_view.draw_heatmaps)."""
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

    label_width = 7 * _CHAR if any(e.head_weights for e in explanations) else 0.0
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
        rows: list[tuple[str, list[float] | None]] = list(e.rows()) or [("", e.token_scores)]
        for name, weights in rows:
            if len(rows) > 1:
                text(_MARGIN, y + _LINE / 2, name, fontsize=9, color=grey, va="center")
            boxes = _layout_words(e.tokens, weights, cut, words_width, signed=e.has_scores)
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
                    rgb = signed_colour(box.level) if e.has_scores else colour(box.level)
                    ax.add_patch(Rectangle((left, top + 2), width, _LINE - 4, facecolor=_hex(rgb)))
                    text(*middle, box.text, color="white" if _is_dark(rgb) else "black", **mono)
            y += (boxes[-1].line + 1) * _LINE if boxes else _LINE
            y += 0.35 * _LINE if len(rows) > 1 else 0
        if e.has_scores:  # the legend of its colours, wrapped to the figure
            for line in textwrap.wrap(score_legend(e), int(maps_width / (9.5 * 0.55))):
                text(_MARGIN, y + _LINE / 2, line, fontsize=9.5, color=grey, va="center")
                y += 0.8 * _LINE
            y += 0.2 * _LINE
        elif not e.has_attention:
            note = e.note or NO_ATTENTION
            text(_MARGIN, y + _LINE / 2, note, fontsize=9.5, color=grey, va="center")
            y += _LINE
        if e.has_matrix:
            from .matrix import heatmaps_height

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
        from .matrix import draw_heatmaps

        for e, top in heatmaps:
            draw_heatmaps(fig, e, _MARGIN, top, maps_width, height)
    return fig


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


# --- choosing examples ----------------------------------------------------------------------


def sample_for_gallery(
    probabilities_of_true_label: Sequence[float] | np.ndarray,
    predicted_correct: Sequence[bool] | np.ndarray,
    n: int,
    seed: int = 0,
) -> list[int]:
    """Indices of `n` examples spread over four groups, a quarter each: right and confident,
    right and unsure, wrong and confident, wrong and unsure (in that order). "Confident" is
    the more extreme half of its group by the probability of the true label (high when right,
    low when wrong). A short group's share is filled at random from the others' leftovers.
    The same seed gives the same indices."""
    p_true = np.asarray(probabilities_of_true_label, dtype=np.float64)
    right = np.asarray(predicted_correct, dtype=bool)
    if p_true.shape != right.shape or p_true.ndim != 1:
        raise ValueError(
            f"{p_true.shape} probabilities but {right.shape} right/wrong flags; give one each"
        )
    rng = np.random.default_rng(seed)
    n = max(min(n, len(p_true)), 0)

    def halves(members: np.ndarray, confident_high: bool) -> tuple[np.ndarray, np.ndarray]:
        # Sorted from the least to the most confident; a stable sort keeps ties in index order.
        order = members[np.argsort(p_true[members] * (1 if confident_high else -1), kind="stable")]
        split = len(order) // 2
        return order[split:], order[:split]

    right_confident, right_unsure = halves(np.flatnonzero(right), confident_high=True)
    wrong_confident, wrong_unsure = halves(np.flatnonzero(~right), confident_high=False)
    groups = [right_confident, right_unsure, wrong_confident, wrong_unsure]
    shares = [n // 4 + (1 if g < n % 4 else 0) for g in range(4)]

    chosen: list[list[int]] = []
    for group, share in zip(groups, shares, strict=True):
        picked = rng.permutation(group)[:share]
        chosen.append(sorted(int(i) for i in picked))
    taken = {i for group in chosen for i in group}
    short = n - len(taken)
    if short:
        rest = np.array(sorted(set(range(len(p_true))) - taken), dtype=np.int64)
        chosen.append(sorted(int(i) for i in rng.permutation(rest)[:short]))
    return [i for group in chosen for i in group]


__all__ = [
    "MATRIX_NOTE",
    "NO_ATTENTION",
    "Explanation",
    "colour",
    "explain",
    "figure",
    "map_names",
    "render_comparison_page",
    "render_page",
    "render_png",
    "sample_for_gallery",
    "score_legend",
    "signed_colour",
    "to_html_fragment",
    "to_terminal",
    "use_color",
    "write_html",
]
