"""The token-by-token matrix views (explain/matrix.py): the rows' colour levels, the inlined PNG,
the axes, which per-token weights the tutorial families and the transformer give, the page's
script policy, and the row view in headless Chromium through Playwright (no browser is
downloaded; the test is skipped without one)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from attnclf.config import TextConfig
from attnclf.explain import shell
from attnclf.explain.colours import colour, intensities
from attnclf.explain.explanation import Explanation, explain
from attnclf.explain.html import explanations_page
from attnclf.explain.matrix import (
    MAX_SIDE,
    cell_px,
    matrix_html,
    page_css,
    png_bytes,
    received,
    row_levels,
    ticks,
    weights_are_received,
)
from attnclf.explain.shell import write_html
from attnclf.inference.classifier import TextClassifier
from attnclf.models import get_family
from attnclf.text.tokens import Vocab

WORDS = ["good", "bad", "film", "the", "plot", "was"]
# Eight tokens: a whole batch width, which the tutorial families need today (a batch padded
# past its longest text does not fit their fixed positions).
TEXT = "the plot was good the film was bad"


def an_explanation(tokens: list[str], maps: np.ndarray, weights: list[float] | None) -> Explanation:
    return Explanation(
        text=" ".join(tokens),
        tokens=tokens,
        weights=weights,
        label="pos",
        probability=0.7,
        probabilities={"neg": 0.3, "pos": 0.7},
        label_names=["neg", "pos"],
        truncated=False,
        model_name="made up",
        token_attention=maps.astype(np.float32),
        token_attention_names=["head 1", "head 2"],
    )


def peaked(n: int, seed: int = 0) -> np.ndarray:
    """Two maps of softmax rows, sharp enough that the row scale is the row's maximum."""
    logits = np.random.default_rng(seed).normal(scale=3.0, size=(2, n, n))
    rows = np.exp(logits)
    return rows / rows.sum(-1, keepdims=True)


def test_row_levels_are_the_words_intensities_row_by_row():
    for n in (3, 40):
        maps = peaked(n)
        levels, scales = row_levels(maps)
        assert levels.shape == maps.shape and scales.shape == (2, n)
        for m in range(2):
            for t in range(n):
                assert levels[m, t] == pytest.approx(intensities(maps[m, t].tolist()))
                assert levels[m, t] * scales[m, t] == pytest.approx(maps[m, t])
    even = np.full((1, 100, 100), 0.01)
    assert row_levels(even)[0] == pytest.approx(1 / 3)  # even attention stays pale


def test_the_inlined_png_has_a_pixel_per_cell_in_the_ramps_colours():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    data = png_bytes(levels[:, :12])
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (16, 12)
    shown = np.rint(pixels[..., :3] * 255).astype(int)
    expected = np.array([[colour(v / 255) for v in row] for row in levels[:, :12]])
    assert (shown == expected).all()


def test_a_200_token_map_fits_the_page_with_ticks_and_a_short_one_gets_labels():
    assert cell_px(200) == 3 and cell_px(7) == 18 and cell_px(1000) == MAX_SIDE / 1000
    assert (
        ticks(200)[:4] == [1, 20, 40, 60] and ticks(200)[-1] == 200 and ticks(7) == [*range(1, 8)]
    )
    tokens = [f"w{i}" for i in range(200)]
    long = matrix_html(an_explanation(tokens, peaked(200), None), 1)
    assert 'width="600" height="600"' in long and long.count('class="attnclf-tick"') == 22
    short = matrix_html(an_explanation(["a", "b", "c"], peaked(3), None), 2)
    assert short.count('class="attnclf-tick"') == 0 and short.count(">b</span>") == 2
    assert 'name="attnclf-map-2"' in short and 'id="attnclf-map-2-2"' in short


def test_the_radio_buttons_switch_maps_by_css_alone():
    css = page_css(3)
    for m in (1, 2, 3):
        assert (
            f"input:nth-of-type({m}):checked ~ .attnclf-frame .attnclf-map:nth-of-type({m})" in css
        )
    assert "nth-of-type(4)" not in css


def tiny_classifier(name: str) -> TextClassifier:
    torch.manual_seed(0)
    family, vocab = get_family(name), Vocab(["<pad>", "<unk>", *WORDS])
    values = {**family.tiny, "vocab_size": len(vocab), "num_outputs": 1, "pad_id": vocab.pad_id}
    if "max_len" in values:
        values["max_len"] = 12
    model = family.build(family.make_config(**values), vocab)
    return TextClassifier(name, model, vocab, TextConfig(max_len=12), ["neg", "pos"], device="cpu")


