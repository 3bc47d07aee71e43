"""Alignments as heatmaps: source tokens across, output tokens down, each cell coloured by
alpha_ij, the weight output token i put on source token j (each row sums to 1). Figure 3 of
Bahdanau et al. 2014 draws the same matrix. As a PNG (matplotlib, Agg) and as one
self-contained HTML page in the shared shell of page.py (inline CSS, a Content-Security-Policy
that forbids scripts and fetching, every token escaped).

Colours are absolute, not scaled per row: white is 0, the darkest colour 1.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from ..errors import AttnclfError
from ..explain import shell
from ..explain.colours import RAMP, colour
from ..runtime.files import atomic_write
from .translator import Translation

SPACE = "\u2423"  # "␣": a visible space in character-level labels
_CELL = 0.3  # inches per heatmap cell in the PNG


def shown(token: str) -> str:
    return token.replace(" ", SPACE) if token.strip() == "" else token


def _check(translations: Sequence[Translation]) -> None:
    if not translations:
        raise AttnclfError("no translation to draw")
    if any(t.alignment is None for t in translations):
        raise AttnclfError(
            "this model has no attention (trained with --attention none), so there is no "
            "alignment to draw; leave out --png and --html"
        )


# --- PNG ------------------------------------------------------------------------------------


def render_png(translations: Sequence[Translation], path: str | Path, dpi: int = 110) -> None:
    """One heatmap per translation, stacked, with a colour bar; written atomically."""
    # A Figure on the Agg canvas, not pyplot: no global backend switch, no figure left open.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    _check(translations)
    cmap = LinearSegmentedColormap.from_list(
        "attnclf", [(t, [c / 255 for c in rgb]) for t, rgb in RAMP]
    )
    columns = max(len(t.source_tokens) for t in translations)
    rotate = any(len(token) > 2 for t in translations for token in t.source_tokens)
    label_room = 1.2 if rotate else 0.5  # inches under each heatmap for its source tokens
    heights = [len(t.rows) * _CELL + label_room + 0.6 for t in translations]
    fig = Figure(figsize=(max(columns * _CELL + 2.6, 5.0), sum(heights)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(translations), 1, squeeze=False, height_ratios=heights)[:, 0]
    image = None
    for ax, t in zip(axes, translations, strict=True):
        image = ax.imshow(t.alignment, cmap=cmap, vmin=0.0, vmax=1.0, aspect="equal")
        ax.set_anchor("W")  # heatmaps of different widths line up on the left
        ax.set_xticks(range(len(t.source_tokens)))
        ax.set_yticks(range(len(t.rows)))
        xlabels = ax.set_xticklabels([shown(s) for s in t.source_tokens], family="DejaVu Sans Mono")
        ylabels = ax.set_yticklabels([shown(s) for s in t.rows], family="DejaVu Sans Mono")
        for label in xlabels:
            label.set_parse_math(False)  # a "$" in a token is text, not mathtext
            if rotate:
                label.set(rotation=60, ha="right", rotation_mode="anchor")
        for label in ylabels:
            label.set_parse_math(False)
        ax.tick_params(length=0, labelsize=9)
        ax.set_xlabel("source", fontsize=9, color="#57606a")
        ax.set_ylabel("output", fontsize=9, color="#57606a")
        title = ax.set_title(f"{_clip(t.source)}  \u2192  {_clip(t.output)}", fontsize=10)
        title.set_parse_math(False)
        ax.set_xticks([x - 0.5 for x in range(1, len(t.source_tokens))], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(t.rows))], minor=True)
        ax.grid(which="minor", color="#eaeef2", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
    assert image is not None  # _check refused an empty list
    bar = fig.colorbar(
        image, ax=list(axes), shrink=min(1.0, 2.5 / sum(heights)), pad=0.02, panchor=False
    )
    bar.set_label("alpha (each row sums to 1)", fontsize=9)
    fig.set_layout_engine("constrained")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


# --- HTML -----------------------------------------------------------------------------------

# The heatmap's own rules; the page shell (page.py) brings the body and heading styles.
_CSS = """\
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 10px 14px; margin: 0 0 14px 0; overflow-x: auto; }
.pair { font-size: 14px; margin: 0 0 8px 0; }
.pair b { font-weight: 600; }
.note { font-size: 12px; color: #57606a; margin: 0 0 8px 0; }
table { border-collapse: collapse; font-family: 'DejaVu Sans Mono', ui-monospace, monospace;
  font-size: 12px; }
th { font-weight: normal; color: #1f2328; padding: 2px 4px; }
th.row { text-align: right; }
th.col { vertical-align: bottom; min-width: 22px; }
th.col.vertical span { writing-mode: vertical-rl; transform: rotate(180deg); }
td { width: 26px; height: 22px; text-align: center; border: 1px solid #eaeef2;
  font-size: 10px; }
td.dark { color: #fff; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 12px; color: #57606a;
  margin: 0 0 14px 0; }
.ramp { display: inline-block; width: 180px; height: 12px; border: 1px solid #d0d7de;
  background: linear-gradient(to right, %(stops)s); }
"""
_LEGEND = """<div class="legend"><span>0</span><span class="ramp"></span><span>1</span>
<span>alpha: the weight each output token (row) puts on each source token (column); each
row sums to 1. Numbers are alpha in percent, shown from 5; hover a cell for its exact value.
</span></div>"""


def _table(t: Translation) -> str:
    vertical = " vertical" if any(len(s) > 2 for s in t.source_tokens) else ""
    head = "".join(
        f'<th class="col{vertical}"><span>{html.escape(shown(s))}</span></th>'
        for s in t.source_tokens
    )
    rows = []
    for label, weights in zip(t.rows, t.alignment or [], strict=True):
        cells = []
        for source, weight in zip(t.source_tokens, weights, strict=True):
            rgb = colour(weight)
            dark = ' class="dark"' if weight > 0.6 else ""
            tip = f"{shown(label)} \u2190 {shown(source)}: {weight:.4f}"
            number = f"{round(100 * weight)}" if weight >= 0.05 else ""
            cells.append(
                f'<td{dark} style="background:#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}" '
                f'title="{html.escape(tip)}">{number}</td>'
            )
        rows.append(f'<tr><th class="row">{html.escape(shown(label))}</th>{"".join(cells)}</tr>')
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def render_html(translations: Sequence[Translation], title: str) -> str:
    """One self-contained page with a heatmap table per translation."""
    _check(translations)
    sections = []
    for t in translations:
        note = "" if t.ended else '<p class="note">cut at the length limit before &lt;/s&gt;</p>'
        sections.append(
            f'<section><p class="pair"><b>source</b> {html.escape(t.source)} &rarr; '
            f"<b>output</b> {html.escape(t.output)}</p>{note}{_table(t)}</section>"
        )
    stops = ", ".join(f"#{r:02x}{g:02x}{b:02x} {t * 100:.0f}%" for t, (r, g, b) in RAMP)
    body = _LEGEND + "\n" + "\n".join(sections)
    return shell.page_shell(title, body, max_width="1200px", extra_css=_CSS % {"stops": stops})


def write_html(path: str | Path, page: str) -> None:
    """Write a page atomically (see page.write_html)."""
    shell.write_html(path, page)
