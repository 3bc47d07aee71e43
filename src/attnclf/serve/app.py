"""The HTTP API: `create_app(models)` -> a FastAPI app that serves attnclf model folders.

Routes (the README's Serving section has examples):

- `POST /predict`, `POST /models/{name}/predict`: the Hugging Face text-classification shape,
  per text `[{"label", "score"}]`, most probable first (`top_k`, null for every label);
  `"attention": true` adds the tokens and the attention (per head, token by token where the
  model has them).
- `POST /explain`: attention and, on request, gradient x input or integrated gradients.
- `POST /translate`, `POST /models/{name}/translate`: seq2seq folders, with the alignment.
- `GET /health`, `GET /models`; the Open Inference Protocol v2 subset under `/v2`.
- `GET /`: the live page (page.py).

Models are loaded once, before or as the app starts (lifespan); prediction requests of each
classifier go through an adaptive batcher (batching.py) whose passes run in one inference
thread, off the event loop. Every error is JSON, `{"error": "..."}`: 404 unknown model or
route, 413 a body over the size limit, 422 a body that is not what the route takes or over a
limit of texts per request or characters per text, 400 an Open Inference Protocol request of
the wrong shape, 500 (logged with its traceback on the server, never sent) a bug.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AttnclfError
from ..version import __version__
from . import schemas
from .batching import Batcher
from .models import ServedModel, load_models
from .page import API_POLICY, PAGE_POLICY_HEADER, SCRIPT_PATH, SCRIPT_TYPE, page_script
from .page import render_served_page as render_page

if TYPE_CHECKING:
    from ..inference.classifier import Scored

log = logging.getLogger("attnclf.serve")
T = TypeVar("T")


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits and batching; each is an option of `attnclf serve`."""

    max_texts: int = 64  # texts per request
    max_text_chars: int = 20_000  # characters per text (the longest IMDB review has 13,704)
    max_body_bytes: int = 1 << 20  # bytes per request body
    max_explain_texts: int = 16  # texts per /explain request (gradients cost a pass per step)
    batching: bool = True
    max_batch_size: int = 64  # texts per forward pass
    batch_window_ms: float = 5.0  # how long a request waits for others to join it
    # PyTorch's intra-op threads in a forward pass; 0: one fewer than the cores (at least one),
    # leaving a core to the event loop that parses and answers requests
    threads: int = 0


def inference_threads(settings: ServeSettings) -> int:
    """The threads a forward pass uses: `settings.threads`, or one fewer than the cores this
    process may run on. On 2 cores PyTorch's two threads fought the event loop for them: one
    thread served twice the texts/s unbatched (README, Serving)."""
    if settings.threads:
        return settings.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - 1)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.Error, "description": what}
    for status, what in (
        (404, "no such model"),
        (413, "the body is over the size limit"),
        (422, "the body is not what the route takes, or over a limit"),
    )
}