@pytest.mark.parametrize(
    ("family", "maps", "names", "receives"),
    [
        ("tutorial-self-attention", 1, ["head 1"], True),
        ("tutorial-multihead", 2, ["head 1", "head 2"], True),
        ("transformer", 4, ["layer 1, head 1", "layer 1, head 2", "layer 2, head 1"], False),
    ],
)
def test_each_family_with_a_matrix_says_what_its_weights_are(family, maps, names, receives):
    explanation = explain(tiny_classifier(family), [TEXT])[0]
    n = len(explanation.tokens)
    assert explanation.token_attention.shape == (maps, n, n)
    assert explanation.token_attention_names[: len(names)] == names
    assert weights_are_received(explanation) is receives
    if receives:
        assert explanation.weights == pytest.approx(received(explanation.token_attention), abs=1e-5)
    card = explanations_page([explanation], "t")
    said = "how much attention each token receives" in card
    assert said is receives and ("pooling attention" in card) is not receives


# --- the page's one script ------------------------------------------------------------------


def test_a_page_allows_exactly_its_own_script_by_hash():
    page = shell.page_shell("t", "<p>x</p>", script="console.log(1);", data_images=True)
    policy = shell.script_policy(
        "console.log(1);", f"{shell.CONTENT_SECURITY_POLICY}; img-src data:"
    )
    assert f'content="{policy}"' in page and "'sha256-" in policy and "'unsafe-inline'" in page
    assert "script-src 'unsafe-inline'" not in policy
    assert page.endswith("<p>x</p>\n<script>console.log(1);</script>\n</body>\n</html>\n")
    for bad in ("a = '</SCRIPT>'", "<!-- x"):
        with pytest.raises(ValueError, match="end its element"):
            shell.page_shell("t", "", script=bad)
    with pytest.raises(ValueError, match="already has a script-src"):
        shell.script_policy("x", "default-src 'none'; script-src 'self'")
    assert "<script" not in shell.page_shell("t", "")  # none unless asked for


# --- the row view in a browser --------------------------------------------------------------

CHROMIUM = os.environ.get("ATTNCLF_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; install Debian's chromium or set ATTNCLF_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1200, "height": 1400})
        finally:
            browser.close()


def test_hovering_a_word_or_a_row_shows_whom_that_token_attends_to(browser_page, tmp_path):
    tokens = ["<script>alert(1)</script>", *[f"w{i}" for i in range(1, 80)]]
    n = len(tokens)
    maps = np.full((2, n, n), 0.2 / n)
    maps[0, np.arange(n), (np.arange(n) + 1) % n] += 0.8  # map 1: each token, the next one
    maps[1, :, 0] += 0.8  # map 2: every token, the first one
    explanation = an_explanation(tokens, maps, received(maps).tolist())
    path = tmp_path / "matrix.html"
    write_html(path, explanations_page([explanation], "row view"))
    page, errors = browser_page, []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))
    page.goto(path.as_uri())
    status = page.locator(".attnclf-rowview-text")
    words = page.locator(".attnclf-main > span")

    def backgrounds() -> list[str]:
        return words.evaluate_all("spans => spans.map((s) => getComputedStyle(s).backgroundColor)")

    darkest = "rgb({}, {}, {})".format(*colour(1.0))
    overall = [words.nth(i).get_attribute("style") for i in range(n)]
    assert status.inner_text() == "words: the overall per-token weights"  # the script ran

    words.nth(10).hover()
    assert (
        status.inner_text()
        == "words: whom token 11 \u201cw10\u201d attends to (head 1); click to pin"
    )
    shown = backgrounds()
    assert shown[11] == darkest and shown.count(darkest) == 1 and darkest not in overall[11]
    assert words.nth(11).get_attribute("title").startswith("\u2248")

    page.locator("label", has_text="head 2").click()  # leaving the words shows them overall
    assert [words.nth(i).get_attribute("style") for i in range(n)] == overall
    frame = page.locator(".attnclf-maps").bounding_box()
    row = frame["y"] + frame["height"] * 40.5 / n
    page.mouse.move(frame["x"] + frame["width"] * 0.5 / n, row)
    assert "token 41 \u201cw40\u201d attends to (head 2)" in status.inner_text()
    shown = backgrounds()
    assert shown[0] == darkest and len(set(shown[1:])) == 1
    readout = page.locator(".attnclf-readout").inner_text()
    assert readout.startswith(
        "row 41 \u201cw40\u201d \u2192 1 \u201c<script>alert(1)</script>\u201d: \u2248"
    )

    page.mouse.click(frame["x"] + frame["width"] / 2, row)  # pinned: stays when the mouse leaves
    page.mouse.move(5, 5)
    assert status.inner_text().endswith("; pinned")
    page.keyboard.press("Escape")
    assert status.inner_text() == "words: the overall per-token weights"
    assert [words.nth(i).get_attribute("style") for i in range(n)] == overall
    assert page.locator(".attnclf-main").inner_text().startswith("<script>alert(1)</script> w1")
    assert not errors
