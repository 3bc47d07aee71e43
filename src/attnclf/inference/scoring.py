"""Saved models put to work on data: scoring a model folder (a classifier or an ensemble) on a
data source. Inference only: no training code is imported."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import DataConfig
from ..data.splits import load_evaluation_examples
from ..evaluation.metrics import EVAL_BATCH_SIZE, classification_metrics, timed_predict


@dataclass
class Evaluation:
    """A saved model's figures on one data source."""

    model: str
    data: str  # the source's name
    label_names: list[str]
    metrics: dict[str, Any]  # evaluate.classification_metrics, with infer_samples_per_s

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "data": self.data, **self.metrics}


def evaluate_folder(
    path: str | Path, data_config: DataConfig, device: str | torch.device = "auto"
) -> Evaluation:
    """Score the model folder `path` on the test split of `data_config`'s source (every row of a
    single file without a test split, but the held-out rows of the file it was trained on)."""
    from .ensemble import Ensemble
    from .loading import load_any

    loaded = load_any(path, device)
    if isinstance(loaded, Ensemble):
        return _evaluate_ensemble(path, loaded, data_config)
    classifier = loaded
    examples, name = load_evaluation_examples(
        data_config, classifier.label_names, trained_split(classifier.metadata)
    )
    encoded = classifier.encode(examples.texts)
    logits, per_s = timed_predict(classifier.model, encoded, EVAL_BATCH_SIZE, classifier.device)
    metrics = classification_metrics(logits, examples.labels, classifier.label_names)
    metrics["infer_samples_per_s"] = round(per_s, 1)
    return Evaluation(str(path), name, classifier.label_names, metrics)


def _evaluate_ensemble(path: str | Path, ensemble: Any, data_config: DataConfig) -> Evaluation:
    from .ensemble import ensemble_metrics

    examples, name = load_evaluation_examples(
        data_config, ensemble.label_names, trained_split(ensemble.metadata)
    )
    start = time.perf_counter()
    probs = ensemble_probabilities(ensemble, examples.texts)  # (N, K)
    seconds = time.perf_counter() - start
    metrics = ensemble_metrics(probs, examples.labels, ensemble.label_names)
    metrics["infer_samples_per_s"] = round(len(examples) / max(seconds, 1e-9), 1)
    return Evaluation(str(path), name, ensemble.label_names, metrics)


def trained_split(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The split a model folder records it was trained with (its data source and settings)."""
    split = metadata.get("data", {}).get("split")
    return split if isinstance(split, dict) else None


def ensemble_probabilities(ensemble: Any, texts: list[str]) -> np.ndarray:
    """(N, K) an ensemble's probabilities; a text without words gets an even split."""
    from .ensemble import combine

    probs = combine(ensemble.member_probabilities(texts), ensemble.weights)  # (N, K)
    return np.nan_to_num(probs, nan=1.0 / len(ensemble.label_names))
