"""The one HTML page shell every attnclf page is built in: the explanation gallery and the
model comparison (explain.py), the seq2seq alignment heatmaps (seq2seq/alignment.py), and
whatever later serves or exports pages (an HTTP server, an exporter).

A page is one self-contained file: UTF-8, inline CSS only, nothing fetched, no scripts. The
Content-Security-Policy meta tag makes the browser enforce that, so a token from an untrusted
review that slipped through escaping still could not run or phone home. A page opened from
disk, mailed, or served over HTTP therefore looks and behaves the same. A server should also
send CONTENT_SECURITY_POLICY as a header (and CONTENT_TYPE), which also covers responses that
are not these pages.

The shell escapes the title; the body is HTML that the caller has already escaped. Callers
add their own rules with `extra_css`; the shell's rules are the ones every page shares.

No torch and no numpy: a server that only renders saved pages need not import a model stack.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from .files import write_text

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
CONTENT_TYPE = "text/html; charset=utf-8"
# A plain CSS length, so that a width from a caller cannot end the rule and inject CSS.
_LENGTH = re.compile(r"\d+(\.\d+)?(px|em|rem|ch|vw|%)")

BASE_CSS = """\
body { margin: 24px auto; max-width: %(max_width)s; padding: 0 16px; background: #f6f8fa;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 10px 0; }
h2 { font-size: 16px; margin: 22px 0 8px 0; }
"""


def render_page(
    title: str,
    body_html: str,
    *,
    max_width: str = "1100px",
    extra_css: str = "",
    policy: str = CONTENT_SECURITY_POLICY,
) -> str:
    """A complete page: `title` (escaped) as <title> and as the <h1>, then `body_html` as given.

    `max_width` is the body's CSS max-width (a plain length such as "1100px"); `extra_css` is
    appended to the shell's <style> and must not close it. `policy` is the page's
    Content-Security-Policy: the strict default, or a page's own (the served page adds
    same-origin script and fetch to it).
    """
    if not _LENGTH.fullmatch(max_width):
        raise ValueError(f"max_width {max_width!r} is not a CSS length such as '1100px' or '90%'")
    if '"' in policy or "<" in policy:
        raise ValueError("policy must not contain quotes or '<'")
    if "</style" in extra_css.lower():
        raise ValueError("extra_css contains '</style', which would end the page's style sheet")
    escaped = html.escape(title)
    css = BASE_CSS % {"max_width": max_width} + extra_css
    if not css.endswith("\n"):
        css += "\n"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="attnclf">\n'
        f"<title>{escaped}</title>\n"
        f"<style>\n{css}</style>\n"
        "</head>\n"
        "<body>\n"
        f"<h1>{escaped}</h1>\n"
        f"{body_html}\n"
        "</body>\n"
        "</html>\n"
    )


def write_html(path: str | Path, page: str) -> None:
    """Write a page atomically: a crash, or a server reading it meanwhile, sees the old page or
    the new one, never half of one."""
    write_text(path, page)


__all__ = ["CONTENT_SECURITY_POLICY", "CONTENT_TYPE", "render_page", "write_html"]
