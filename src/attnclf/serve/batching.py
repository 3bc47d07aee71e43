"""Adaptive batching: the texts of concurrent requests are gathered into one forward pass.

As BentoML's adaptive batching does, a request waits at most `window` seconds after it arrives
for others to join it, and a batch holds at most `max_batch_size` texts (a request is never
split, so one larger than that runs alone). Under light load a request runs after at most one
window; under heavy load requests pile up while the model is busy, so the next batch is ready
at once and never waits: throughput rises with load while the added latency stays bounded.

Inference runs in `executor` (one thread shared by every model, so the event loop keeps
serving and two passes never contend for the same cores or the same model's hooks). `stop()`
finishes every request already queued before it returns, for a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Result = TypeVar("Result")


@dataclass
class _Pending(Generic[Result]):
    texts: Sequence[str]
    future: asyncio.Future[list[Result]]
    arrived: float = field(default_factory=time.perf_counter)


class Batcher(Generic[Result]):
    """`await batcher.submit(texts)` -> `run(texts)`'s results for those texts, computed in a
    batch with whatever else arrived meanwhile. With `enabled` False every request runs alone
    (for comparison)."""

    def __init__(
        self,
        run: Callable[[list[str]], list[Result]],
        executor: Executor,
        *,
        max_batch_size: int = 64,
        window: float = 0.005,
        enabled: bool = True,
    ):
        if max_batch_size < 1 or window < 0:
            raise ValueError("max_batch_size must be at least 1 and window at least 0")
        self.run, self.executor = run, executor
        self.max_batch_size, self.window, self.enabled = max_batch_size, window, enabled
        self._queue: asyncio.Queue[_Pending[Result] | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._carried: _Pending[Result] | None = None
        self.batches = 0  # passes run, for tests and the benchmark
        self.texts = 0

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Run every queued request, then end the worker."""
        if self._worker is not None:
            await self._queue.put(None)
            await self._worker
            self._worker = None

    async def submit(self, texts: Sequence[str]) -> list[Result]:
        if self._worker is None:
            raise RuntimeError("the batcher is not running; start() it in the app's lifespan")
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(texts, future))
        return await future

    async def _work(self) -> None:
        stopping = False
        while not stopping or self._carried is not None:
            first = self._carried or await self._queue.get()
            self._carried = None
            if first is None:
                break
            batch, size = [first], len(first.texts)
            deadline = first.arrived + self.window
            while self.enabled and size < self.max_batch_size:
                item = await self._next(deadline)
                if item is _NOTHING:
                    break
                if item is None:
                    stopping = True
                    break
                assert isinstance(item, _Pending)
                if size + len(item.texts) > self.max_batch_size:
                    self._carried = item
                    break
                batch.append(item)
                size += len(item.texts)
            await self._run(batch)
        # Requests that arrived after stop() was called still get an answer.
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                await self._run([item])

    async def _next(self, deadline: float) -> _Pending[Result] | None | object:
        """The next queued request, waiting until `deadline` at most; _NOTHING if none came."""
        while True:
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return _NOTHING
                # Polling in short sleeps rather than wait_for(queue.get()) keeps a request
                # from being lost when the timeout and its arrival coincide.
                await asyncio.sleep(min(remaining, 0.0005))

    async def _run(self, batch: list[_Pending[Result]]) -> None:
        texts = [text for item in batch for text in item.texts]
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self.run, texts)
        except Exception as error:  # every request of the batch gets the error
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        self.batches += 1
        self.texts += len(texts)
        start = 0
        for item in batch:
            end = start + len(item.texts)
            if not item.future.done():  # a client that went away cancelled its future
                item.future.set_result(results[start:end])
            start = end


_NOTHING = object()
