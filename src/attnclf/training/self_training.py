"""Self-training: unlabelled texts labelled by a teacher (a saved classifier or ensemble), the
confident ones added to the training split of a student (Yarowsky 1995; Scudder 1965's
"self-learning"). On IMDB the teacher is the record's ensemble and the texts are the archive's
50,000 unlabelled reviews, which none of the evaluation splits contains.

Only texts the teacher gives one label with probability >= `threshold` are kept, as hard labels:
the student trains with the same loss as on the labelled texts. Unlabelled texts that are also a
validation or test text are dropped first, so that no evaluated text is ever trained on.

Notation: N unlabelled texts, K labels.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DEFAULT_PSEUDO_THRESHOLD, DataConfig
from ..data.examples import Dataset, Examples
from ..data.imdb import read_unlabelled
from ..data.readers import resolve_source, text_lines
from ..errors import AttnclfError
from ..inference.classifier import TextClassifier
from ..inference.ensemble import (
    Ensemble,
    Member,
    _probabilities,
    accuracy,
    combine,
    mixture_weights,
)
from ..inference.loading import load_any

# Texts scored at a time: an ensemble's members keep every scored text's tokens until the chunk
# is combined (all 50,000 of IMDB's unlabelled reviews at once took the record run from 2.2 GB
# to 6.3 GB of resident memory)
SCORE_CHUNK = 2_048


@dataclass
class PseudoLabels:
    """The unlabelled texts a teacher was confident about, with its labels, and what it left."""

    examples: Examples
    offered: int  # unlabelled texts given
    evaluated_dropped: int  # of those, texts that are also validation or test texts
    threshold: float
    teacher: str
    seconds: float

    def summary(self, label_names: Sequence[str]) -> dict[str, Any]:
        counts = np.bincount(self.examples.labels, minlength=len(label_names))  # (K,)
        return {
            "teacher": self.teacher,
            "threshold": self.threshold,
            "offered": self.offered,
            "kept": len(self.examples),
            "evaluated_dropped": self.evaluated_dropped,
            "kept_per_label": {name: int(c) for name, c in zip(label_names, counts, strict=True)},
            "seconds": round(self.seconds, 2),
        }

    def describe(self) -> str:
        share = len(self.examples) / max(self.offered, 1)
        dropped = (
            f"; {self.evaluated_dropped:,} that are validation or test texts left out"
            if self.evaluated_dropped
            else ""
        )
        return (
            f"{len(self.examples):,} of {self.offered:,} unlabelled texts ({share:.0%}) labelled "
            f"by {self.teacher} with probability >= {self.threshold:g}{dropped} "
            f"({self.seconds:.1f} s)"
        )


def pseudo_label(
    teacher: TextClassifier | Ensemble,
    texts: Sequence[str],
    dataset: Dataset,
    threshold: float = DEFAULT_PSEUDO_THRESHOLD,
    teacher_name: str = "teacher",
    batch_size: int = 256,
) -> PseudoLabels:
    """The texts among `texts` that `teacher` labels with probability >= `threshold`, never one
    of `dataset`'s validation or test texts."""
    check_threshold(threshold)
    if list(teacher.label_names) != list(dataset.label_names):
        raise AttnclfError(
            f"the teacher {teacher_name} has labels {list(teacher.label_names)}, the data "
            f"{dataset.label_names}; give a teacher trained on the same labels"
        )
    start = time.perf_counter()
    evaluated = set(dataset.validation.texts) | set(dataset.test.texts)
    fresh = [text for text in texts if text not in evaluated]
    k = len(dataset.label_names)
    probs = np.full((len(fresh), k), np.nan)  # (N, K), NaN rows for texts without words
    for start_at in range(0, len(fresh), SCORE_CHUNK):  # each chunk's tokens freed before the next
        chunk = fresh[start_at : start_at + SCORE_CHUNK]
        probs[start_at : start_at + len(chunk)] = _probabilities(
            teacher.infer(chunk, batch_size, attention=False), k
        )
    confidence = np.nan_to_num(probs, nan=0.0).max(axis=1)  # (N,)
    kept = np.flatnonzero(confidence >= threshold)
    examples = Examples([fresh[i] for i in kept], probs[kept].argmax(axis=1).astype(np.int64))
    return PseudoLabels(
        examples,
        offered=len(texts),
        evaluated_dropped=len(texts) - len(fresh),
        threshold=threshold,
        teacher=teacher_name,
        seconds=time.perf_counter() - start,
    )


