"""Rows already in memory as a dataset: texts and labels as two lists, a pandas DataFrame or a
Hugging Face `datasets.Dataset` (`rows_dataset`), read by the rules the file readers apply
(labels.py) and split as `load_dataset` splits a file's rows (splits.split_rows)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..config import DataConfig
from ..errors import AttnclfError
from .examples import Dataset, RawSplit
from .labels import add_example
from .splits import ROWS, split_rows

# Rows in memory: a (texts, labels) pair of sequences, a pandas DataFrame, or a Hugging Face
# datasets.Dataset (anything with `column_names` whose columns are read by name)
InMemoryRows = Any
IN_MEMORY = "in-memory"  # the name of a dataset made from rows in memory


def rows_dataset(rows: InMemoryRows, config: DataConfig) -> Dataset:
    """Rows in memory split into train, validation and test as `load_dataset` splits a file's
    rows: the same rows and DataConfig give the same split."""
    skipped: Counter[str] = Counter()
    raw = rows_split(*row_columns(rows, config.text_column, config.label_column), skipped)
    return split_rows(raw, None, IN_MEMORY, config, skipped, where=ROWS)


def rows_split(texts: list[Any], labels: list[Any], skipped: Counter[str]) -> RawSplit:
    """The rows by the file readers' rules: a text must be a string; a row with an empty text or
    label is skipped and counted in `skipped`; a label is named as labels.label_name names it
    (1, 1.0 and "1" are one class, "1")."""
    raw = RawSplit()
    for number, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        if text is not None and not isinstance(text, str):
            raise AttnclfError(
                f"row {number}: the text is a {type(text).__name__}, not a string; give texts "
                "as strings (check text_column)"
            )
        add_example(raw, text, label, skipped)
    return raw


def row_columns(
    rows: InMemoryRows, text_column: str, label_column: str
) -> tuple[list[Any], list[Any]]:
    """The texts and labels of rows in memory, a missing value as None. A pandas DataFrame (if
    pandas is loaded, `rows` may be one) or a datasets.Dataset-like object is read by column;
    a datasets ClassLabel column gives its label names, not its numbers."""
    if isinstance(rows, tuple) and len(rows) == 2:
        texts, labels = list(rows[0]), list(rows[1])
        if len(texts) != len(labels):
            raise AttnclfError(f"{len(texts)} texts but {len(labels)} labels; give one per text")
        return texts, labels
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(rows, pandas.DataFrame):
        _check_columns([str(name) for name in rows.columns], text_column, label_column)

        def column(name: str) -> list[Any]:
            values = rows[name]
            return values.astype(object).where(values.notna(), None).tolist()

        return column(text_column), column(label_column)
    columns: Any = getattr(rows, "column_names", None)
    if isinstance(columns, Mapping):  # a datasets.DatasetDict: one Dataset per split
        raise AttnclfError(
            f"the rows are a dict of splits ({', '.join(map(str, columns))}); give one of them, "
            "e.g. rows['train']"
        )
    if not isinstance(columns, Sequence):
        raise AttnclfError(
            f"cannot read rows from a {type(rows).__name__}; give a DataConfig naming a file, "
            "(texts, labels), a pandas DataFrame or a datasets.Dataset"
        )
    _check_columns(list(columns), text_column, label_column)
    texts, labels = list(rows[text_column]), list(rows[label_column])
    names = getattr(getattr(rows, "features", {}).get(label_column), "names", None)
    if names:  # a ClassLabel: ids into `names`, -1 for none
        labels = [names[i] if isinstance(i, int) and 0 <= i < len(names) else None for i in labels]
    return texts, labels


def _check_columns(columns: list[str], text_column: str, label_column: str) -> None:
    for column, setting in ((text_column, "text_column"), (label_column, "label_column")):
        if column not in columns:
            raise AttnclfError(
                f"the rows have no column {column!r} (their columns: "
                f"{', '.join(columns) or 'none'}); name the right one with "
                f"DataConfig({setting}=...)"
            )
