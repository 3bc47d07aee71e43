"""The HTTP server `attnclf serve` runs: uvicorn on httptools, with the limits on reading a
request's headers that uvicorn leaves out (it has a keep-alive timeout only). A connection that
has not sent a request's complete headers `read_timeout` seconds after it opened, or after that
request began, is closed, as nginx's client_header_timeout does; headers over MAX_HEADER_BYTES
are a 431. The body's deadline is guard.py's (408), where the app can still answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .settings import ServeSettings

MAX_HEADER_BYTES = 64 * 1024  # h11's limit is 16 KiB; cookies of other apps on localhost add up


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit for the headers."""

    read_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._headers_due: asyncio.TimerHandle | None = None
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._headers_due is None or self.transport.is_closing():
            return
        self._header_bytes += len(data)  # still in the headers: every byte was one of them
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._headers_due is None:  # the next request on a kept-alive connection
            self._expect_headers()

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _expect_headers(self) -> None:
        self._header_bytes = 0
        self._headers_due = self.loop.call_later(self.read_timeout, self._headers_late)

    def _stop_waiting(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_headers(self) -> None:
        self._stop_waiting()
        message = f"the request's headers are over {MAX_HEADER_BYTES:,} bytes"
        body = json.dumps({"error": message}).encode()
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def uvicorn_config(
    app: Any, host: str, port: int, settings: ServeSettings, **options: Any
) -> uvicorn.Config:
    """A uvicorn.Config for `app` whose connections get `settings.read_timeout` to send their
    headers; `options` are uvicorn's own."""
    protocol = type(
        "ReadTimeoutProtocol", (ReadTimeoutProtocol,), {"read_timeout": settings.read_timeout}
    )
    return uvicorn.Config(app, host=host, port=port, http=protocol, **options)
