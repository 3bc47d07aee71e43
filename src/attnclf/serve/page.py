"""The page the server shows at `/`: type a text, see every loaded model's label and
probability and its words coloured by attention (a row per head for multi-head models, the
signed attention before the weights for word-attention, the token-by-token matrix where a model
has one), or, with the toggle, by gradient x input or integrated gradients, so a reader sees
where attention and the gradients disagree.

It is built in the shell every attnclf page shares (explain/shell.py) and stays
self-contained: no CDN, nothing from another origin. Unlike a saved page it needs a script and
must call the API, so its Content-Security-Policy is the shell's plus exactly that:
`script-src 'self'` (the script is served from /page.js by the same app, never inline) and
`connect-src 'self'`. The script (assets/page.js) puts every token and label on the page with
`textContent`, never as HTML, so a review holding markup shows as text. Its colours are the
ramps of explain/colours.py, handed to it as data with the saved views' per-row scale; its
rules are assets/page.css.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from ..explain import shell
from ..explain.colours import (
    EVEN_SHARES,
    NEGATIVE_RAMP,
    RAMP,
    SIGNED_RAMP,
    colours_script,
    ramp_data,
)
from ..explain.explanation import NO_ATTENTION
from .models import ServedModel

# The shell's policy, widened for the live page only: its own script and calls to its own API.
PAGE_POLICY = (
    f"{shell.CONTENT_SECURITY_POLICY}; script-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)
# As a header the policy can also forbid framing, which a <meta> policy cannot.
PAGE_POLICY_HEADER = f"{PAGE_POLICY}; frame-ancestors 'none'"
# For JSON and every other response: nothing may load in their context.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
SCRIPT_PATH = "/page.js"
SCRIPT_TYPE = "text/javascript; charset=utf-8"
MATRIX_TOKENS = 40  # a token-by-token matrix shows at most this many tokens a side

EXAMPLE = "The plot was thin, but the acting was superb and the ending moved me."


def _asset(name: str) -> str:
    return (files("attnclf.serve") / "assets" / name).read_text(encoding="utf-8")


@cache
def page_script() -> str:
    """The script served at SCRIPT_PATH: the shared ramp evaluation (explain/assets/colours.js),
    then the page's own (assets/page.js), which reads its settings from the page."""
    return colours_script() + _asset("page.js")


def page_settings() -> dict[str, object]:
    """What the page's script needs to know, handed over as data: the ramps and the scale rule
    of the saved views (explain/colours.py; the signed ramp for word-attention's signed
    attention) and their note for a model without attention."""
    return {
        "ramp": ramp_data(RAMP),
        "negative_ramp": ramp_data(NEGATIVE_RAMP),
        "signed_ramp": ramp_data(SIGNED_RAMP),
        "even_shares": EVEN_SHARES,
        "matrix_tokens": MATRIX_TOKENS,
        "no_attention": NO_ATTENTION,
    }


def live_page(models: Sequence[ServedModel], max_text_chars: int) -> str:
    """The page at `/`: the shell with the form, the loaded models named, and the script."""
    settings = html.escape(json.dumps(page_settings()))
    listed = ", ".join(
        f"{html.escape(m.name)} ({html.escape(m.family)}"
        f"{'' if m.has_attention else ', no attention'})"
        for m in models
    )
    body = f"""\
<p class="attnclf-models">Models: {listed}. The API: <code>POST /predict</code>,
<code>POST /explain</code>, <code>GET /models</code>; the OpenAPI document at
<code>/openapi.json</code>.</p>
<form id="attnclf-form" data-settings="{settings}">
<textarea id="attnclf-text" name="text" rows="5" maxlength="{max_text_chars}"
 aria-label="text to classify">{html.escape(EXAMPLE)}</textarea>
<div class="controls">
<button id="attnclf-submit" type="submit">Classify</button>
<fieldset id="attnclf-view"><legend>colour words by</legend>
<label><input type="radio" name="view" value="attention" checked> attention</label>
<label><input type="radio" name="view" value="gradient_x_input"> gradient x input</label>
<label><input type="radio" name="view" value="integrated_gradients"> integrated
gradients</label>
</fieldset>
</div>
</form>
<p id="attnclf-status" role="status" data-state="loading">loading...</p>
<div id="attnclf-results"></div>
<p class="attnclf-note">Attention shows where the pooling looked, not why the model decided;
compare it with the gradients.</p>
<noscript><p>This page needs JavaScript to call the API.</p></noscript>
<script src="{SCRIPT_PATH}"></script>"""
    return shell.page_shell(
        "attnclf serve", body, max_width="1100px", extra_css=_asset("page.css"), policy=PAGE_POLICY
    )
