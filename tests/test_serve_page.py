"""The live page in a real browser: headless Chromium (Debian's, through Playwright with its
executable path; no browser is downloaded) against the app served by uvicorn on 127.0.0.1.
Type a review, submit, see every model's label and its coloured words, per-head rows, the
token matrix, "no attention" for a model without, the toggle to the gradients, markup shown
as text, no policy violation; a screenshot is saved."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_serve import TEXT, build_models, tiny_classifier

CHROMIUM = os.environ.get("ATTNCLF_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}; install Debian's chromium or set ATTNCLF_CHROMIUM",
        allow_module_level=True,
    )


@contextlib.contextmanager
def serving(models: dict) -> Iterator[str]:
    """`models` served by uvicorn on a free port of 127.0.0.1, in a thread: the base URL."""
    import uvicorn

    from attnclf.serve import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(models), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory):
    with serving(build_models(tmp_path_factory.mktemp("page-models"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_type_a_review_and_see_every_model_coloured(base_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 1400})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(base_url + "/")
    page.wait_for_selector("#attnclf-status[data-state=ready]")
    page.fill("#attnclf-text", "The plot was thin but the acting was superb.")
    page.click("#attnclf-submit")
    page.wait_for_selector("#attnclf-status[data-state=done]", timeout=20_000)

    cards = page.locator(".attnclf-classifier")
    assert cards.count() == 4  # self-attention, mh, matrix, plain
    names = [cards.nth(i).get_attribute("data-model") for i in range(4)]
    assert names == ["self-attention", "mh", "matrix", "plain"]
    for i in range(4):
        label = cards.nth(i).locator(".attnclf-label").inner_text()
        assert label in ("neg", "pos", "a", "b", "c")
        assert "p = " in cards.nth(i).locator(".attnclf-score").inner_text()

    sa = page.locator(".attnclf-classifier[data-model=self-attention]")
    tokens = sa.locator(".attnclf-token")
    assert tokens.count() == 9 and tokens.first.inner_text() == "the"
    colours = {tokens.nth(i).evaluate("e => e.style.backgroundColor") for i in range(9)}
    assert all(c.startswith("rgb(") for c in colours) and len(colours) > 1
    mh = page.locator(".attnclf-classifier[data-model=mh]")
    rows = mh.locator(".attnclf-row-name").all_inner_texts()
    assert rows == ["mean", "head 1", "head 2"]
    matrix = page.locator(".attnclf-classifier[data-model=matrix] table.attnclf-matrix")
    assert matrix.count() == 2 and matrix.first.locator("tbody tr").count() == 9
    plain = page.locator(".attnclf-classifier[data-model=plain]")
    assert "no attention" in plain.locator(".attnclf-no-attention").inner_text()
    assert "<b>plain</b>" in plain.inner_text()  # the family name as text, not markup
    translator = page.locator(".attnclf-translator[data-model=dates]")
    assert translator.count() == 1
    page.screenshot(path=str(tmp_path / "attention.png"), full_page=True)
    assert (tmp_path / "attention.png").stat().st_size > 10_000

    page.check("input[name=view][value=gradient_x_input]")
    page.wait_for_selector("#attnclf-status[data-state=done]:has-text('gradient x input')")
    row = page.locator(".attnclf-classifier[data-model=plain] .attnclf-row-name")
    assert row.all_inner_texts() == ["gradient x input"]
    signed = page.locator(".attnclf-classifier[data-model=mh] .attnclf-token")
    assert signed.count() == 9 and signed.first.get_attribute("data-weight") is not None
    page.screenshot(path=str(tmp_path / "gradients.png"), full_page=True)
    assert not [p for p in problems if "favicon" not in p], problems
    page.close()


def test_markup_in_a_review_is_shown_as_text(base_url, browser):
    page = browser.new_page()
    page.goto(base_url + "/")
    page.wait_for_selector("#attnclf-status[data-state=ready]")
    page.fill("#attnclf-text", '<img src=x onerror="window.pwned=1"> superb <b>bold</b>')
    page.click("#attnclf-submit")
    page.wait_for_selector("#attnclf-status[data-state=done]", timeout=20_000)
    assert page.locator("#attnclf-results img").count() == 0
    assert page.locator("#attnclf-results b").count() == 0
    assert page.evaluate("window.pwned") is None
    page.close()


def test_an_error_from_the_api_is_shown_in_one_line(base_url, browser):
    page = browser.new_page()
    page.goto(base_url + "/")
    page.wait_for_selector("#attnclf-status[data-state=ready]")
    page.fill("#attnclf-text", ",,, ...")
    page.click("#attnclf-submit")
    page.wait_for_selector("#attnclf-status[data-state=error]", timeout=20_000)
    assert "no words to classify" in page.inner_text("#attnclf-status")
    page.close()


def test_word_attention_shows_its_signed_attention_before_its_weights(browser, tmp_path):
    from attnclf.serve.models import ServedModel

    models = {
        name: ServedModel.of_classifier(name, tiny_classifier(family))
        for name, family in [("word", "word-attention"), ("sa", "self-attention")]
    }
    with serving(models) as url:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(url + "/")
        page.wait_for_selector("#attnclf-status[data-state=ready]")
        page.fill("#attnclf-text", TEXT)
        page.click("#attnclf-submit")
        page.wait_for_selector("#attnclf-status[data-state=done]", timeout=20_000)
        body = {"texts": [TEXT], "model": "word", "attention": True}
        answer = httpx.post(url + "/predict", json=body).json()[0]
        word = page.locator(".attnclf-classifier[data-model=word]")
        rows = word.locator(".attnclf-row")
        assert word.locator(".attnclf-row-name").all_inner_texts() == [
            "signed attention",
            "attention",
        ]
        signed = rows.nth(0).locator(".attnclf-token")
        assert signed.all_inner_texts() == answer["tokens"]
        shown = [float(signed.nth(i).get_attribute("data-weight")) for i in range(signed.count())]
        assert shown == answer["token_scores"]  # one value per token: its term of the logit
        colours = {signed.nth(i).evaluate("e => e.style.backgroundColor") for i in range(3)}
        assert all(c.startswith("rgb(") for c in colours)
        legend = word.locator(".attnclf-signed-attention").inner_text()
        assert "signed attention: each attention weight times its word's vote" in legend
        assert "red: evidence for pos, blue: evidence for neg" in legend
        sa = page.locator(".attnclf-classifier[data-model=sa]")
        assert sa.locator(".attnclf-row-name").all_inner_texts() == ["attention"]
        assert sa.locator(".attnclf-signed-attention").count() == 0
        page.screenshot(path=str(tmp_path / "signed.png"), full_page=True)
        assert not problems, problems
        page.close()