class Server:
    """What the routes share: the models, their batchers, the inference thread, the limits."""

    def __init__(
        self,
        models: Mapping[str, ServedModel] | Sequence[str | Path],
        settings: ServeSettings,
        device: str,
    ):
        self.settings, self.device = settings, device
        self.specs = None if isinstance(models, Mapping) else list(models)
        self.models: dict[str, ServedModel] = dict(models) if isinstance(models, Mapping) else {}
        self.batchers: dict[str, Batcher[Scored | None]] = {}
        self.executor: ThreadPoolExecutor | None = None
        self.ready = False

    # --- lifetime -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.specs is not None and not self.models:
            self.models = load_models(self.specs, self.device)
        if not self.models:
            raise AttnclfError("no model to serve; give one or more model folders")
        import torch

        # torch.set_num_threads holds for the thread that calls it, so the inference thread
        # sets its own
        threads = inference_threads(self.settings)
        self.executor = ThreadPoolExecutor(
            1,
            thread_name_prefix="attnclf-inference",
            initializer=torch.set_num_threads,
            initargs=(threads,),
        )
        s = self.settings
        for name, served in self.models.items():
            if served.classifier is None:
                continue
            run = served.classifier.score
            batcher = Batcher(
                run,
                self.executor,
                max_batch_size=s.max_batch_size,
                window=s.batch_window_ms / 1000,
                enabled=s.batching,
            )
            batcher.start()
            self.batchers[name] = batcher
            await batcher.submit(["warm up"])  # the first request should not pay for it
        self.ready = True

    async def stop(self) -> None:
        """Answer every request already taken, then end the inference thread."""
        self.ready = False
        for batcher in self.batchers.values():
            await batcher.stop()
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    async def off_loop(self, work: Callable[[], T]) -> T:
        import asyncio

        assert self.executor is not None
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    # --- lookups and limits -------------------------------------------------------------------

    def get(self, name: str) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            raise ApiError(404, f"no model named {name!r}; loaded: {', '.join(self.models)}")
        return served

    def classifier(self, name: str | None) -> ServedModel:
        if name is None:
            first = next((m for m in self.models.values() if m.classifier is not None), None)
            if first is None:
                raise ApiError(404, "no classifier is loaded; this server translates: /translate")
            return first
        served = self.get(name)
        if served.classifier is None:
            raise ApiError(
                422, f"model {name!r} is a seq2seq model; POST /models/{name}/translate instead"
            )
        return served

    def translator(self, name: str | None) -> ServedModel:
        if name is None:
            first = next((m for m in self.models.values() if m.translator is not None), None)
            if first is None:
                raise ApiError(
                    404,
                    "no seq2seq model is loaded; serve a folder written by "
                    "`attnclf seq2seq train` to translate",
                )
            return first
        served = self.get(name)
        if served.translator is None:
            raise ApiError(
                422, f"model {name!r} is a classifier; POST /models/{name}/predict instead"
            )
        return served

    def check_texts(self, texts: Sequence[object], limit: int, option: str) -> list[str]:
        if not texts:
            raise ApiError(422, 'no texts; send at least one, as {"texts": ["..."]}')
        if len(texts) > limit:
            raise ApiError(
                422,
                f"{len(texts)} texts in one request; the limit is {limit} (the server's "
                f"{option}); split them over several requests",
            )
        longest = self.settings.max_text_chars
        for number, text in enumerate(texts, start=1):
            if not isinstance(text, str):
                raise ApiError(422, f"text {number} is a {type(text).__name__}, not a string")
            if len(text) > longest:
                raise ApiError(
                    422,
                    f"text {number} has {len(text):,} characters; the limit is {longest:,} (the "
                    "server's --max-text-chars)",
                )
        return list(texts)  # type: ignore[arg-type]

    async def scored(self, served: ServedModel, texts: list[str]) -> list[Scored]:
        results = await self.batchers[served.name].submit(texts)
        for number, (text, result) in enumerate(zip(texts, results, strict=True), start=1):
            if result is None:
                raise ApiError(422, f"text {number} has no words to classify: {_short(text)}")
        return results  # type: ignore[return-value]

    # --- the routes' work ---------------------------------------------------------------------

    async def predict(self, body: schemas.PredictRequest, name: str | None) -> Response:
        if body.texts is not None and body.inputs is not None:
            raise ApiError(422, 'give the texts as "texts" or as "inputs", not both')
        given = body.texts if body.texts is not None else body.inputs
        if given is None:
            raise ApiError(422, 'no texts; send them as {"texts": ["..."]}')
        texts = self.check_texts(
            [given] if isinstance(given, str) else given, self.settings.max_texts, "--max-texts"
        )
        top_k = body.top_k
        if body.parameters is not None and "top_k" in body.parameters.model_fields_set:
            top_k = body.parameters.top_k
        served = self.classifier(name)
        labels = served.labels or []
        results = await self.scored(served, texts)
        if not body.attention:
            return JSONResponse([label_scores(r.probabilities, labels, top_k) for r in results])
        return JSONResponse(
            [
                {"labels": label_scores(r.probabilities, labels, top_k), **attention_of(r)}
                for r in results
            ]
        )

    async def explain(self, body: schemas.ExplainRequest) -> dict[str, Any]:
        texts = self.check_texts(body.texts, self.settings.max_explain_texts, "--max-explain-texts")
        if body.models is None:
            chosen = [m for m in self.models.values() if m.classifier is not None]
            if not chosen:
                raise ApiError(404, "no classifier is loaded to explain")
        else:
            chosen = [self.classifier(name) for name in body.models]
        methods: list[str] = list(dict.fromkeys(body.methods))
        found = []
        for served in chosen:
            results = await self.scored(served, texts)
            gradients: dict[str, list[np.ndarray] | None] = {}
            unavailable: dict[str, str] = {}
            for method in methods:
                if method == "attention":
                    continue
                work = functools.partial(_gradients, served, texts, method, body.ig_steps)
                try:
                    gradients[method] = await self.off_loop(work)
                except AttnclfError as error:
                    unavailable[method] = str(error)
            if not served.has_attention:
                unavailable.setdefault("attention", "this model pools without attention")
            labels = served.labels or []
            explanations = []
            for i, result in enumerate(results):
                best = int(np.argmax(result.probabilities))
                entry = {
                    "label": labels[best],
                    "score": float(result.probabilities[best]),
                    "labels": label_scores(result.probabilities, labels, None),
                    **attention_of(result),
                }
                for method, scores in gradients.items():
                    entry[method] = _rounded(scores[i]) if scores is not None else None
                explanations.append(entry)
            found.append(
                {
                    "name": served.name,
                    "family": served.family,
                    "has_attention": served.has_attention,
                    "explanations": explanations,
                    "unavailable": unavailable,
                }
            )
        return {"models": found}

    async def translate(self, body: schemas.TranslateRequest, name: str | None) -> dict[str, Any]:
        texts = self.check_texts(body.texts, self.settings.max_texts, "--max-texts")
        served = self.translator(name if name is not None else body.model)
        translator = served.translator
        assert translator is not None
        translations = await self.off_loop(
            functools.partial(translator.translate, texts, beam=body.beam)
        )
        return {
            "model": served.name,
            "translations": [t.to_dict(with_alignment=body.alignment) for t in translations],
        }

    async def infer(self, name: str, body: schemas.InferRequest) -> dict[str, Any]:
        served = self.get(name)
        if len(body.inputs) != 1 or body.inputs[0].datatype != "BYTES":
            given = ", ".join(f"{i.name} ({i.datatype})" for i in body.inputs) or "none"
            raise ApiError(400, f"{name} takes one BYTES input of texts; got {given}")
        tensor = body.inputs[0]
        data = _flatten(tensor.data)
        expected = int(np.prod(tensor.shape)) if tensor.shape else 1
        if any(d < 0 for d in tensor.shape) or expected != len(data):
            raise ApiError(
                400, f"input {tensor.name} has shape {tensor.shape} but {len(data)} elements"
            )
        texts = self.check_texts(data, self.settings.max_texts, "--max-texts")
        count = len(texts)
        outputs: list[dict[str, Any]]
        if served.translator is not None:
            translations = await self.off_loop(
                functools.partial(served.translator.translate, texts)
            )
            outputs = [_tensor("output", "BYTES", [count], [t.output for t in translations])]
        else:
            labels = served.labels or []
            results = await self.scored(served, texts)
            probabilities = np.stack([r.probabilities for r in results])  # (N, K)
            best = probabilities.argmax(axis=1)
            outputs = [
                _tensor("label", "BYTES", [count], [labels[i] for i in best]),
                _tensor("score", "FP32", [count], probabilities.max(axis=1).tolist()),
                _tensor(
                    "probabilities", "FP32", [count, len(labels)], probabilities.ravel().tolist()
                ),
            ]
        if body.outputs is not None:
            known = {o["name"]: o for o in outputs}
            unknown = [o.name for o in body.outputs if o.name not in known]
            if unknown:
                raise ApiError(
                    400, f"{name} has no output {', '.join(unknown)}; it has {', '.join(known)}"
                )
            outputs = [known[o.name] for o in body.outputs]
        return {
            "model_name": served.name,
            "model_version": served.version,
            "id": body.id,
            "outputs": outputs,
        }


