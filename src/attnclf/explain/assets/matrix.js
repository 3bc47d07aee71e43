// The row view of the explanation page's token-by-token matrix (attnclf/explain/matrix.py):
// hovering a word, or a row of a map, recolours the card's first row of words by that token's
// row; a click pins it; a second click, Esc or "overall weights" brings the per-token weights
// back. It follows colours.js on the page, one inline script allowed by its hash. Tokens are
// written with textContent only.
(() => {
  "use strict";
  const hex = (rgb) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
  const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  // the levels keep 8 bits of the row's scale: two significant digits are what they hold
  const weight = (w) => "\u2248" + Number(w.toPrecision(2));
  const quote = (token) => "\u201c" + token + "\u201d";
  const views = [];

  function setUp(box) {
    const card = box.closest(".attnclf-explanation");
    const main = card && card.querySelector(".attnclf-main");
    if (!main) return;
    const words = Array.from(main.children).filter(
      (s) => s.tagName === "SPAN" && !s.classList.contains("attnclf-cut"));
    const count = Number(box.dataset.tokens);
    if (words.length !== count) return;
    const cell = Number(box.dataset.cell);
    const ramp = JSON.parse(box.dataset.ramp);  // colours.RAMP, as data
    const saved = words.map((s) => [s.getAttribute("style"), s.getAttribute("title")]);
    const name = main.previousElementSibling;  // the row's name where a card has several rows
    const label = name && name.classList.contains("attnclf-row-name") ? name : null;
    const labelText = label ? label.textContent : null;
    const radios = Array.from(box.querySelectorAll(":scope > input[type=radio]"));
    const images = Array.from(box.querySelectorAll(".attnclf-map"));
    const frame = box.querySelector(".attnclf-maps");
    const mark = box.querySelector(".attnclf-rowmark");
    const line = box.querySelector(".attnclf-rowview");
    const text = line.querySelector(".attnclf-rowview-text");
    const back = line.querySelector("button");
    const readout = line.querySelector(".attnclf-readout");
    const decoded = new Map();
    let pinned = null;  // a row shown until clicked again, Esc or "overall weights"
    let shown = null;

    function map(m) {
      if (!decoded.has(m)) {
        const scales = new DataView(bytes(images[m].dataset.scales).buffer);
        decoded.set(m, {
          levels: bytes(images[m].dataset.levels),
          scale: (t) => scales.getFloat32(4 * t, true),
          name: images[m].dataset.name,
        });
      }
      return decoded.get(m);
    }
    const selected = () => Math.max(0, radios.findIndex((r) => r.checked));

    function overall() {
      words.forEach((s, i) => {
        if (saved[i][0] === null) s.removeAttribute("style");
        else s.setAttribute("style", saved[i][0]);
        if (saved[i][1] === null) s.removeAttribute("title");
        else s.setAttribute("title", saved[i][1]);
      });
      if (label) label.textContent = labelText;
      text.textContent = "words: the overall per-token weights";
      back.disabled = true;
      mark.hidden = true;
      shown = null;
    }

    function row(t) {
      const { levels, scale, name } = map(selected());
      words.forEach((s, i) => {
        const level = levels[t * count + i] / 255;
        const rgb = attnclfColours.colour(level, ramp);
        s.style.background = hex(rgb);
        s.style.color = attnclfColours.isDark(rgb) ? "#fff" : "";
        s.style.outline = i === t ? "2px solid #1f2328" : "";
        s.title = weight(level * scale(t));
      });
      if (label) label.textContent = "row " + (t + 1);
      text.textContent = "words: whom token " + (t + 1) + " " + quote(words[t].textContent) +
        " attends to (" + name + ")" + (pinned === null ? "; click to pin" : "; pinned");
      back.disabled = false;
      mark.hidden = false;
      mark.style.top = t * cell + "px";
      mark.style.height = cell + "px";
      shown = t;
    }

    function hover(t) { if (pinned === null) row(t); }
    function leave() { if (pinned === null) overall(); else row(pinned); }
    function pin(t) {
      pinned = pinned === t ? null : t;
      row(t);
    }
    function release() { pinned = null; overall(); readout.textContent = ""; }

    const wordAt = (event) => words.indexOf(event.target.closest("span"));
    main.addEventListener("mouseover", (event) => {
      const i = wordAt(event);
      if (i >= 0) hover(i);
    });
    main.addEventListener("mouseleave", leave);
    main.addEventListener("click", (event) => {
      const i = wordAt(event);
      if (i >= 0) pin(i);
    });

    function cellAt(event) {
      const box = frame.getBoundingClientRect();
      const at = (offset, size) =>
        Math.min(count - 1, Math.max(0, Math.floor((offset / size) * count)));
      return [at(event.clientY - box.top, box.height), at(event.clientX - box.left, box.width)];
    }
    frame.addEventListener("mousemove", (event) => {
      const [t, s] = cellAt(event);
      hover(t);
      const { levels, scale } = map(selected());
      readout.textContent = "row " + (t + 1) + " " + quote(words[t].textContent) + " \u2192 " +
        (s + 1) + " " + quote(words[s].textContent) + ": " +
        weight((levels[t * count + s] / 255) * scale(t));
    });
    frame.addEventListener("mouseleave", () => { readout.textContent = ""; leave(); });
    frame.addEventListener("click", (event) => pin(cellAt(event)[0]));
    back.addEventListener("click", release);
    radios.forEach((r) => r.addEventListener("change", () => {
      if (shown !== null) row(shown);
    }));
    line.hidden = false;
    overall();
    views.push(release);
  }

  document.querySelectorAll(".attnclf-matrix").forEach(setUp);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") views.forEach((release) => release());
  });
})();
