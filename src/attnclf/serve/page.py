"""The page the server shows at `/`: type a text, see every loaded model's label and
probability and its words coloured by attention (a row per head for multi-head models, the
token-by-token matrix where a model has one), or, with the toggle, by gradient x input or
integrated gradients, so a reader sees where attention and the gradients disagree.

It is built in the shell every attnclf page shares (page.py) and stays self-contained: no CDN,
nothing from another origin. Unlike a saved page it needs a script and must call the API, so
its Content-Security-Policy is the shell's plus exactly that: `script-src 'self'` (the script
is served from /page.js by the same app, never inline) and `connect-src 'self'`. The script
puts every token and label on the page with `textContent`, never as HTML, so a review holding
markup shows as text. The colours come from explain.RAMP and the same per-row scale as the
saved views.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from ..explain import shell
from ..explain.explanation import EVEN_SHARES, NO_ATTENTION, RAMP
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
# Blue for scores against the predicted label (gradients are signed); orange stays "for".
NEGATIVE_RAMP = [(0.0, (255, 255, 255)), (0.5, (146, 197, 222)), (1.0, (33, 102, 172))]
MATRIX_TOKENS = 40  # a token-by-token matrix shows at most this many tokens a side

EXAMPLE = "The plot was thin, but the acting was superb and the ending moved me."

CSS = """\
form textarea { width: 100%; box-sizing: border-box; font: 15px/1.5 inherit; padding: 8px;
  border: 1px solid #d0d7de; border-radius: 6px; }
.controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 8px 0; }
.controls button { font-size: 15px; padding: 5px 16px; border-radius: 6px;
  border: 1px solid #1f883d; background: #1f883d; color: #fff; cursor: pointer; }
.controls fieldset { border: 0; padding: 0; margin: 0; font-size: 14px; }
.controls legend { float: left; margin-right: 8px; color: #57606a; }
#attnclf-status { font-size: 13px; color: #57606a; min-height: 1.2em; }
#attnclf-status[data-state=error] { color: #cf222e; }
.attnclf-card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 10px 14px; margin: 0 0 14px 0; }
.attnclf-head { font-size: 14px; margin-bottom: 4px; }
.attnclf-probs { font-size: 12px; color: #57606a; margin-bottom: 8px; }
.attnclf-row { display: flex; gap: 8px; margin-bottom: 4px; }
.attnclf-row-name { flex: 0 0 4.5em; color: #57606a; font-size: 12px; padding-top: 4px; }
.attnclf-words { font-size: 15px; line-height: 1.95; overflow-wrap: anywhere; }
.attnclf-token { padding: 1px 2px; border-radius: 3px; }
.attnclf-note { font-size: 12px; color: #57606a; margin-top: 6px; }
.attnclf-matrix { border-collapse: collapse; font-size: 10px; margin: 6px 0; }
.attnclf-matrix td { width: 14px; height: 14px; padding: 0; border: 1px solid #fff; }
.attnclf-matrix th { font-weight: normal; color: #57606a; padding: 0 3px; white-space: nowrap; }
.attnclf-matrix thead th { writing-mode: vertical-rl; transform: rotate(180deg);
  text-align: left; }
.attnclf-models { font-size: 13px; color: #57606a; }
"""

SCRIPT = """\
"use strict";
(function () {
  const RAMP = %(ramp)s;
  const NEGATIVE_RAMP = %(negative_ramp)s;
  const EVEN_SHARES = %(even_shares)s;
  const MATRIX_TOKENS = %(matrix_tokens)s;
  const NO_ATTENTION = %(no_attention)s;
  const VIEWS = {
    attention: "attention",
    gradient_x_input: "gradient x input",
    integrated_gradients: "integrated gradients"
  };
  const form = document.getElementById("attnclf-form");
  const textBox = document.getElementById("attnclf-text");
  const statusLine = document.getElementById("attnclf-status");
  const results = document.getElementById("attnclf-results");
  const cache = new Map();
  let models = null;
  let shown = null;

  function say(message, state) {
    statusLine.textContent = message;
    statusLine.dataset.state = state;
  }

  function colour(t, ramp) {
    t = Math.min(Math.max(t, 0), 1);
    for (let i = 1; i < ramp.length; i++) {
      const [t0, c0] = ramp[i - 1];
      const [t1, c1] = ramp[i];
      if (t <= t1) {
        const f = (t - t0) / (t1 - t0);
        return c0.map((a, k) => Math.round(a + (c1[k] - a) * f));
      }
    }
    return ramp[ramp.length - 1][1];
  }

  function isDark(rgb) {
    const [r, g, b] = rgb.map((c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.2;
  }

  // A row's scale is its largest weight, or EVEN_SHARES / T when that is larger (as the saved
  // views do); signed scores are scaled by the largest magnitude.
  function levels(weights, signed) {
    if (!weights.length) return [];
    const top = weights.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
    const scale = signed ? (top || 1) : Math.max(top, Math.min(1, EVEN_SHARES / weights.length));
    return weights.map((w) => w / scale);
  }

  function node(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function paint(element, level) {
    const rgb = colour(Math.abs(level), level < 0 ? NEGATIVE_RAMP : RAMP);
    element.style.backgroundColor = "rgb(" + rgb.join(",") + ")";
    if (isDark(rgb)) element.style.color = "#fff";
  }

  function words(tokens, weights, signed) {
    const box = node("div", "attnclf-words");
    const shade = weights ? levels(weights, signed) : null;
    tokens.forEach((token, i) => {
      const span = node("span", "attnclf-token", token);
      if (shade) {
        paint(span, shade[i]);
        span.dataset.weight = String(weights[i]);
        span.title = weights[i].toFixed(6);
      }
      box.append(span, " ");
    });
    return box;
  }

  function row(name, tokens, weights, signed) {
    const line = node("div", "attnclf-row");
    line.append(node("div", "attnclf-row-name", name), words(tokens, weights, signed));
    return line;
  }

  function matrix(rowTokens, columnTokens, values, caption) {
    const rows = rowTokens.slice(0, MATRIX_TOKENS);
    const columns = columnTokens.slice(0, MATRIX_TOKENS);
    const table = node("table", "attnclf-matrix");
    table.append(node("caption", "attnclf-note", caption));
    const head = node("thead");
    const headRow = node("tr");
    headRow.append(node("th"));
    columns.forEach((token) => headRow.append(node("th", "", token)));
    head.append(headRow);
    const body = node("tbody");
    rows.forEach((token, i) => {
      const line = node("tr");
      line.append(node("th", "", token));
      const shade = levels(values[i].slice(0, columns.length), false);
      columns.forEach((_, j) => {
        const cell = node("td");
        paint(cell, shade[j]);
        cell.title = token + " -> " + columns[j] + ": " + values[i][j].toFixed(4);
        line.append(cell);
      });
      body.append(line);
    });
    table.append(head, body);
    return table;
  }

  function header(card, name, family, label, score) {
    const head = node("div", "attnclf-head");
    head.append(node("strong", "attnclf-model", name), " (" + family + ") predicted ");
    head.append(node("strong", "attnclf-label", label));
    head.append(node("span", "attnclf-score", " p = " + score.toFixed(3)));
    card.append(head);
  }

  function classifierCard(model, explained, view) {
    const card = node("div", "attnclf-card attnclf-classifier");
    card.dataset.model = model.name;
    header(card, model.name, model.family, explained.label, explained.score);
    card.append(node("div", "attnclf-probs", "probabilities: " +
      explained.labels.map((s) => s.label + " " + s.score.toFixed(3)).join(" \\u00b7 ")));
    const tokens = explained.tokens;
    if (view !== "attention") {
      const scores = explained[view];
      if (scores) {
        card.append(row(VIEWS[view], tokens, scores, true));
        card.append(node("div", "attnclf-note", "orange: for the predicted label; " +
          "blue: against it; scaled by the largest magnitude"));
      } else {
        card.append(words(tokens, null, false));
        card.append(node("div", "attnclf-note attnclf-unavailable",
          (model.unavailable && model.unavailable[view]) || (VIEWS[view] + " is unavailable")));
      }
    } else if (!explained.attention && explained.token_attention) {
      card.append(words(tokens, null, false));
      card.append(node("div", "attnclf-note", "no pooling attention; token by token below"));
    } else if (!explained.attention) {
      card.append(words(tokens, null, false));
      card.append(node("div", "attnclf-note attnclf-no-attention",
        "no attention: " + NO_ATTENTION));
    } else if (explained.head_attention) {
      card.append(row("mean", tokens, explained.attention, false));
      explained.head_attention.forEach((weights, h) => {
        card.append(row("head " + (h + 1), tokens, weights, false));
      });
    } else {
      card.append(row("attention", tokens, explained.attention, false));
    }
    if (view === "attention" && explained.token_attention) {
      explained.token_attention.forEach((values, h) => {
        const more = tokens.length > MATRIX_TOKENS
          ? ", the first " + MATRIX_TOKENS + " tokens" : "";
        card.append(matrix(tokens, tokens, values,
          "token by token, head " + (h + 1) + more + ": row = the token attending"));
      });
    }
    if (explained.truncated) {
      card.append(node("div", "attnclf-note", "truncated to " + tokens.length + " tokens"));
    }
    return card;
  }

  function translatorCard(model, translation) {
    const card = node("div", "attnclf-card attnclf-translator");
    card.dataset.model = model.name;
    const head = node("div", "attnclf-head");
    head.append(node("strong", "attnclf-model", model.name), " (" + model.family + ") \\u2192 ");
    head.append(node("strong", "attnclf-output", translation.output));
    card.append(head);
    if (translation.alignment) {
      const rows = translation.output_tokens.concat(translation.ended ? ["</s>"] : []);
      card.append(matrix(rows, translation.source_tokens, translation.alignment,
        "alignment: row = output token, column = source token"));
    } else {
      card.append(node("div", "attnclf-note attnclf-no-attention",
        "no attention: this model gives its decoder one fixed-length vector"));
    }
    return card;
  }

  async function call(method, path, body) {
    const options = { method: method, headers: { "Content-Type": "application/json" } };
    if (body !== undefined) options.body = JSON.stringify(body);
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      throw new Error((data && data.error) || ("the server answered " + response.status));
    }
    return data;
  }

  async function compute(text, view) {
    const key = view + "\\u0000" + text;
    if (cache.has(key)) return cache.get(key);
    if (models === null) models = await call("GET", "/models");
    const classifiers = models.filter((m) => m.kind === "classifier");
    const translators = models.filter((m) => m.kind === "seq2seq");
    const methods = view === "attention" ? ["attention"] : ["attention", view];
    const calls = [];
    if (classifiers.length) {
      calls.push(call("POST", "/explain", { texts: [text], methods: methods }));
    }
    translators.forEach((m) => {
      calls.push(call("POST", "/translate", { texts: [text], model: m.name }));
    });
    const answers = await Promise.all(calls);
    const explained = classifiers.length ? answers.shift().models : [];
    const found = { explained: explained, translators: translators, translations: answers };
    if (cache.size > 50) cache.clear();
    cache.set(key, found);
    return found;
  }

  function render(found, view) {
    const cards = [];
    found.explained.forEach((model) => {
      cards.push(classifierCard(model, model.explanations[0], view));
    });
    found.translators.forEach((model, i) => {
      cards.push(translatorCard(model, found.translations[i].translations[0]));
    });
    results.replaceChildren(...cards);
  }

  function currentView() {
    const checked = form.querySelector("input[name=view]:checked");
    return checked ? checked.value : "attention";
  }

  async function update() {
    const text = textBox.value;
    if (!text.trim()) { say("type a text first", "error"); return; }
    const view = currentView();
    say(view === "attention" ? "reading..." : "reading (" + VIEWS[view] + ")...", "busy");
    try {
      const found = await compute(text, view);
      render(found, view);
      shown = text;
      say("coloured by " + VIEWS[view], "done");
    } catch (error) {
      say("error: " + error.message, "error");
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); update(); });
  form.querySelectorAll("input[name=view]").forEach((radio) => {
    radio.addEventListener("change", () => { if (shown !== null) update(); });
  });
  say("ready", "ready");
})();
"""


def page_script() -> str:
    """The page's script, with the colour ramps and scale rule of explain.py."""
    return SCRIPT % {
        "ramp": json.dumps([[t, list(rgb)] for t, rgb in RAMP]),
        "negative_ramp": json.dumps([[t, list(rgb)] for t, rgb in NEGATIVE_RAMP]),
        "even_shares": json.dumps(EVEN_SHARES),
        "matrix_tokens": MATRIX_TOKENS,
        "no_attention": json.dumps(NO_ATTENTION),
    }


def render_served_page(models: Sequence[ServedModel], max_text_chars: int) -> str:
    """The page at `/`: the shell with the form, the loaded models named, and the script."""
    listed = ", ".join(
        f"{html.escape(m.name)} ({html.escape(m.family)}"
        f"{'' if m.has_attention else ', no attention'})"
        for m in models
    )
    body = f"""\
<p class="attnclf-models">Models: {listed}. The API: <code>POST /predict</code>,
<code>POST /explain</code>, <code>GET /models</code>; the OpenAPI document at
<code>/openapi.json</code>.</p>
<form id="attnclf-form">
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
    return shell.render_page(
        "attnclf serve", body, max_width="1100px", extra_css=CSS, policy=PAGE_POLICY
    )