def label_scores(
    probabilities: np.ndarray, labels: Sequence[str], top_k: int | None
) -> list[dict[str, Any]]:
    """[{"label", "score"}] most probable first, `top_k` of them (None: every label)."""
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [{"label": labels[i], "score": float(probabilities[i])} for i in order]


def attention_of(result: Scored) -> dict[str, Any]:
    return {
        "tokens": result.tokens,
        "truncated": result.truncated,
        "attention": _rounded(result.attention),
        "head_attention": _rounded(result.head_attention),
        "token_attention": _rounded(result.token_attention),
        "token_scores": _rounded(result.token_scores),
    }


def _rounded(values: np.ndarray | None) -> Any:
    return np.round(values.astype(np.float64), 6).tolist() if values is not None else None


def _gradients(served: ServedModel, texts: list[str], method: str, steps: int) -> list[np.ndarray]:
    from ..explain import faithfulness
    from ..inference.classifier import TextClassifier

    if not isinstance(served.classifier, TextClassifier):
        raise AttnclfError(
            "an ensemble has no gradients of its own; serve its members (members/NAME) to see "
            "theirs"
        )
    if method == "gradient_x_input":
        return faithfulness.gradient_x_input(served.classifier, texts)
    return faithfulness.integrated_gradients(served.classifier, texts, steps=steps)


