"""Batch predictions for a file: every row of a CSV, TSV or JSONL file (gzip'd or not) in, the
same rows out with the predicted label, its probability and the probability of every label,
streamed (rows are read, classified and written a batch at a time, so a file of any size fits
in memory).

A row that cannot be read (a CSV row with the wrong number of fields, a quoted field never
closed, a line that is not a JSON object or is nested too deeply, bytes that are not UTF-8, an
empty text, a text with no words) is left out and reported with its line number; the rest carry
on. A file whose first line is not UTF-8 (UTF-16, a binary file) is an AttnclfError, the one
`train` gives. The output is written to a temporary file beside `out` and renamed when
complete, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..data.lines import UNCLOSED_QUOTE, CsvLines, decode_utf8, json_problem, open_binary
from ..errors import AttnclfError
from ..runtime.files import atomic_write

if TYPE_CHECKING:
    from .classifier import TextScorer

SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None}


@dataclass
class FileReport:
    """What a run did: rows written, and (line, reason) for each row left out."""

    written: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _kind(path: Path, what: str) -> str | None:
    suffix = path.suffix.lower()
    if what == "--data" and suffix == ".gz":  # read through gzip
        suffix = path.with_suffix("").suffix.lower()
    if suffix not in SUFFIXES:
        gzipped = " (or those gzip'd: .csv.gz)" if what == "--data" else ""
        raise AttnclfError(f"{what} {path} is not .csv, .tsv or .jsonl{gzipped}; name it so")
    return SUFFIXES[suffix]


def read_rows(
    path: Path, text_column: str
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, row, None) for each readable row, (line, None, reason) for each that is not."""
    delimiter = _kind(path, "--data")
    _check_first_line(path)
    # surrogateescape keeps going past bytes that are not UTF-8; rows holding them are reported
    with open_binary(path) as raw:
        handle = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        if delimiter is None:
            yield from _json_rows(handle, text_column)
        else:
            yield from _csv_rows(handle, delimiter, text_column, path)


def _check_first_line(path: Path) -> None:
    """A file whose first line (a header, or the first JSON object) is not UTF-8 is not a file
    with some bad rows but one in another encoding (UTF-16) or no text at all: one error."""
    with open_binary(path) as handle:
        head = handle.readline(1 << 20)
    decode_utf8(path, head, final=head.endswith(b"\n") or len(head) < 1 << 20, table=True)


def _check(number: int, row: dict[str, Any], text_column: str) -> str | None:
    text = row.get(text_column)
    if not isinstance(text, str):
        return f"no text in column {text_column!r}"
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return "not UTF-8"
    if not text.strip():
        return f"an empty text in column {text_column!r}"
    return None


def _json_rows(
    handle: TextIO, text_column: str
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            yield number, None, f"not a JSON object ({json_problem(error)})"
            continue
        if not isinstance(row, dict):
            yield number, None, f"a JSON {type(row).__name__}, not an object"
            continue
        problem = _check(number, row, text_column)
        yield (number, None, problem) if problem else (number, row, None)


def _csv_rows(
    handle: TextIO, delimiter: str, text_column: str, path: Path
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 2**31 - 1))  # a long review is one field
    try:
        lines = CsvLines(handle)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise AttnclfError(f"{path} is empty; it needs a header row") from None
        except csv.Error as error:
            raise AttnclfError(f"{path}:1: the header is not valid CSV ({error})") from None
        if text_column not in header:
            raise AttnclfError(
                f"{path} has no column {text_column!r} (its columns: {', '.join(header)}); "
                "name the right one with --text-column"
            )
        while True:
            number = lines.next_row()
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                opened = lines.unclosed_quote(delimiter)
                if opened is not None:
                    yield opened, None, UNCLOSED_QUOTE
                else:
                    yield number, None, f"not valid CSV ({error})"
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                yield number, None, f"{len(fields)} fields where the header has {len(header)}"
                continue
            row = dict(zip(header, fields, strict=True))
            problem = _check(number, row, text_column)
            yield (number, None, problem) if problem else (number, row, None)
    finally:
        csv.field_size_limit(limit)


def predict_file(
    classifier: TextScorer,
    source: Path,
    out: Path,
    text_column: str = "text",
    batch_size: int = 256,
    on_rows: Callable[[int], None] = lambda n: None,
) -> FileReport:
    """Classify every readable row of `source` into `out` (CSV, TSV or JSONL, by its suffix).

    The output columns are the input's, then `label`, `probability` and `probability_<label>`
    for each label; when the input already has any of those names, they are prefixed with
    `predicted_`. `on_rows(n)` is called after each batch (a progress bar)."""
    if not source.is_file():
        raise AttnclfError(f"no such file: {source}; --data takes a CSV, TSV or JSONL file")
    out_delimiter = _kind(out, "--out")
    if out.resolve() == source.resolve():
        raise AttnclfError(f"--out {out} is the --data file; write the predictions elsewhere")
    labels = classifier.label_names
    report = FileReport()
    rows = read_rows(source, text_column)
    first = next(rows, None)  # a missing column is said now, before anything is written
    if first is not None:
        rows = itertools.chain([first], rows)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer: Any = None
            names: list[str] = []
            batch: list[tuple[int, dict[str, Any]]] = []

            def flush() -> None:
                nonlocal writer, names
                if not batch:
                    return
                kept = []
                for number, row in batch:
                    if _has_words(row[text_column]):
                        kept.append((number, row))
                    else:
                        report.skipped.append((number, "no words to classify"))
                predictions = classifier.predict([r[text_column] for _, r in kept]) if kept else []
                for (number, row), prediction in zip(kept, predictions, strict=True):
                    if writer is None:
                        names = _column_names(list(row), labels)
                        writer = _writer(handle, out_delimiter, list(row) + names)
                    values = [prediction.label, prediction.probability]
                    values += [prediction.probabilities[label] for label in labels]
                    try:
                        writer(row | dict(zip(names, values, strict=True)))
                    except RecursionError:  # read at the edge of the depth json can take
                        report.skipped.append((number, "nested too deeply to write"))
                        continue
                    report.written += 1
                on_rows(len(batch))
                batch.clear()

            for number, row, problem in rows:
                if row is None:
                    report.skipped.append((number, problem or "unreadable"))
                    on_rows(1)
                    continue
                batch.append((number, row))
                if len(batch) >= batch_size:
                    flush()
            flush()

    atomic_write(out, write)
    report.skipped.sort()
    return report


def _has_words(text: str) -> bool:
    from ..text.tokens import tokenize

    return bool(tokenize(text))


def _column_names(columns: list[str], labels: list[str]) -> list[str]:
    names = ["label", "probability", *(f"probability_{label}" for label in labels)]
    if set(names) & set(columns):
        names = [f"predicted_{name}" for name in names]
    return names


def _writer(handle: TextIO, delimiter: str | None, columns: list[str]) -> Callable[[dict], None]:
    if delimiter is None:

        def write_line(row: dict) -> None:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

        return write_line
    writer = csv.DictWriter(handle, columns, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()

    def write(row: dict) -> None:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
        )

    return write
