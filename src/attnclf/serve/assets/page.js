// The live page of `attnclf serve` (attnclf/serve/page.py), served at /page.js after
// colours.js: it calls the API and draws every model's answer, each token and label put on
// the page with textContent, never as HTML. Its settings (the ramps of colours.py, the scale
// rule, the note for a model without attention) are the form's data-settings, as JSON. A model
// with signed attention (word-attention: attention and token scores) gets it as a row before its
// weights, on the saved views' signed ramp.
(function () {
  "use strict";
  const form = document.getElementById("attnclf-form");
  const SETTINGS = JSON.parse(form.dataset.settings);
  const RAMP = SETTINGS.ramp;
  const NEGATIVE_RAMP = SETTINGS.negative_ramp;
  const SIGNED_RAMP = SETTINGS.signed_ramp;
  const EVEN_SHARES = SETTINGS.even_shares;
  const MATRIX_TOKENS = SETTINGS.matrix_tokens;
  const NO_ATTENTION = SETTINGS.no_attention;
  const VIEWS = {
    attention: "attention",
    gradient_x_input: "gradient x input",
    integrated_gradients: "integrated gradients"
  };
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

  // Weights and gradient scores go on RAMP, orange for the predicted label and, where
  // negative, blue against it; with `towardsLabels` a signed level goes on SIGNED_RAMP, red
  // towards the second label and blue towards the first, as the saved views draw token scores.
  function paint(element, level, towardsLabels) {
    const rgb = towardsLabels
      ? attnclfColours.colour(level, SIGNED_RAMP)
      : attnclfColours.colour(Math.abs(level), level < 0 ? NEGATIVE_RAMP : RAMP);
    element.style.backgroundColor = "rgb(" + rgb.join(",") + ")";
    if (attnclfColours.isDark(rgb)) element.style.color = "#fff";
  }

  function words(tokens, weights, signed, towardsLabels) {
    const box = node("div", "attnclf-words");
    const shade = weights ? levels(weights, signed) : null;
    tokens.forEach((token, i) => {
      const span = node("span", "attnclf-token", token);
      if (shade) {
        paint(span, shade[i], towardsLabels);
        span.dataset.weight = String(weights[i]);
        span.title = weights[i].toFixed(6);
      }
      box.append(span, " ");
    });
    return box;
  }

  function row(name, tokens, weights, signed, towardsLabels) {
    const line = node("div", "attnclf-row");
    line.append(node("div", "attnclf-row-name", name),
      words(tokens, weights, signed, towardsLabels));
    return line;
  }

  // What the signed attention row's colours mean for the model's labels (in /models' order).
  function signedLegend(model, explained) {
    const info = (models || []).find((m) => m.name === model.name);
    const labels = info ? info.labels : null;
    const towards = labels && labels.length === 2
      ? "red: evidence for " + labels[1] + ", blue: evidence for " + labels[0]
      : "red: evidence for the predicted " + explained.label + ", blue: against it";
    return "signed attention: each attention weight times its word's vote, its term of the " +
      "logit (" + towards + "); the attention row: how much the pooling took of each word";
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
      explained.labels.map((s) => s.label + " " + s.score.toFixed(3)).join(" \u00b7 ")));
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
    } else {
      const signed = explained.token_scores;  // word-attention's signed attention
      if (signed) card.append(row("signed attention", tokens, signed, true, true));
      if (explained.head_attention) {
        card.append(row("mean", tokens, explained.attention, false));
        explained.head_attention.forEach((weights, h) => {
          card.append(row("head " + (h + 1), tokens, weights, false));
        });
      } else {
        card.append(row("attention", tokens, explained.attention, false));
      }
      if (signed) {
        card.append(node("div", "attnclf-note attnclf-signed-attention",
          signedLegend(model, explained)));
      }
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
    head.append(node("strong", "attnclf-model", model.name), " (" + model.family + ") \u2192 ");
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
    const key = view + "\u0000" + text;
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