def _tensor(name: str, datatype: str, shape: list[int], data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def _flatten(data: list[object]) -> list[object]:
    flat: list[object] = []
    for item in data:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


# --- /docs without a CDN -----------------------------------------------------------------------

DOCS_ASSETS = "/docs-assets"
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
# Swagger UI's page starts itself with one inline script; everything else comes from here
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def _add_docs(app: FastAPI) -> None:
    """FastAPI's self-hosted docs recipe: Swagger UI's files from the swagger-ui-bundle package,
    so /docs works on a machine without internet."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    files = {name: Path(str(swagger_ui_path)) / name for name in DOCS_FILES}
    types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="attnclf API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )
        page.headers["Content-Security-Policy"] = DOCS_POLICY
        return page

    @app.get(DOCS_ASSETS + "/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        file = files.get(name)
        if file is None:
            raise ApiError(404, f"no docs file {name!r}")
        return Response(
            file.read_bytes(),
            media_type=types[file.suffix],
            headers={"Cache-Control": "max-age=86400"},
        )


# --- the body limit, the content type and the security headers -------------------------------


class Guard:
    """ASGI middleware. A request body over `max_bytes` is answered 413 before the app sees
    it (by its Content-Length, or as it streams in); a body is read as JSON whatever its
    Content-Type says, so `curl -d '{...}'` (form-encoded by default) works; every response
    gets `nosniff` and, unless it brings its own, a policy that lets nothing load."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(send)
            return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if not (kind == b"application/json" or kind.endswith(b"+json")):
            kept = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            {
                "error": f"the request body is over the server's limit of {self.max_bytes:,} "
                "bytes (--max-body-bytes); send fewer or shorter texts per request"
            },
            status_code=413,
            headers={"Connection": "close"},
        )
        await response({"type": "http"}, _no_body, send)

    def _with_headers(self, scope: Scope, send: Send) -> Send:
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


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


