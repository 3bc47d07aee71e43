"""`GET /health`, `GET /models` and `GET /models/{name}`: whether the server is ready and what
each loaded model is (name, kind, family, labels, version, test metrics)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .. import schemas
from ..errors import LOOKUP_ERRORS
from ..server import ServerDep

router = APIRouter()


@router.get("/health", response_model=schemas.Health)
async def health(server: ServerDep) -> dict[str, Any]:
    """Whether the server is ready ("ok") or still loading ("starting"), and its models."""
    return {"status": "ok" if server.ready else "starting", "models": list(server.models)}


@router.get("/models", response_model=list[schemas.ModelInfo])
async def list_models(server: ServerDep) -> Response:
    """Every loaded model: name, kind, family, labels, version, test metrics."""
    return JSONResponse([served.describe() for served in server.models.values()])


@router.get("/models/{name}", response_model=schemas.ModelInfo, responses=LOOKUP_ERRORS)
async def model(name: str, server: ServerDep) -> Response:
    """One loaded model, described as in /models."""
    return JSONResponse(server.get(name).describe())
