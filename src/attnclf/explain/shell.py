"""The one HTML page shell every attnclf page is built in (`page_shell`): the explanation
gallery and the model comparison (html.py), the seq2seq alignment heatmaps
(seq2seq/alignment.py) and the live page of `attnclf serve` (serve/page.py).

A page is one self-contained file: UTF-8, inline CSS only, nothing fetched, no scripts. The
Content-Security-Policy meta tag makes the browser enforce that, so a token from an untrusted
review that slipped through escaping still could not run or phone home. A page opened from
disk, mailed, or served over HTTP therefore looks and behaves the same. A page that needs more
asks for exactly that: `script=` puts one inline script on it and allows that script alone, by
its SHA-256 hash (an injected script has another hash and does not run; nothing may be
fetched still), and `data_images=True` allows images inlined as data: URIs, which fetch
nothing. A server should also send CONTENT_SECURITY_POLICY as a header (and CONTENT_TYPE),
which also covers responses that are not these pages.

The shell escapes the title; the body is HTML that the caller has already escaped. Callers
add their own rules with `extra_css`; the shell's rules are the ones every page shares.

No torch: a server that only renders saved pages need not import a model stack.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

from ..runtime.files import write_text

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


def page_shell(
    title: str,
    body_html: str,
    *,
    max_width: str = "1100px",
    extra_css: str = "",
    policy: str = CONTENT_SECURITY_POLICY,
    script: str = "",
    data_images: bool = False,
) -> str:
    """A complete page: `title` (escaped) as <title> and as the <h1>, then `body_html` as given.

    `max_width` is the body's CSS max-width (a plain length such as "1100px"); `extra_css` is
    appended to the shell's <style> and must not close it. `policy` is the page's
    Content-Security-Policy: the strict default, or a page's own (the served page adds
    same-origin script and fetch to it). `script`, JavaScript that must not close its element,
    goes at the end of the body, and the policy allows it by its hash (see script_policy);
    `data_images` adds `img-src data:` to the policy.
    """
    if not _LENGTH.fullmatch(max_width):
        raise ValueError(f"max_width {max_width!r} is not a CSS length such as '1100px' or '90%'")
    if '"' in policy or "<" in policy:
        raise ValueError("policy must not contain quotes or '<'")
    if "</style" in extra_css.lower():
        raise ValueError("extra_css contains '</style', which would end the page's style sheet")
    if data_images:
        policy = f"{policy}; img-src data:"
    if script:
        policy = script_policy(script, policy)
    script_element = f"<script>{script}</script>\n" if script else ""
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
        f"{script_element}"
        "</body>\n"
        "</html>\n"
    )


def script_policy(script: str, policy: str = CONTENT_SECURITY_POLICY) -> str:
    """`policy` plus permission for the one inline `script`, by the SHA-256 hash of its text
    (CSP Level 2): the browser runs that script and no other, inline or fetched."""
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("script contains '</script' or '<!--', which would end its element early")
    if "script-src" in policy:
        raise ValueError("policy already has a script-src; a second one would be ignored")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return f"{policy}; script-src 'sha256-{digest}'"


def write_html(path: str | Path, page: str) -> None:
    """Write a page atomically: a crash, or a server reading it meanwhile, sees the old page or
    the new one, never half of one."""
    write_text(path, page)


__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CONTENT_TYPE",
    "page_shell",
    "script_policy",
    "write_html",
]
