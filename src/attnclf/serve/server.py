"""The `Server` the routes share: the loaded models by name, a batcher per classifier, the one
inference thread, and the lookups and limits every route applies; `ServerDep` hands it to a
route (FastAPI's `Depends`, from `app.state.server`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Request

from ..errors import AttnclfError
from .batching import Batcher
from .errors import ApiError
from .models import ServedModel, load_models
from .settings import ServeSettings, inference_threads

if TYPE_CHECKING:
    from ..inference.classifier import Scored

T = TypeVar("T")


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
            run = served.classifier.infer
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


async def current_server(request: Request) -> Server:
    """The app's `Server` (create_app puts it on `app.state`)."""
    server: Server = request.app.state.server
    return server


ServerDep = Annotated[Server, Depends(current_server)]


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