# --- the app ---------------------------------------------------------------------------------


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
        docs_url=None,  # /docs below serves Swagger UI's files itself, not from a CDN
        redoc_url=None,
    )
    app.state.server = server
    _add_docs(app)
    app.add_middleware(Guard, max_bytes=server.settings.max_body_bytes)
    _add_error_handlers(app)
    page_cache: dict[str, str] = {}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        if "page" not in page_cache:
            models = list(server.models.values())
            page_cache["page"] = render_page(models, server.settings.max_text_chars)
        headers = {"Content-Security-Policy": PAGE_POLICY_HEADER, "Cache-Control": "no-cache"}
        return HTMLResponse(page_cache["page"], headers=headers)

    script = page_script()

    @app.get(SCRIPT_PATH, include_in_schema=False)
    async def page_js() -> Response:
        return Response(script, media_type=SCRIPT_TYPE, headers={"Cache-Control": "no-cache"})

    @app.post(
        "/predict",
        response_model=list[list[schemas.LabelScore]] | list[schemas.AttentionPrediction],
        responses=ERRORS,
    )
    async def predict(body: schemas.PredictRequest) -> Response:
        """Classify texts: per text `[{"label", "score"}]`, the Hugging Face pipeline's shape."""
        return await server.predict(body, body.model)

    @app.post(
        "/models/{name}/predict",
        response_model=list[list[schemas.LabelScore]] | list[schemas.AttentionPrediction],
        responses=ERRORS,
    )
    async def predict_with(name: str, body: schemas.PredictRequest) -> Response:
        """Classify texts with the model called `name`."""
        if body.model not in (None, name):
            raise ApiError(422, f"the path names model {name!r} and the body {body.model!r}")
        return await server.predict(body, name)

    @app.post("/explain", response_model=schemas.ExplainResponse, responses=ERRORS)
    async def explain(body: schemas.ExplainRequest) -> Response:
        """Tokens with attention and, on request, gradient x input or integrated gradients."""
        return JSONResponse(await server.explain(body))

    @app.post("/translate", response_model=schemas.TranslateResponse, responses=ERRORS)
    async def translate(body: schemas.TranslateRequest) -> Response:
        """Translate with a seq2seq model, with the attention alignment."""
        return JSONResponse(await server.translate(body, None))

    @app.post(
        "/models/{name}/translate", response_model=schemas.TranslateResponse, responses=ERRORS
    )
    async def translate_with(name: str, body: schemas.TranslateRequest) -> Response:
        """Translate with the seq2seq model called `name`."""
        return JSONResponse(await server.translate(body, name))

    @app.get("/health", response_model=schemas.Health)
    async def health() -> dict[str, Any]:
        return {"status": "ok" if server.ready else "starting", "models": list(server.models)}

    @app.get("/models", response_model=list[schemas.ModelInfo])
    async def list_models() -> Response:
        """Every loaded model: name, kind, family, labels, version, test metrics."""
        return JSONResponse([served.describe() for served in server.models.values()])

    @app.get("/models/{name}", response_model=schemas.ModelInfo, responses=ERRORS)
    async def model(name: str) -> Response:
        return JSONResponse(server.get(name).describe())

    # --- the Open Inference Protocol, v2 -----------------------------------------------------

    @app.get("/v2", tags=["v2"])
    async def v2_server() -> dict[str, Any]:
        return {"name": "attnclf", "version": __version__, "extensions": []}

    @app.get("/v2/health/live", tags=["v2"])
    async def v2_live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"])
    async def v2_ready() -> Response:
        return JSONResponse({"ready": server.ready}, status_code=200 if server.ready else 503)

    @app.get("/v2/models/{name}", response_model=schemas.ModelMetadata, tags=["v2"])
    async def v2_model(name: str) -> dict[str, Any]:
        served = server.get(name)
        text = _tensor("text", "BYTES", [-1], [])
        if served.translator is not None:
            outputs = [_tensor("output", "BYTES", [-1], [])]
        else:
            outputs = [
                _tensor("label", "BYTES", [-1], []),
                _tensor("score", "FP32", [-1], []),
                _tensor("probabilities", "FP32", [-1, len(served.labels or [])], []),
            ]
        for tensor in [text, *outputs]:
            tensor.pop("data")
        return {
            "name": served.name,
            "versions": [served.version],
            "platform": f"attnclf_{served.kind}",
            "inputs": [text],
            "outputs": outputs,
        }

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    async def v2_model_ready(name: str) -> Response:
        served = server.get(name)
        ready = server.ready
        return JSONResponse(
            {"name": served.name, "ready": ready}, status_code=200 if ready else 503
        )

    @app.post(
        "/v2/models/{name}/infer",
        response_model=schemas.InferResponse,
        responses=ERRORS,
        tags=["v2"],
    )
    async def v2_infer(name: str, body: schemas.InferRequest) -> Response:
        """One BYTES input of texts; outputs label, score and probabilities (a classifier) or
        output (a seq2seq model)."""
        return JSONResponse(await server.infer(name, body))

    return app


def _add_error_handlers(app: FastAPI) -> None:
    def handler(kind: type[Exception]) -> Callable[[Callable[..., Response]], Any]:
        def register(make: Callable[..., Response]) -> Any:
            async def handle(request: Request, error: Exception) -> Response:
                return make(error)

            app.add_exception_handler(kind, handle)
            return make

        return register

    @handler(ApiError)
    def api_error(error: ApiError) -> Response:
        return JSONResponse({"error": error.message}, status_code=error.status)

    @handler(AttnclfError)
    def user_error(error: AttnclfError) -> Response:
        return JSONResponse({"error": str(error)}, status_code=422)

    @handler(RequestValidationError)
    def invalid(error: RequestValidationError) -> Response:
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return JSONResponse({"error": _summary(problems), "detail": problems[:20]}, status_code=422)

    @handler(StarletteHTTPException)
    def http_error(error: StarletteHTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = "no such route; GET /openapi.json lists them"
        return JSONResponse(
            {"error": message}, status_code=error.status_code, headers=error.headers
        )

    @handler(Exception)
    def bug(error: Exception) -> Response:
        log.error("internal error", exc_info=error)
        return JSONResponse(
            {"error": f"internal server error ({type(error).__name__}); the server's log has it"},
            status_code=500,
        )


def _summary(problems: list[dict[str, Any]]) -> str:
    if not problems:
        return "the request body is not valid"
    first = problems[0]
    if first["type"] == "json_invalid":
        return 'the request body is not valid JSON; send an object such as {"texts": ["..."]}'
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "the body"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"
