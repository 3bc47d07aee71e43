"""`GET /` and its script: the live page over the loaded models (serve/page.py draws it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..page import PAGE_POLICY_HEADER, SCRIPT_PATH, SCRIPT_TYPE, live_page, page_script
from ..server import ServerDep

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page(request: Request, server: ServerDep) -> Response:
    state = request.app.state
    if getattr(state, "page", None) is None:  # drawn once, when first asked for
        state.page = live_page(list(server.models.values()), server.settings.max_text_chars)
    headers = {"Content-Security-Policy": PAGE_POLICY_HEADER, "Cache-Control": "no-cache"}
    return HTMLResponse(state.page, headers=headers)


@router.get(SCRIPT_PATH, include_in_schema=False)
async def page_js() -> Response:
    return Response(page_script(), media_type=SCRIPT_TYPE, headers={"Cache-Control": "no-cache"})
