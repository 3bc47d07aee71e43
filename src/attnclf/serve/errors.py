"""Every error as JSON, `{"error": "..."}`: `ApiError` (a route's refusal with its status), the
error responses the OpenAPI document lists, and the app's exception handlers (a user's mistake
is 422, a body that cannot be read 400, an unknown route 404, a bug 500 logged with its
traceback on the server, never sent)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AttnclfError
from . import schemas

log = logging.getLogger("attnclf.serve")


class ApiError(Exception):
    """A request the server refuses: `status` and a one-line `message` saying what to do."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# What each refusal means, for the OpenAPI document (guard.py sends 400 host, 403, 408, 413, 415)
WHY = {
    400: "the Host header names a host this server does not answer (--allowed-host), or the "
    "body is not UTF-8 JSON or nests too deeply to read",
    403: "a browser's request from a page of another site",
    404: "no such model",
    408: "the body did not arrive within the read timeout (--read-timeout)",
    413: "the body is over the size limit (--max-body-bytes)",
    415: "the body is not JSON (Content-Type: application/json)",
    422: "the body is not what the route takes, or over a limit",
    503: "the server is still loading its models",
}


def responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: `statuses` with WHY's words, `described` (as `s400=...`)
    with their own."""
    words = {**WHY, **{int(key[1:]): what for key, what in described.items()}}
    return {status: {"model": schemas.Error, "description": words[status]} for status in statuses}


HOST_ERROR = responses(400)  # every route
LOOKUP_ERRORS = responses(400, 404)  # a route that names a model
ERRORS = responses(400, 403, 404, 408, 413, 415, 422)  # a route that takes a body

_UNREADABLE = "There was an error parsing the body"  # FastAPI's 400 for a body json cannot read


def add_error_handlers(app: FastAPI) -> None:
    def handler(kind: type[Exception]) -> Callable[[Callable[..., Response]], Any]:
        def register(make: Callable[..., Response]) -> Any:
            async def handle(request: Request, error: Exception) -> Response:
                return make(request, error)

            app.add_exception_handler(kind, handle)
            return make

        return register

    @handler(ApiError)
    def api_error(request: Request, error: ApiError) -> Response:
        return JSONResponse({"error": error.message}, status_code=error.status)

    @handler(AttnclfError)
    def user_error(request: Request, error: AttnclfError) -> Response:
        return JSONResponse({"error": str(error)}, status_code=422)

    @handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> Response:
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        message = _summary(problems, request.url.path)
        return JSONResponse({"error": message, "detail": problems[:20]}, status_code=422)

    @handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = "no such route; GET /openapi.json lists them"
        if error.status_code == 400 and message == _UNREADABLE:
            message = _unreadable(error.__cause__)
        return JSONResponse(
            {"error": message}, status_code=error.status_code, headers=error.headers
        )

    @handler(Exception)
    def bug(request: Request, error: Exception) -> Response:
        log.error("internal error", exc_info=error)
        return JSONResponse(
            {"error": f"internal server error ({type(error).__name__}); the server's log has it"},
            status_code=500,
        )


def _summary(problems: list[dict[str, Any]], path: str) -> str:
    if not problems:
        return "the request body is not valid"
    first = problems[0]
    if first["type"] == "json_invalid":
        example = (
            '{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["..."]}]}'
            if path.startswith("/v2/")
            else '{"texts": ["..."]}'
        )
        return f"the request body is not valid JSON; send an object such as {example}"
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "the body"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _unreadable(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "the request body is not UTF-8; send JSON in UTF-8"
    if isinstance(cause, RecursionError):
        return "the request body nests too deeply to read; send flat JSON"
    return "the request body could not be read as JSON; send UTF-8 JSON"
