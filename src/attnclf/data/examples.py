"""The shapes data takes on its way to a model: `RawSplit` (texts and label strings as a reader
found them), `Source` (a reader's RawSplits and how it read them), `Examples` (texts with label
indices) and `Dataset` (the train, validation and test examples of one source, made by
splits.split_rows)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..config import DataConfig


@dataclass
class Examples:
    """Texts with their labels as indices into the dataset's `label_names`."""

    texts: list[str]
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> Examples:
        return Examples([self.texts[i] for i in indices], self.labels[indices])


@dataclass
class Dataset:
    """Train, validation and test examples of one source, and what was left out on reading."""

    name: str
    label_names: list[str]
    train: Examples
    validation: Examples
    test: Examples
    skipped: dict[str, int] = field(default_factory=dict)
    # how the splits were made, so that an ensemble can find its members' validation split again
    split: DataConfig | None = None
    # unlabelled texts a teacher labelled for self-training (training/self_training.py): trained
    # on after `train`, never evaluated on; and how they were chosen (PseudoLabels.summary)
    pseudo_labelled: Examples | None = None
    pseudo_labelling: dict | None = None
    # how the reader read the source, where there is something to say ("no header row", the
    # columns joined into the text), for the data line
    reading: list[str] = field(default_factory=list)

    def training_examples(self) -> Examples:
        """What a model trains on: the labelled training split, then any pseudo-labelled texts."""
        if self.pseudo_labelled is None or not len(self.pseudo_labelled):
            return self.train
        return Examples(
            self.train.texts + self.pseudo_labelled.texts,
            np.concatenate([self.train.labels, self.pseudo_labelled.labels]),
        )

    def describe(self) -> str:
        """One line for a run's log: the split sizes, the labels, and the rows left out on
        reading with why (a NaN label, say), so that none is lost silently."""
        read = f" ({', '.join(self.reading)})" if self.reading else ""
        line = (
            f"{self.name}{read}, {len(self.train)} train / {len(self.validation)} validation / "
            f"{len(self.test)} test, labels {', '.join(self.label_names)}"
        )
        if self.skipped:
            total = sum(self.skipped.values())
            reasons = ", ".join(f"{count} {why}" for why, count in self.skipped.items())
            line += f"; {total} row{'s' if total != 1 else ''} skipped ({reasons})"
        return line

    def summary(self) -> dict:
        def counts(split: Examples) -> dict[str, int]:
            found = Counter(int(label) for label in split.labels)
            return {name: found.get(i, 0) for i, name in enumerate(self.label_names)}

        return {
            "name": self.name,
            "labels": self.label_names,
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
            "train_per_label": counts(self.train),
            "test_per_label": counts(self.test),
            "skipped": self.skipped,
            **({"read": self.reading} if self.reading else {}),
            **({"split": dataclasses.asdict(self.split)} if self.split is not None else {}),
            **({"pseudo_labelled": self.pseudo_labelling} if self.pseudo_labelling else {}),
        }


@dataclass
class RawSplit:
    """Texts and label strings as read, before labels become indices."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def add(self, text: str, label: str) -> None:
        self.texts.append(text)
        self.labels.append(label)


@dataclass
class Source:
    """What a reader made of a source: its training rows, its own test rows (None: the run
    splits some off), the data's name, and notes on how it was read for the data line."""

    train: RawSplit
    test: RawSplit | None
    name: str
    notes: list[str] = field(default_factory=list)
