"""Serving: an HTTP API over saved model folders (`create_app` in app.py, its routes in
routes/, the models it holds in server.py), the guard in front of it (guard.py: hosts, content
types, sizes, time), the uvicorn it runs on (listener.py), the adaptive batcher behind it
(batching.py) and the live page at `/` (page.py).

    from attnclf.serve import create_app
    app = create_app(["runs/compare/self-attention", "runs/compare/multihead"])

FastAPI is imported only when `create_app` is, so `import attnclf.serve` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .settings import ServeSettings

if TYPE_CHECKING:
    from .app import create_app


def __getattr__(name: str) -> Any:  # PEP 562: FastAPI on first use
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'attnclf.serve' has no attribute {name!r}")


__all__ = ["ServeSettings", "create_app"]
