"""The HTTP API: `create_app(models)` -> a FastAPI app that serves attnclf model folders.

Routes (docs/guides/serving.md has examples), one module a group under routes/:

- `POST /predict`, `POST /models/{name}/predict`: the Hugging Face text-classification shape,
  per text `[{"label", "score"}]`, most probable first (`top_k`, null for every label);
  `"attention": true` adds the tokens and the attention (per head, token by token where the
  model has them).
- `POST /explain`: attention and, on request, gradient x input or integrated gradients.
- `POST /translate`, `POST /models/{name}/translate`: seq2seq folders, with the alignment.
- `GET /health`, `GET /models`; the Open Inference Protocol v2 subset under `/v2`.
- `GET /`: the live page (page.py); `GET /docs`: Swagger UI, served without a CDN (docs.py).

Models are loaded once, before or as the app starts (lifespan, server.py); prediction requests
of each classifier go through an adaptive batcher (batching.py) whose passes run in one
inference thread, off the event loop. Every error is JSON, `{"error": "..."}` (errors.py), and
the OpenAPI document declares each (openapi.py): 400 a Host the server does not answer or a body
that is not UTF-8 JSON (and an Open Inference Protocol request the model cannot run), 403 a
browser's request from another site, 404 unknown model or route, 408 a body that did not arrive
in time, 413 a body over the size limit, 415 a body that is not JSON (guard.py), 422 a body that
is not what the route takes or over a limit, 500 (logged with its traceback on the server,
never sent) a bug.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..version import __version__
from . import docs
from .errors import HOST_ERROR, add_error_handlers
from .guard import Guard
from .models import ServedModel
from .openapi import document_for
from .routes import classify, explain, health, page, translate, v2
from .server import Server
from .settings import ServeSettings

log = logging.getLogger("attnclf.serve")


def create_app(
    models: Mapping[str, ServedModel] | Sequence[str | Path],
    settings: ServeSettings | None = None,
    device: str = "auto",
) -> FastAPI:
    """The app serving `models`: loaded ServedModels by name, or model folders (`PATH` or
    `NAME=PATH`) that the app loads as it starts."""
    server = Server(models, settings or ServeSettings(), device)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await server.start()
        log.info("serving %s", ", ".join(server.models))
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(
        title="attnclf",
        version=__version__,
        summary="Attention-based text classifiers: predictions, attention, explanations.",
        lifespan=lifespan,
        docs_url=None,  # docs.py serves Swagger UI's files itself, not from a CDN
        redoc_url=None,
        responses=HOST_ERROR,  # guard.py answers a foreign Host on every route
    )
    app.state.server = server  # what routes get through server.ServerDep
    app.openapi = document_for(app, server.settings, lambda: server.models)  # type: ignore[method-assign]
    app.add_middleware(Guard, settings=server.settings)
    add_error_handlers(app)
    # the order of the OpenAPI document's paths
    for routes in (docs, page, classify, explain, translate, health, v2):
        app.include_router(routes.router)
    return app