def check_threshold(threshold: float) -> None:
    if not 0.5 <= threshold < 1.0:
        raise AttnclfError(f"--pseudo-threshold {threshold} must be at least 0.5 and below 1")


def with_pseudo_labels(dataset: Dataset, labels: PseudoLabels) -> Dataset:
    """`dataset` with the pseudo-labelled texts to train on after its labelled training split
    (`Dataset.training_examples`); its splits as they were."""
    return dataclasses.replace(
        dataset,
        pseudo_labelled=labels.examples,
        pseudo_labelling=labels.summary(dataset.label_names),
    )


def read_unlabelled_file(path: Path) -> list[str]:
    """Unlabelled texts from a file, one a line (blank lines skipped; a line ends at "\\n" or
    "\\r\\n" alone, see text_lines)."""
    try:
        content = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as error:
        raise AttnclfError(f"cannot read --unlabelled {path}: {error.strerror}") from None
    texts = [line.strip() for line in text_lines(content)]
    if not texts:
        raise AttnclfError(f"--unlabelled {path} has no texts; give one text a line")
    return texts


def unlabelled_texts(data_config: DataConfig, unlabelled: Path | None) -> list[str]:
    """The texts to pseudo-label: the `unlabelled` file's, else the data's own (IMDB's 50,000
    unlabelled reviews; [] for a source without any)."""
    if unlabelled is not None:
        return read_unlabelled_file(unlabelled)
    return read_unlabelled(resolve_source(data_config))


def self_training_dataset(
    dataset: Dataset,
    data_config: DataConfig,
    teacher: Path,
    unlabelled: Path | None = None,
    threshold: float = DEFAULT_PSEUDO_THRESHOLD,
    device: str = "auto",
    log: Callable[[str], None] = print,
) -> Dataset:
    """`dataset` with the texts of `unlabelled` (else the data's own) that the saved model or
    ensemble at `teacher` labels confidently, to train on after its training split."""
    check_threshold(threshold)  # mistakes are told before any text is read
    model = load_any(teacher, device)
    texts = unlabelled_texts(data_config, unlabelled)
    if not texts:
        raise AttnclfError(
            f"{data_config.source} has no unlabelled texts of its own (only IMDB's archive has); "
            "give some with --unlabelled FILE, one text a line"
        )
    log(f"labelling {len(texts):,} unlabelled texts with {teacher}")
    labels = pseudo_label(model, texts, dataset, threshold, str(teacher))
    log(labels.describe())
    return with_pseudo_labels(dataset, labels)


@dataclass
class Teaching:
    """A comparison's self-training: its teachers weighed into one on validation, and the
    dataset their confident labels made for the students."""

    weights: dict[str, float]
    validation_accuracy: float  # the teachers' ensemble's
    labels: PseudoLabels
    dataset: Dataset

    def to_json(self) -> dict[str, Any]:
        return {
            "teacher_weights": self.weights,
            "teacher_validation_accuracy": self.validation_accuracy,
            **self.labels.summary(self.dataset.label_names),
        }


def teach(
    teachers: Mapping[str, TextClassifier],
    texts: Sequence[str],
    dataset: Dataset,
    threshold: float = DEFAULT_PSEUDO_THRESHOLD,
    log: Callable[[str], None] = print,
) -> Teaching:
    """Weigh `teachers` into one ensemble on `dataset`'s validation split (as `attnclf ensemble`
    does), and let it label the unlabelled `texts` for students."""
    validation = dataset.validation
    equal = Ensemble([Member(name, 1.0, classifier) for name, classifier in teachers.items()])
    val = equal.member_probabilities(validation.texts)  # (M, N, K)
    weights = mixture_weights(val, validation.labels) if len(validation) else equal.weights  # (M,)
    teacher = Ensemble(
        [
            Member(m.name, float(w), m.classifier)
            for m, w in zip(equal.members, weights, strict=True)
        ]
    )
    accuracy_on_validation = accuracy(combine(val, teacher.weights), validation.labels)
    log(
        f"teachers weighed on validation: {teacher.describe()} (validation accuracy "
        f"{accuracy_on_validation:.4f}); labelling {len(texts):,} unlabelled texts"
    )
    labels = pseudo_label(teacher, texts, dataset, threshold, "the teachers' ensemble")
    log(labels.describe())
    return Teaching(
        {m.name: float(w) for m, w in zip(teacher.members, teacher.weights, strict=True)},
        accuracy_on_validation,
        labels,
        with_pseudo_labels(dataset, labels),
    )
