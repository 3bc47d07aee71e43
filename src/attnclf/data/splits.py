"""The examples a run trains and is judged on: a source's rows split into train, validation and
test (`load_dataset`), and the examples a trained model is scored on (`load_evaluation_examples`).

Fewer than two classes among the training examples, or fewer than 4 usable rows, is an
AttnclfError. A class with a single example loads: splits are stratified by label where every
class has enough examples, else a plain seeded random split. The same DataConfig (source, seed,
fractions, limit) gives the same split again, which is how an ensemble finds its members'
validation split.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ..config import DataConfig
from ..errors import AttnclfError
from .examples import Dataset, Examples, RawSplit
from .readers import label_name, read_source, resolve_source


def load_dataset(config: DataConfig) -> Dataset:
    """Read `config.source` (or download IMDB), split it and apply `--limit`."""
    path = resolve_source(config)
    skipped: Counter[str] = Counter()
    train, test, name = read_source(path, config, skipped)
    if test is None:
        train, test = _split_off(train, config.test_fraction, config.seed, path)
    label_names = _label_names(train.labels + test.labels)
    if len(set(train.labels)) < 2:
        only = train.labels[0] if train.labels else "none"
        raise AttnclfError(
            f"{path} has only one class ({only!r}) in its training examples; a classifier needs "
            f"at least two: check --label-column ({config.label_column!r}) and the file"
        )
    index = {label: i for i, label in enumerate(label_names)}
    train_ex = Examples(train.texts, np.array([index[x] for x in train.labels], dtype=np.int64))
    test_ex = Examples(test.texts, np.array([index[x] for x in test.labels], dtype=np.int64))
    if config.limit:
        train_ex = _stratified_sample(train_ex, config.limit, config.seed)
        test_ex = _stratified_sample(test_ex, config.limit, config.seed)
    train_ex, validation_ex = _split_examples(train_ex, config.validation_fraction, config.seed)
    split = dataclasses.replace(config, source=str(path.resolve()))
    return Dataset(name, label_names, train_ex, validation_ex, test_ex, dict(skipped), split)


def load_evaluation_examples(config: DataConfig, label_names: list[str]) -> tuple[Examples, str]:
    """The examples to score a trained model on: the source's test split when it has one, else
    every usable row. Labels must be among the model's `label_names`."""
    path = resolve_source(config)
    train, test, name = read_source(path, config, Counter())
    raw = test if test is not None else train
    index = {label: i for i, label in enumerate(label_names)}
    for i, label in enumerate(label_names):  # a model saved before label_name read "1.0" as "1"
        index.setdefault(label_name(label) or label, i)
    unknown = sorted(set(raw.labels) - set(index))
    if unknown:
        raise AttnclfError(
            f"{path} has labels {', '.join(map(repr, unknown[:5]))} that the model does not know "
            f"(it knows {', '.join(map(repr, label_names))}); check --label-column"
        )
    examples = Examples(raw.texts, np.array([index[x] for x in raw.labels], dtype=np.int64))
    if config.limit:
        examples = _stratified_sample(examples, config.limit, config.seed)
    return examples, name


def _label_names(labels: list[str]) -> list[str]:
    """Distinct labels, in numeric order when they all are numbers, else alphabetical."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)


def _split_indices(
    labels: np.ndarray | list,
    seed: int,
    test_size: float | None = None,
    train_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (first, second) index arrays, stratified by label where the sizes allow it (every
    class twice, each side at least one per class); else a plain seeded random split."""
    indices = np.arange(len(labels))
    try:
        first, second = train_test_split(
            indices, test_size=test_size, train_size=train_size, random_state=seed, stratify=labels
        )
    except ValueError:
        first, second = train_test_split(
            indices, test_size=test_size, train_size=train_size, random_state=seed
        )
    return np.sort(first), np.sort(second)


def _split_off(raw: RawSplit, fraction: float, seed: int, path: Path) -> tuple[RawSplit, RawSplit]:
    if len(raw.texts) < 4:
        raise AttnclfError(f"{path} has {len(raw.texts)} usable examples; a run needs at least 4")
    train_idx, test_idx = _split_indices(raw.labels, seed, test_size=fraction)

    def pick(idx: np.ndarray) -> RawSplit:
        return RawSplit([raw.texts[i] for i in idx], [raw.labels[i] for i in idx])

    return pick(train_idx), pick(test_idx)


def _split_examples(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    if fraction <= 0 or len(examples) < 2:
        return examples, Examples([], examples.labels[:0])
    train_idx, val_idx = _split_indices(examples.labels, seed, test_size=fraction)
    return examples.subset(train_idx), examples.subset(val_idx)


def _stratified_sample(examples: Examples, n: int, seed: int) -> Examples:
    if n >= len(examples):
        return examples
    keep, _ = _split_indices(examples.labels, seed, train_size=n)
    return examples.subset(keep)
