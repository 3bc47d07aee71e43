"""CSV, TSV, JSON and JSONL files of labelled text (each may be gzip'd) read into a RawSplit,
a row at a time: only the texts and labels are kept, so a large file needs no more memory than
its examples (a JSON array, which is one value, is read whole).

- CSV/TSV: with a header row or without one (detected from the first rows, or said with
  `--header` / `--no-header`); columns by name or by position (columns.py). Quotes, delimiters
  and line breaks inside quoted fields are read back as csv.writer wrote them; a malformed file
  (a quoted field never closed, text after a closing quote) is an AttnclfError naming the line:
  for a quote never closed, the line it opens on. A row with missing fields counts as empty.
- JSONL: one object a line. JSON: an array of objects, or objects one a line. A line that is
  not a JSON object (or is nested too deeply to read), a text that is not a string, or a label
  that is a list or an object is an AttnclfError naming the line (or the array's item); lone
  surrogates ("\\ud800") become U+FFFD.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import closing
from itertools import chain, islice
from pathlib import Path

from ..config import DataConfig
from ..errors import AttnclfError
from .columns import SAMPLE_ROWS, Columns, column_refs, has_header, locate_columns
from .examples import RawSplit
from .labels import add_example
from .lines import csv_records, is_gzip, json_problem, open_binary, utf8_lines

DELIMITERS = {".csv": ",", ".tsv": "\t"}
JSON_SUFFIXES = (".json", ".jsonl")
# What `--data` takes by the end of its name (before any .gz), and how the data line calls it
TABLE_SUFFIXES = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".jsonl": "JSONL",
    ".json": "JSON",
    ".parquet": "Parquet",
    ".arrow": "Arrow",
}
ONE_ROW_A_LINE = "JSONL holds one object a line"


def table_suffix(path: Path) -> str | None:
    """The format suffix of a table file, ".csv" for reviews.csv and reviews.csv.gz alike."""
    name = path.name.lower().removesuffix(".gz")
    suffix = name[name.rfind(".") :] if "." in name else ""
    return suffix if suffix in TABLE_SUFFIXES else None


def read_table(path: Path, config: DataConfig, skipped: Counter[str]) -> tuple[RawSplit, list[str]]:
    """The labelled rows of a CSV, TSV, JSON or JSONL file, and what the data line should say
    of how they were read (a header row not found, the columns, gzip)."""
    suffix = table_suffix(path) or ""
    with open_binary(path) as handle:
        lines = utf8_lines(path, handle)
        if suffix in DELIMITERS:
            raw, notes = read_csv(path, lines, DELIMITERS[suffix], config, skipped)
        else:
            raw, notes = read_json(path, lines, config, skipped)
    if is_gzip(path):
        notes.insert(0, "gzip")
    if not raw.texts:
        raise AttnclfError(f"{path} has no rows with both a text and a label")
    return raw, notes


def read_csv(
    path: Path, lines: Iterable[str], delimiter: str, config: DataConfig, skipped: Counter[str]
) -> tuple[RawSplit, list[str]]:
    with closing(csv_records(path, lines, delimiter)) as records:
        head = [fields for _, fields in islice(records, SAMPLE_ROWS + 1)]
        header = has_header(head[0], head[1:], config) if head else True
        names = (head[0] if head else []) if header else None
        width = len(names) if names is not None else max(map(len, head), default=0)
        columns = locate_columns(path, config, names, width, head)
        raw = RawSplit()
        for fields in chain(head[1:] if header else head, (fields for _, fields in records)):
            text = columns.text_of(fields)  # fields are strings: so is the text, or None
            add_example(
                raw, text if isinstance(text, str) else None, columns.label_of(fields), skipped
            )
    notes = columns.describe(config)
    if not header:
        told = config.header is not None
        notes.insert(
            0,
            "no header row (--no-header)"
            if told
            else "no header row (detected: --header reads the first row as column names)",
        )
    return raw, notes


# --- JSON and JSONL ---------------------------------------------------------------------------


def read_json(
    path: Path, lines: Iterable[str], config: DataConfig, skipped: Counter[str]
) -> tuple[RawSplit, list[str]]:
    shape, objects = json_objects(path, lines)
    first: tuple[str, dict] | None = next(objects, None)
    keys = list(first[1]) if first is not None else []
    text_keys = column_refs(config.text_column, keys)
    label_keys = column_refs(config.label_column, keys)
    if not text_keys:
        raise AttnclfError("--text-column names no column; give the key of the texts")
    if len(label_keys) != 1 or label_keys[0] in text_keys:
        raise AttnclfError(
            f"--label-column {config.label_column} names {len(label_keys)} columns; a label is "
            "one column (a key of the JSON objects) and not a text column"
        )
    names = (*text_keys, label_keys[0])
    columns = Columns(tuple(range(len(text_keys))), len(text_keys), names)
    seen: set[str] = set()
    raw = RawSplit()
    for where, row in chain([first] if first is not None else [], objects):
        seen.update(row)
        values = [row.get(name) for name in names]
        text, label = columns.text_of(values), columns.label_of(values)
        if text is not None and not isinstance(text, str):
            raise AttnclfError(
                f"{where}: the text ({config.text_column!r}) is a {type(text).__name__}, not a "
                "string; check --text-column"
            )
        if isinstance(label, (list, dict)):
            raise AttnclfError(
                f"{where}: the label ({config.label_column!r}) is a {type(label).__name__}; a "
                "label is a string or a number: check --label-column"
            )
        add_example(raw, text, label, skipped)
    for name in names:
        if name not in seen:
            option = "--label-column" if name == names[-1] else "--text-column"
            raise AttnclfError(
                f"{path} has no column {name!r} (its columns: {', '.join(sorted(seen)) or 'none'}"
                f"); name the right one with {option} (JSON objects name their columns: by "
                "name, not by position)"
            )
    return raw, [*([shape] if shape == "JSON array" else []), *columns.describe(config)]


def json_objects(path: Path, lines: Iterable[str]) -> tuple[str, Iterator[tuple[str, dict]]]:
    """("JSON array" or "JSONL", the (where, object) of each row): a file whose first value
    opens with "[" is one array of objects, read whole; any other holds an object a line."""
    lines = iter(lines)
    opening: list[str] = []
    for line in lines:
        opening.append(line)
        if line.strip():
            break
    if opening and opening[-1].lstrip().startswith("["):
        content = "".join(chain(opening, lines))
        array = _json_array(path, content)
        if array is not None:
            return "JSON array", array
        lines = iter(content.split("\n"))  # not one array: arrays one a line, say, as JSONL
        opening = []
    return "JSONL", _jsonl_objects(path, chain(opening, lines))


def _json_array(path: Path, content: str) -> Iterator[tuple[str, dict]] | None:
    """The items of a JSON array, which must be objects; None when `content` is not one JSON
    value but several (JSONL of arrays)."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError) as error:
        if isinstance(error, json.JSONDecodeError) and error.msg == "Extra data":
            return None
        line = f":{error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise AttnclfError(
            f"{path}{line}: not valid JSON ({json_problem(error)}); a .json file holds an array "
            f"of objects, or one object a line"
        ) from None
    if not isinstance(value, list):
        return None

    def items() -> Iterator[tuple[str, dict]]:
        for number, item in enumerate(value, start=1):
            if not isinstance(item, dict):
                raise AttnclfError(
                    f"{path}: item {number} of its array is a {type(item).__name__}, not an "
                    'object; give one object per example: [{"text": ..., "label": ...}, ...]'
                )
            yield f"{path}: item {number}", item

    return items()


def _jsonl_objects(path: Path, lines: Iterable[str]) -> Iterator[tuple[str, dict]]:
    lines = iter(lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            whole = _one_value(line + "".join(lines)) if line.strip() in ("{", "[") else None
            if isinstance(whole, dict):
                keys = ", ".join(list(map(str, whole))[:5])
                raise AttnclfError(
                    f"{path} holds one JSON object (keys: {keys}), not rows; save the rows as a "
                    "JSON array of objects or as JSONL, one object a line (pandas: "
                    "frame.to_json(path, orient='records', lines=True))"
                ) from None
            raise AttnclfError(
                f"{path}:{number}: not a JSON object ({json_problem(error)}); {ONE_ROW_A_LINE}"
            ) from None
        if not isinstance(row, dict):
            raise AttnclfError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        yield f"{path}:{number}", row


def _one_value(content: str) -> object:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None
