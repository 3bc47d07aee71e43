"""The examples a run trains and is judged on: a source's rows split into train, validation and
test (`split_rows`, for the rows of a file read by `load_dataset` and for rows in memory), and
the examples a trained model is scored on (`load_evaluation_examples`).

Fewer than two classes among the training examples, or fewer than 4 usable rows, is an
AttnclfError. A class with a single example loads: splits are stratified by label where every
class has enough examples, else a plain seeded random split. The same DataConfig (source, seed,
fractions, limit) gives the same split again, which is how an ensemble finds its members'
validation split.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from ..config import DataConfig, from_dict
from ..errors import AttnclfError
from .examples import Dataset, Examples, RawSplit
from .labels import label_name
from .readers import read_source, resolve_source

ROWS = "the rows"  # what errors call rows in memory (memory.py), which have no path


def load_dataset(config: DataConfig) -> Dataset:
    """Read `config.source` (or download IMDB), split it and apply `--limit`."""
    path = resolve_source(config)
    skipped: Counter[str] = Counter()
    source = read_source(path, config, skipped)
    dataset = split_rows(source.train, source.test, source.name, config, skipped, where=str(path))
    dataset.reading = source.notes
    dataset.split = dataclasses.replace(config, source=str(path.resolve()))
    return dataset


def split_rows(
    train: RawSplit,
    test: RawSplit | None,
    name: str,
    config: DataConfig,
    skipped: Mapping[str, int],
    *,
    where: str,
    label_names: Sequence[str] | None = None,
) -> Dataset:
    """A source's rows as train, validation and test examples: `test` (None: `config`'s
    test_fraction of `train`, stratified by label), `config`'s limit and validation_fraction of
    what is left for training, all drawn with its seed; the same rows and config give the same
    split. Labels become indices into `label_names` (default: the distinct labels, in numeric
    order when they all are numbers, else alphabetical). `where` names the rows in errors: a
    path, or ROWS for rows in memory."""
    has = "have" if where == ROWS else "has"
    if test is None:
        if len(train.texts) < 4:
            raise AttnclfError(
                f"{where} {has} {len(train.texts)} usable examples; a run needs at least 4"
            )
        train, test = _split_off(train, config.test_fraction, config.seed)
    if len(set(train.labels)) < 2:
        only = train.labels[0] if train.labels else "none"
        setting = "label_column" if where == ROWS else "--label-column"
        raise AttnclfError(
            f"{where} {has} only one class ({only!r}) in {'their' if where == ROWS else 'its'} "
            f"training examples; a classifier needs at least two: check {setting} "
            f"({config.label_column!r}){'' if where == ROWS else ' and the file'}"
        )
    if label_names is None:
        label_names = _label_names(train.labels + test.labels)
    names = list(label_names)
    index = {label: i for i, label in enumerate(names)}
    train_ex = Examples(train.texts, np.array([index[x] for x in train.labels], dtype=np.int64))
    test_ex = Examples(test.texts, np.array([index[x] for x in test.labels], dtype=np.int64))
    if config.limit:
        train_ex = _stratified_sample(train_ex, config.limit, config.seed)
        test_ex = _stratified_sample(test_ex, config.limit, config.seed)
    train_ex, validation_ex = _split_examples(train_ex, config.validation_fraction, config.seed)
    return Dataset(name, names, train_ex, validation_ex, test_ex, dict(skipped))


def load_evaluation_examples(
    config: DataConfig, label_names: list[str], trained_on: Mapping[str, Any] | None = None
) -> tuple[Examples, str]:
    """The examples to score a trained model on: the source's test split when it has one, else
    every usable row, except in the file the model was trained on (`trained_on`, the split its
    folder records): there, the test split training held out, since the model saw the other
    rows. Labels must be among the model's `label_names`."""
    path = resolve_source(config)
    source = read_source(path, config, Counter())
    raw = source.test if source.test is not None else source.train
    index = {label: i for i, label in enumerate(label_names)}
    for i, label in enumerate(label_names):  # a model saved before label_name read "1.0" as "1"
        index.setdefault(label_name(label) or label, i)
    unknown = sorted(set(raw.labels) - set(index))
    if unknown:
        raise AttnclfError(
            f"{path} has labels {', '.join(map(repr, unknown[:5]))} that the model does not know "
            f"(it knows {', '.join(map(repr, label_names))}); check --label-column"
        )
    labels = np.array([index[x] for x in raw.labels], dtype=np.int64)
    name = source.name
    if source.test is None and _is_training_file(path, trained_on):
        examples = _held_out(raw.texts, labels, name, path, label_names, trained_on)
        name = f"{name}: the {len(examples):,} rows its training held out as a test split"
    else:
        examples = Examples(raw.texts, labels)
    if config.limit:
        examples = _stratified_sample(examples, config.limit, config.seed)
    return examples, name


def _is_training_file(path: Path, trained_on: Mapping[str, Any] | None) -> bool:
    recorded = (trained_on or {}).get("source")
    return isinstance(recorded, str) and Path(recorded).resolve() == path.resolve()


def _held_out(
    texts: list[str],
    labels: np.ndarray,
    name: str,
    path: Path,
    label_names: list[str],
    trained_on: Mapping[str, Any] | None,
) -> Examples:
    """The test split of the rows that training drew with its recorded settings (`labels`:
    indices into the model's `label_names`)."""
    recorded = from_dict(DataConfig, dict(trained_on or {}))
    rows = RawSplit(texts, [label_names[i] for i in labels])
    return split_rows(rows, None, name, recorded, {}, where=str(path), label_names=label_names).test


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


def _split_off(raw: RawSplit, fraction: float, seed: int) -> tuple[RawSplit, RawSplit]:
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
