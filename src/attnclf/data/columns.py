"""Which columns of a table hold the text and the label: `--text-column` and `--label-column`
name them by name or by position (1 is the first column, as `cut -f` counts), several text
columns comma-separated and joined into one text (`--text-column title,description`); and
whether a CSV or TSV file's first row names its columns (`has_header`), when `--header` or
`--no-header` does not say.

A number is a position only when the table has no header row or no column of that name. Every
way of naming a column that does not fit the table is one AttnclfError that says what to type
instead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import DataConfig
from ..errors import AttnclfError
from .labels import NUMBER

# Rows after the first that header detection compares it with
SAMPLE_ROWS = 1_000


@dataclass(frozen=True)
class Columns:
    """Where a row's text and label are: indices into the row, with the names to show."""

    text: tuple[int, ...]
    label: int
    names: tuple[str, ...]  # of every column: the header's, or "column N" without one

    def describe(self, named: DataConfig) -> list[str]:
        """What the data line says of the columns: the text's and the label's where they are
        not the one column of the name the config gives."""
        text = " + ".join(self.names[i] for i in self.text)
        label = self.names[self.label]
        return [
            *([f"text: {text}"] if text != named.text_column else []),
            *([f"label: {label}"] if label != named.label_column else []),
        ]

    def text_of(self, row: Sequence[object]) -> object:
        """The row's text: its text column's value, or its text columns' values that are texts
        joined by a space (a missing or empty one left out)."""
        if len(self.text) == 1:
            return row[self.text[0]] if self.text[0] < len(row) else None
        parts = [row[i] for i in self.text if i < len(row)]
        if any(part is not None and not isinstance(part, str) for part in parts):
            return next(p for p in parts if p is not None and not isinstance(p, str))
        return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None

    def label_of(self, row: Sequence[object]) -> object:
        return row[self.label] if self.label < len(row) else None


def column_refs(value: str, header: Sequence[str] | None = None) -> list[str]:
    """What an option names: one column if the header has a column of that very name (commas
    and all), else the comma-separated names or positions."""
    if header is not None and value in header:
        return [value]
    return [part.strip() for part in value.split(",") if part.strip()]


def is_position(ref: str) -> bool:
    return ref.isascii() and ref.isdigit()


def locate_columns(
    where: Path | str,
    config: DataConfig,
    header: Sequence[str] | None,
    width: int,
    sample: Sequence[Sequence[str]] = (),
) -> Columns:
    """The text and label columns `config` names, found in a table whose columns are named by
    `header` (None: a file without a header row, `width` columns wide, whose first rows are
    `sample`)."""
    names = tuple(header) if header is not None else tuple(f"column {i + 1}" for i in range(width))
    text = [
        _index(where, ref, "--text-column", header, width, sample)
        for ref in column_refs(config.text_column, header)
    ]
    labels = [
        _index(where, ref, "--label-column", header, width, sample)
        for ref in column_refs(config.label_column, header)
    ]
    if not text or not labels:
        option = "--text-column" if not text else "--label-column"
        raise AttnclfError(f"{option} names no column; give a name or a position (1 is the first)")
    if len(labels) > 1:
        raise AttnclfError(
            f"--label-column {config.label_column} names {len(labels)} columns; a label is one "
            f"column: e.g. --label-column {column_refs(config.label_column, header)[0]}"
        )
    if labels[0] in text:
        raise AttnclfError(
            f"{where}: {names[labels[0]]!r} is both a text and the label column; name the text "
            "with --text-column and the label with --label-column"
        )
    return Columns(tuple(text), labels[0], names)


def _index(
    where: Path | str,
    ref: str,
    option: str,
    header: Sequence[str] | None,
    width: int,
    sample: Sequence[Sequence[str]],
) -> int:
    if header is not None and ref in header:
        return len(header) - 1 - list(reversed(header)).index(ref)  # the last of that name
    if is_position(ref):
        position = int(ref)
        if 1 <= position <= width:
            return position - 1
        raise AttnclfError(
            f"{where} has {width} column{'s' if width != 1 else ''}; {option} {ref} is not one "
            f"of 1 to {width} (positions count from 1, the first column)"
        )
    if header is None:
        text, label = suggested_columns(sample, width)
        raise AttnclfError(
            f"{where} has no header row (its first row: {preview(sample[0] if sample else [])}) "
            f"so its columns have no names: name them by position, 1 to {width}, e.g. "
            f"--text-column {text} --label-column {label}; or pass --header if the first row "
            "names them"
        )
    raise AttnclfError(
        f"{where} has no column {ref!r} (its columns: {', '.join(header) or 'none'}); name the "
        f"right one with {option}, by name or by position (1 is the first)"
    )


def has_header(first: Sequence[str], rest: Sequence[Sequence[str]], config: DataConfig) -> bool:
    """Whether the first row of a CSV or TSV file names its columns: `config.header` when it
    says; else yes when the row holds every column `config` names by name; else no when one of
    its values is a number or recurs in its column in the rows that follow (a header's names
    do neither), and yes otherwise."""
    if config.header is not None:
        return config.header
    named = [
        ref
        for option in (config.text_column, config.label_column)
        for ref in column_refs(option, first)
        if not is_position(ref)
    ]
    if named and all(name in first for name in named):
        return True
    for i, value in enumerate(first):
        value = value.strip()
        if not value:
            continue
        if NUMBER.fullmatch(value):
            return False
        if any(i < len(row) and row[i].strip() == value for row in rest):
            return False
    return True


def suggested_columns(sample: Sequence[Sequence[str]], width: int) -> tuple[str, str]:
    """(text, label) positions to suggest for a headerless table: the label in the column with
    the fewest distinct values, the text in the others that do not hold numbers (an id), or else
    in the longest."""
    if width < 2 or not sample:
        return "2", "1"

    def values(i: int) -> list[str]:
        return [row[i].strip() for row in sample if i < len(row)]

    label = min(range(width), key=lambda i: (len(set(values(i))), i))
    others = [i for i in range(width) if i != label]

    def numbers(i: int) -> int:
        return sum(1 for value in values(i) if NUMBER.fullmatch(value))

    text = [i for i in others if numbers(i) * 2 < len(values(i))]
    if not text:
        text = [max(others, key=lambda i: sum(map(len, values(i))))]
    return ",".join(str(i + 1) for i in text), str(label + 1)


def preview(row: Sequence[object], chars: int = 60) -> str:
    shown = ", ".join(str(value) for value in row)
    return shown if len(shown) <= chars else shown[: chars - 3].rstrip() + "..."
