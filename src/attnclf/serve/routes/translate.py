"""`POST /translate` and `POST /models/{name}/translate`: seq2seq folders, with the attention
alignment; the search runs in the inference thread."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .. import schemas
from ..errors import ERRORS, ApiError
from ..server import Server, ServerDep

router = APIRouter()


@router.post("/translate", response_model=schemas.TranslateResponse, responses=ERRORS)
async def translate(body: schemas.TranslateRequest, server: ServerDep) -> Response:
    """Translate with a seq2seq model, with the attention alignment."""
    return JSONResponse(await translations(server, body, None))


@router.post("/models/{name}/translate", response_model=schemas.TranslateResponse, responses=ERRORS)
async def translate_with(
    name: str, body: schemas.TranslateWithRequest, server: ServerDep
) -> Response:
    """Translate with the seq2seq model called `name`."""
    if body.model not in (None, name):
        raise ApiError(422, f"the path names model {name!r} and the body {body.model!r}")
    return JSONResponse(await translations(server, body, name))


async def translations(
    server: Server, body: schemas.TranslateRequest, name: str | None
) -> dict[str, Any]:
    texts = server.check_texts(body.texts, server.settings.max_texts, "--max-texts")
    served = server.translator(name if name is not None else body.model)
    translator = served.translator
    assert translator is not None
    translated = await server.off_loop(
        functools.partial(translator.translate, texts, beam=body.beam)
    )
    return {
        "model": served.name,
        "translations": [t.to_dict(with_alignment=body.alignment) for t in translated],
    }
