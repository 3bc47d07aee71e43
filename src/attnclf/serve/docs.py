"""`/docs` without a CDN: FastAPI's self-hosted docs recipe, with Swagger UI's files served from
the swagger-ui-bundle package, so the docs page works on a machine without internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from swagger_ui_bundle import swagger_ui_path

from .errors import ApiError

DOCS_ASSETS = "/docs-assets"
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
# Swagger UI's page starts itself with one inline script; everything else comes from here
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
_FILES = {name: Path(str(swagger_ui_path)) / name for name in DOCS_FILES}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

router = APIRouter()


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> Response:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="attnclf API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


@router.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
async def docs_asset(name: str) -> Response:
    file = _FILES.get(name)
    if file is None:
        raise ApiError(404, f"no docs file {name!r}")
    return Response(
        file.read_bytes(),
        media_type=_TYPES[file.suffix],
        headers={"Cache-Control": "max-age=86400"},
    )
