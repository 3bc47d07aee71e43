"""Which test examples a gallery of explanations shows, and their explanations: a seeded pool
of a source's test split, from which `sample_for_gallery` picks right and wrong, confident and
unsure answers in equal shares, for a classifier (`explain_test_examples`) or an ensemble
beside its members (`explain_ensemble_test_examples`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import DataConfig
from ..data.examples import Examples
from ..data.splits import load_evaluation_examples
from ..evaluation.metrics import EVAL_BATCH_SIZE, predict_logits
from ..inference.classifier import TextClassifier
from ..inference.ensemble import Ensemble
from ..inference.scoring import ensemble_probabilities, trained_split
from ..models.objective import probabilities
from ..text.batches import EncodedTexts
from .ensemble import explain_ensemble
from .explanation import Explanation, explain


def sample_for_gallery(
    probabilities_of_true_label: Sequence[float] | np.ndarray,
    predicted_correct: Sequence[bool] | np.ndarray,
    n: int,
    seed: int = 0,
) -> list[int]:
    """Indices of `n` examples spread over four groups, a quarter each: right and confident,
    right and unsure, wrong and confident, wrong and unsure (in that order). "Confident" is
    the more extreme half of its group by the probability of the true label (high when right,
    low when wrong). A short group's share is filled at random from the others' leftovers.
    The same seed gives the same indices."""
    p_true = np.asarray(probabilities_of_true_label, dtype=np.float64)
    right = np.asarray(predicted_correct, dtype=bool)
    if p_true.shape != right.shape or p_true.ndim != 1:
        raise ValueError(
            f"{p_true.shape} probabilities but {right.shape} right/wrong flags; give one each"
        )
    rng = np.random.default_rng(seed)
    n = max(min(n, len(p_true)), 0)

    def halves(members: np.ndarray, confident_high: bool) -> tuple[np.ndarray, np.ndarray]:
        # Sorted from the least to the most confident; a stable sort keeps ties in index order.
        order = members[np.argsort(p_true[members] * (1 if confident_high else -1), kind="stable")]
        split = len(order) // 2
        return order[split:], order[:split]

    right_confident, right_unsure = halves(np.flatnonzero(right), confident_high=True)
    wrong_confident, wrong_unsure = halves(np.flatnonzero(~right), confident_high=False)
    groups = [right_confident, right_unsure, wrong_confident, wrong_unsure]
    shares = [n // 4 + (1 if g < n % 4 else 0) for g in range(4)]

    chosen: list[list[int]] = []
    for group, share in zip(groups, shares, strict=True):
        picked = rng.permutation(group)[:share]
        chosen.append(sorted(int(i) for i in picked))
    taken = {i for group in chosen for i in group}
    short = n - len(taken)
    if short:
        rest = np.array(sorted(set(range(len(p_true))) - taken), dtype=np.int64)
        chosen.append(sorted(int(i) for i in rng.permutation(rest)[:short]))
    return [i for group in chosen for i in group]


def gallery_indices(
    classifier: TextClassifier, data: EncodedTexts, sample: int, seed: int
) -> list[int]:
    """`sample` positions in `data` (labelled) spread over right and wrong, confident and
    unsure answers of `classifier` (see sample_for_gallery)."""
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
    examples = _gallery_pool(
        classifier.label_names, data_config, sample, seed, trained_split(classifier.metadata)
    )
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
    ensemble: Ensemble, data_config: DataConfig, sample: int, seed: int
) -> tuple[list[str], list[list[Explanation]]]:
    """explain_test_examples for an ensemble: chosen by the ensemble's answers, each text under
    the ensemble and every member (ensemble.explain_ensemble)."""
    examples = _gallery_pool(
        ensemble.label_names, data_config, sample, seed, trained_split(ensemble.metadata)
    )
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
    label_names: list[str],
    data_config: DataConfig,
    sample: int,
    seed: int,
    trained_on: dict[str, Any] | None,
) -> Examples:
    """The seeded, stratified pool of test examples a gallery is chosen from (in the file the
    model was trained on, from the rows training held out)."""
    pool = DataConfig(
        data_config.source,
        data_config.text_column,
        data_config.label_column,
        limit=max(sample * 50, 2000),
        seed=seed,
    )
    examples, _ = load_evaluation_examples(pool, label_names, trained_on)
    return examples


__all__ = [
    "explain_ensemble_test_examples",
    "explain_test_examples",
    "gallery_indices",
    "sample_for_gallery",
]
