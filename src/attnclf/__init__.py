"""attnclf: attention-based text classification you can train, compare, explain and ship.

    import attnclf
    classifier = attnclf.load("models/sa")
    classifier.predict(["A wonderful, moving film."])

Importing the package imports no torch: `load`, `TextClassifier` and `Prediction` bring in the
model code the first time they are used, so the command line and a server start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .inference.classifier import Prediction, TextClassifier


def load(path: str | Path, device: str = "auto", runtime: str = "torch") -> TextClassifier:
    """Load a saved model folder: `attnclf.load("models/sa").predict(["Great film!"])`;
    `runtime="onnx"` runs its exported model.onnx (`attnclf export`) in ONNX Runtime."""
    from .inference.classifier import load as load_classifier

    return load_classifier(path, device, runtime)


def __getattr__(name: str) -> Any:  # PEP 562: the classes on first use, not at import
    if name in ("Prediction", "TextClassifier"):
        from .inference import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'attnclf' has no attribute {name!r}")


__all__ = ["Prediction", "TextClassifier", "__version__", "load"]
