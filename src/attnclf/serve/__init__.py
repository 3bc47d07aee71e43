"""Serving: an HTTP API over saved model folders (app.py), the adaptive batcher behind it
(batching.py), the live page at `/` (page.py), and batch predictions for a file (table.py).

    from attnclf.serve import create_app
    app = create_app(["runs/compare/self-attention", "runs/compare/multihead"])

FastAPI is imported only when `create_app` is, so `import attnclf.serve` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServeSettings, create_app


def __getattr__(name: str) -> Any:  # PEP 562: FastAPI on first use
    if name in ("ServeSettings", "create_app"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'attnclf.serve' has no attribute {name!r}")


__all__ = ["ServeSettings", "create_app"]
