"""The one page shell: self-contained (a strict Content-Security-Policy, nothing fetched), the
title escaped, written atomically, and the shell under both the explanation and the alignment
pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from attnclf.explain import explanation as explain
from attnclf.explain import html as explain_html
from attnclf.explain import shell as page
from attnclf.seq2seq import alignment
from attnclf.seq2seq.translator import Translation

CSP = "default-src 'none'; style-src 'unsafe-inline'"


def head_of(html_page: str) -> str:
    """The page up to its title: what the shell alone decides."""
    return html_page[: html_page.index("<title>")]


def fetches(html_page: str) -> list[str]:
    """Every src=, href=, url( or @import that points at the network."""
    network = r"""["']?\s*(?:https?:)?//"""
    pattern = rf"(?:src|href)\s*=\s*{network}|url\(\s*{network}|@import"
    return re.findall(pattern, html_page, re.I)


def an_explanation(weights: list[float] | None) -> explain.Explanation:
    return explain.Explanation(
        text="good film",
        tokens=["good", "film"],
        weights=weights,
        label="pos",
        probability=0.8,
        probabilities={"neg": 0.2, "pos": 0.8},
        label_names=["neg", "pos"],
        truncated=False,
        model_name="self-attention",
    )


def a_translation() -> Translation:
    return Translation(
        source="ab",
        output="x",
        source_tokens=["a", "b"],
        output_tokens=["x"],
        alignment=[[0.9, 0.1], [0.3, 0.7]],
        ended=True,
        log_prob=-0.5,
    )


def test_the_shell_is_a_complete_self_contained_page():
    built = page.page_shell("gallery", "<p>body</p>")
    assert built.startswith("<!DOCTYPE html>\n") and built.endswith("</html>\n")
    assert '<meta charset="utf-8">' in built
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in built
    assert page.CONTENT_SECURITY_POLICY == CSP  # what a server sends as the header, too
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in built
    assert "<title>gallery</title>" in built and "<h1>gallery</h1>" in built
    assert built.index("<h1>gallery</h1>") < built.index("<p>body</p>") < built.index("</body>")
    assert "max-width: 1100px;" in built
    lowered = built.lower()
    for forbidden in ("<script", "<link", "<img", "http://", "https://"):
        assert forbidden not in lowered, forbidden
    assert not fetches(built)


def test_the_title_is_escaped_and_the_body_is_not():
    built = page.page_shell('<script>alert("t")</script> & co', "<em>kept</em>")
    escaped = "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt; &amp; co"
    assert f"<title>{escaped}</title>" in built and f"<h1>{escaped}</h1>" in built
    assert "<script" not in built.lower()
    assert "<em>kept</em>" in built  # the caller escapes what it puts in the body


def test_width_and_extra_css_go_into_the_style_sheet():
    built = page.page_shell("t", "", max_width="1680px", extra_css=".x { color: red; }")
    style = built[built.index("<style>") : built.index("</style>")]
    assert "max-width: 1680px;" in style and ".x { color: red; }" in style


@pytest.mark.parametrize("width", ["1100px; } body { background: red", "wide", ""])
def test_a_width_that_is_not_a_css_length_is_refused(width):
    with pytest.raises(ValueError, match="not a CSS length"):
        page.page_shell("t", "", max_width=width)


def test_extra_css_cannot_close_the_style_sheet():
    with pytest.raises(ValueError, match="</style"):
        page.page_shell("t", "", extra_css="</STYLE><script>alert(1)</script>")


def test_write_html_writes_the_page_atomically(tmp_path: Path):
    path = tmp_path / "deep" / "page.html"
    built = page.page_shell("caf\u00e9", "<p>\u2192</p>")
    page.write_html(path, built)
    assert path.read_text(encoding="utf-8") == built
    assert not list(path.parent.glob(".*.tmp"))


def test_explanation_and_alignment_pages_are_built_in_the_same_shell(tmp_path: Path):
    shell = head_of(page.page_shell("t", ""))
    pages = {
        "gallery": explain_html.explanations_page([an_explanation([0.3, 0.7])], "t"),
        "no attention": explain_html.explanations_page([an_explanation(None)], "t"),
        "comparison": explain_html.comparison_page(
            [[an_explanation([0.3, 0.7]), an_explanation(None)]], ["a", "b"], "t"
        ),
        "alignment": alignment.render_html([a_translation()], "t"),
    }
    for name, built in pages.items():
        assert head_of(built) == shell, name
        assert built.count('<meta name="generator" content="attnclf">') == 1, name
        assert "<h1>t</h1>" in built and built.endswith("</body>\n</html>\n"), name
        assert not fetches(built), name
    # Each keeps its own look: the alignment page its width and heatmap rules.
    assert "max-width: 1200px;" in pages["alignment"] and "td.dark" in pages["alignment"]
    assert "linear-gradient(to right, #ffffff 0%" in pages["alignment"]
    assert "max-width: 1100px;" in pages["gallery"]
    assert "max-width: 1120px;" in pages["comparison"]  # 560px a column
    for write in (page.write_html, alignment.write_html):
        path = tmp_path / f"{write.__module__}.html"
        write(path, pages["gallery"])
        assert path.read_text(encoding="utf-8") == pages["gallery"]
