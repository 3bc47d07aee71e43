"""The ASGI guard in front of the app. In the order it checks a request: the Host header (400;
a page that rebinds its own name to 127.0.0.1 still sends that name), the body's content type
(415: JSON only, which a page cannot send to another site without the browser asking the site
first), a browser's Origin (403: a page of another site), the body limit (413) and the time the
body may take to arrive (408). Every response gets the security headers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .page import API_POLICY
from .settings import ServeSettings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BINARY_HEADER = "inference-header-content-length"  # the Open Inference Protocol's binary data


class Hosts:
    """The host names a server answers: localhost, 127.0.0.1, ::1 and `added` ("*" any name,
    "*.example.org" its subdomains), as Starlette's TrustedHostMiddleware, with IPv6 too."""

    def __init__(self, added: Iterable[str]):
        names = {bare_host(name) for name in added}
        self.any = "*" in names
        self.added = {name for name in names if not name.startswith("*")}
        self.domains = tuple(name[1:] for name in names if name.startswith("*."))

    def allows(self, host: str) -> bool:
        return host in LOCAL_HOSTS or self.added_allows(host)

    def added_allows(self, host: str) -> bool:
        return self.any or host in self.added or (bool(host) and host.endswith(self.domains))


def bare_host(value: str) -> str:
    """A Host header's name without its port, lower-cased: 'Example.org:8000' -> 'example.org',
    '[::1]:8000' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":")[0]
    return value.rstrip(".")


class Guard:
    """ASGI middleware: refuses a request for a foreign host, a body that is not JSON (a body
    without a Content-Type is read as JSON), a browser's request from another site, a body
    over `max_body_bytes` (by its Content-Length, or as it streams in) and a body that has
    not arrived `read_timeout` seconds after the headers; every response gets `nosniff` and,
    unless it brings its own, a policy that lets nothing load."""

    def __init__(self, app: ASGIApp, settings: ServeSettings):
        self.app, self.hosts = app, Hosts(settings.allowed_hosts)
        self.max_bytes, self.read_timeout = settings.max_body_bytes, settings.read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send)
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        if scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _answer(send, 413, self._too_large())
            return
        body = await self._body(receive, send)
        if body is None:
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        if "content-type" not in headers:  # read as JSON, as FastAPI did before strict types
            typed = [*scope["headers"], (b"content-type", b"application/json")]
            scope = {**scope, "headers": typed}
        await self.app(scope, replay, send)

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        """(status, message) for a request refused on its headers alone, else None."""
        host = bare_host(headers.get("host", ""))
        # Starlette's TestClient calls itself testserver; a socket's peer is never "testclient"
        in_process = host == "testserver" and (scope.get("client") or ("",))[0] == "testclient"
        if not (self.hosts.allows(host) or in_process):
            return 400, (
                f"this server does not answer to the host {host or '(none)'!r}; start it with "
                f"--allowed-host {host or 'NAME'} to allow that name"
            )
        if scope["method"] not in UNSAFE_METHODS:
            return None
        kind = headers.get("content-type")
        media = (kind or "").split(";")[0].strip().lower()
        binary = media == "application/octet-stream" and BINARY_HEADER in headers
        if kind is not None and not (media == "application/json" or media.endswith("+json")):
            if not binary:
                return 415, (
                    f"the request body must be JSON (Content-Type: application/json), not "
                    f"{media or 'an empty type'}; with curl, --json '{{...}}' or "
                    "-H 'Content-Type: application/json'"
                )
        origin = headers.get("origin")
        if origin is not None and not self._same_site(origin, headers.get("host", "")):
            return 403, (
                f"a request from the page {origin!r}, another site; this server answers its "
                "own pages and programs only (--allowed-host names a site it may answer)"
            )
        return None

    def _same_site(self, origin: str, host: str) -> bool:
        netloc = urlsplit(origin).netloc.lower()
        same = bool(netloc) and netloc == host.lower()
        return same or self.hosts.added_allows(bare_host(netloc))

    async def _body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once the request has been answered (or the client left)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        chunks, total = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - loop.time())
            except asyncio.TimeoutError:
                await _answer(
                    send,
                    408,
                    f"the request body did not arrive within {self.read_timeout:g} s of its "
                    "headers (the server's --read-timeout); send the body at once",
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await _answer(send, 413, self._too_large())
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> str:
        return (
            f"the request body is over the server's limit of {self.max_bytes:,} bytes "
            "(--max-body-bytes); send fewer or shorter texts per request"
        )

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", API_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped


async def _answer(send: Send, status: int, message: str) -> None:
    """A refusal, before the app has seen the request; the connection closes after it, as the
    rest of the request may still be on its way."""
    response = JSONResponse({"error": message}, status_code=status, headers={"Connection": "close"})
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
