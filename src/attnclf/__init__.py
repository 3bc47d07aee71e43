"""attnclf: attention-based text classification you can train, compare, explain and ship."""

__version__ = "0.1.0"

from .classifier import Prediction, TextClassifier, load  # noqa: E402

__all__ = ["Prediction", "TextClassifier", "__version__", "load"]
