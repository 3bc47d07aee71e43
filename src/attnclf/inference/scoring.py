"""Saved models put to work on data: scoring a model folder on a data source, and choosing the
test examples a gallery of explanations shows. Inference only: no training code is imported."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import DataConfig
from ..data.readers import Examples, load_evaluation_examples
from ..evaluation.metrics import (
    EVAL_BATCH_SIZE,
    classification_metrics,
    predict_logits,
    timed_predict,
)
from ..explain.explanation import Explanation, explain, sample_for_gallery
from ..models.objective import probabilities
from ..text.batches import EncodedTexts
from .classifier import TextClassifier


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
    single file without a test split)."""
    from .ensemble import Ensemble, load_any

    loaded = load_any(path, device)
    if isinstance(loaded, Ensemble):
        return _evaluate_ensemble(path, loaded, data_config)
    classifier = loaded
    examples, name = load_evaluation_examples(data_config, classifier.label_names)
    encoded = classifier.encode(examples.texts)
    logits, per_s = timed_predict(classifier.model, encoded, EVAL_BATCH_SIZE, classifier.device)
    metrics = classification_metrics(logits, examples.labels, classifier.label_names)
    metrics["infer_samples_per_s"] = round(per_s, 1)
    return Evaluation(str(path), name, classifier.label_names, metrics)


def _evaluate_ensemble(path: str | Path, ensemble: Any, data_config: DataConfig) -> Evaluation:
    from .ensemble import ensemble_metrics

    examples, name = load_evaluation_examples(data_config, ensemble.label_names)
    start = time.perf_counter()
    probs = ensemble_probabilities(ensemble, examples.texts)  # (N, K)
    seconds = time.perf_counter() - start
    metrics = ensemble_metrics(probs, examples.labels, ensemble.label_names)
    metrics["infer_samples_per_s"] = round(len(examples) / max(seconds, 1e-9), 1)
    return Evaluation(str(path), name, ensemble.label_names, metrics)


def ensemble_probabilities(ensemble: Any, texts: list[str]) -> np.ndarray:
    """(N, K) an ensemble's probabilities; a text without words gets an even split."""
    from .ensemble import combine

    probs = combine(ensemble.member_probabilities(texts), ensemble.weights)  # (N, K)
    return np.nan_to_num(probs, nan=1.0 / len(ensemble.label_names))


def gallery_indices(
    classifier: TextClassifier, data: EncodedTexts, sample: int, seed: int
) -> list[int]:
    """`sample` positions in `data` (labelled) spread over right and wrong, confident and
    unsure answers of `classifier` (see explain.sample_for_gallery)."""
    probs = probabilities(
        predict_logits(classifier.model, data, EVAL_BATCH_SIZE, classifier.device)
    )  # (N, K)
    p_true = probs[np.arange(len(data)), data.labels]
    return [
        int(i) for i in sample_for_gallery(p_true, probs.argmax(1) == data.labels, sample, seed)
    ]


def explain_test_examples(
    classifier: TextClassifier, data_config: DataConfig, sample: int, seed: int
) -> list[Explanation]:
    """Explanations of `sample` test examples of a source, right and wrong, confident and
    unsure, chosen from a seeded, stratified pool of max(50 x sample, 2,000)."""
    examples = _gallery_pool(classifier.label_names, data_config, sample, seed)
    encoded = EncodedTexts.from_sequences(
        classifier.encoder.encode_many(examples.texts), examples.labels
    )
    chosen = gallery_indices(classifier, encoded, sample, seed)
    return explain(
        classifier,
        [examples.texts[i] for i in chosen],
        [classifier.label_names[examples.labels[i]] for i in chosen],
    )


def explain_ensemble_test_examples(
    ensemble: Any, data_config: DataConfig, sample: int, seed: int
) -> tuple[list[str], list[list[Explanation]]]:
    """explain_test_examples for an ensemble: chosen by the ensemble's answers, each text under
    the ensemble and every member (ensemble.explain_ensemble)."""
    from .ensemble import explain_ensemble

    examples = _gallery_pool(ensemble.label_names, data_config, sample, seed)
    probs = ensemble_probabilities(ensemble, examples.texts)  # (N, K)
    p_true = probs[np.arange(len(examples)), examples.labels]
    correct = probs.argmax(1) == examples.labels
    chosen = [int(i) for i in sample_for_gallery(p_true, correct, sample, seed)]
    return explain_ensemble(
        ensemble,
        [examples.texts[i] for i in chosen],
        [ensemble.label_names[examples.labels[i]] for i in chosen],
    )


def _gallery_pool(
    label_names: list[str], data_config: DataConfig, sample: int, seed: int
) -> Examples:
    """The seeded, stratified pool of test examples a gallery is chosen from."""
    pool = DataConfig(
        data_config.source,
        data_config.text_column,
        data_config.label_column,
        limit=max(sample * 50, 2000),
        seed=seed,
    )
    examples, _ = load_evaluation_examples(pool, label_names)
    return examples
