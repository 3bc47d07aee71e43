"""attnclf: attention-based text classification you can train, compare, explain and ship.

    import attnclf
    classifier = attnclf.load("models/sa")
    classifier.predict(["A wonderful, moving film."])

`attnclf.load` takes every folder that labels texts: a classifier, an ensemble, or a classifier
with its exported model.onnx (`runtime="onnx"`); a seq2seq folder has its own loader,
`attnclf.seq2seq.load`. `attnclf.AttentionClassifier` trains one as a scikit-learn estimator:

    clf = attnclf.AttentionClassifier("multihead").fit(texts, labels)

Importing the package imports no torch: `load`, `TextClassifier`, `Prediction` and
`AttentionClassifier` bring in the model code the first time they are used, so the command line
and a server start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .inference.classifier import Prediction, TextClassifier
    from .inference.ensemble import Ensemble
    from .training.estimator import AttentionClassifier


def load(
    path: str | Path, device: str = "auto", runtime: str = "torch"
) -> TextClassifier | Ensemble:
    """Load a saved model folder: `attnclf.load("models/sa").predict(["Great film!"])`. A
    classifier or an ensemble folder (`attnclf ensemble`); `runtime="onnx"` runs a classifier's
    exported model.onnx (`attnclf export`) in ONNX Runtime. A seq2seq folder is an error that
    names `attnclf.seq2seq.load`."""
    from .inference.loading import load as load_folder

    return load_folder(path, device, runtime)


def __getattr__(name: str) -> Any:  # PEP 562: the classes on first use, not at import
    if name in ("Prediction", "TextClassifier"):
        from .inference import classifier

        return getattr(classifier, name)
    if name == "AttentionClassifier":
        from .training.estimator import AttentionClassifier

        return AttentionClassifier
    raise AttributeError(f"module 'attnclf' has no attribute {name!r}")


__all__ = ["AttentionClassifier", "Prediction", "TextClassifier", "__version__", "load"]
