"""Readers that turn a data source into labelled examples (`RawSplit`s, before splitting).

Sources: the IMDB archive `aclImdb_v1.tar.gz` (Maas et al. 2011) or its extracted `aclImdb/`
folder (imdb.py), downloaded when no source is given (download.py); CSV, TSV and JSONL files
with a text and a label column; and folders with one sub-folder per class (optionally under
`train/` and `test/`).

What a reader does with bad input; never a traceback for a mistake in the user's data:

- text that is empty or only whitespace (Unicode's, so also NBSP and the like): skipped and
  counted in `Dataset.skipped["empty text"]`; a blank, missing or null label likewise under
  "empty label". Labels are stripped of surrounding whitespace (" pos" is "pos"); texts are kept
  exactly as written. A text that keeps no tokens (only punctuation or control characters) is
  kept: it becomes one padding token.
- bytes that are not UTF-8 in a CSV/TSV/JSONL file or a class folder's text file: an
  AttnclfError naming the file, the line and the fix (re-save as UTF-8). A UTF-8 byte-order
  mark is dropped. The IMDB archive and folder replace bad bytes with U+FFFD, as the published
  archive is read by everyone.
- CSV/TSV: quotes, delimiters and newlines (also U+2028) inside quoted fields are read back as
  `csv.writer` wrote them; fields of any size are accepted (csv's default cap is 128 KiB); a
  malformed file is an AttnclfError naming the line. A row with missing fields counts as empty.
- JSONL: a line that is not a JSON object, a text that is not a string, or a label that is a
  list or an object is an AttnclfError naming the line; numbers and booleans as labels are read
  as their text ("1", "True"); lone surrogates (`"\ud800"`) become U+FFFD.
- duplicate rows are kept, each as its own example (a dataset may repeat a review on purpose);
  so a duplicate may land in both train and test.
- a file or folder that cannot be read (permissions, I/O error): an AttnclfError naming it.

How the rows become train, validation and test examples is splits.py's job.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections import Counter
from pathlib import Path

from ..config import DataConfig
from ..errors import AttnclfError, first_line
from .download import download_imdb
from .examples import RawSplit
from .imdb import find_imdb_root, read_imdb_archive, read_imdb_folder

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".json": None}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def resolve_source(config: DataConfig) -> Path:
    """`--data`, else `$ATTNCLF_DATA`, else the IMDB archive, downloaded once."""
    source = config.source or os.environ.get("ATTNCLF_DATA")
    path = Path(source).expanduser() if source else download_imdb()
    if not path.exists():
        raise AttnclfError(
            f"no such file or folder: {path}; pass --data with the path of aclImdb_v1.tar.gz, "
            "an aclImdb/ folder, a CSV/TSV/JSONL file or a folder with one sub-folder per class"
        )
    return path


def read_source(
    path: Path, config: DataConfig, skipped: Counter[str]
) -> tuple[RawSplit, RawSplit | None, str]:
    """(train, test or None, name) for any supported source."""
    try:
        return _read_source(path, config, skipped)
    except OSError as error:
        where = error.filename or path
        raise AttnclfError(
            f"cannot read {where} ({error.strerror or first_line(error)}); check that it exists "
            "and that you may read it"
        ) from None


def _read_source(
    path: Path, config: DataConfig, skipped: Counter[str]
) -> tuple[RawSplit, RawSplit | None, str]:
    if path.is_dir():
        imdb_root = find_imdb_root(path)
        if imdb_root is not None:
            return *read_imdb_folder(imdb_root), "imdb"
        return read_class_folders(path, skipped)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith((".tar.gz", ".tgz")):
        return *read_imdb_archive(path), "imdb"
    if path.suffix.lower() in TABLE_SUFFIXES:
        return read_table(path, config.text_column, config.label_column, skipped), None, path.stem
    raise AttnclfError(
        f"cannot read {path}: expected aclImdb_v1.tar.gz, an aclImdb/ folder, a .csv, .tsv or "
        ".jsonl file, or a folder with one sub-folder per class"
    )


# --- anyone's labelled text -------------------------------------------------------------------


def read_class_folders(path: Path, skipped: Counter[str]) -> tuple[RawSplit, RawSplit | None, str]:
    """`path/<label>/*.txt`, or `path/train/<label>/*.txt` with `path/test/<label>/*.txt`."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        train = _read_label_folders(path / "train", skipped)
        return train, _read_label_folders(path / "test", skipped), path.name
    return _read_label_folders(path, skipped), None, path.name


def _read_label_folders(path: Path, skipped: Counter[str]) -> RawSplit:
    raw = RawSplit()
    for folder in _visible(path, folders=True):
        for file in _visible(folder, folders=False):
            text = _decode(file, file.read_bytes())
            if text.strip():
                raw.add(text, folder.name)
            else:
                skipped["empty text"] += 1
    if not raw.texts:
        raise AttnclfError(
            f"{path} has no sub-folders with text files; a folder dataset holds one sub-folder "
            "per class (e.g. pos/ and neg/), each with one text per file"
        )
    return raw


def _visible(path: Path, folders: bool) -> list[Path]:
    """Sub-folders or files of `path`, sorted, without hidden ones such as .DS_Store."""
    return sorted(
        p
        for p in path.iterdir()
        if not p.name.startswith(".") and (p.is_dir() if folders else p.is_file())
    )


def read_table(path: Path, text_column: str, label_column: str, skipped: Counter[str]) -> RawSplit:
    """Rows of a CSV, TSV or JSONL file; rows with an empty text or label are skipped and
    counted."""
    content = _decode(path, path.read_bytes())
    if path.suffix.lower() in (".jsonl", ".json"):
        numbered = _json_rows(path, content)
        columns = sorted({key for _, row in numbered for key in row})
    else:
        numbered, columns = _csv_rows(path, content, TABLE_SUFFIXES[path.suffix.lower()] or ",")
    for column, option in ((text_column, "--text-column"), (label_column, "--label-column")):
        if column not in columns:
            raise AttnclfError(
                f"{path} has no column {column!r} (its columns: {', '.join(columns) or 'none'}); "
                f"name the right one with {option}"
            )
    raw = RawSplit()
    for number, row in numbered:
        text, label = row.get(text_column), row.get(label_column)
        if text is not None and not isinstance(text, str):
            raise AttnclfError(
                f"{path}:{number}: the text ({text_column!r}) is a {type(text).__name__}, not a "
                "string; check --text-column"
            )
        if isinstance(label, (list, dict)):
            raise AttnclfError(
                f"{path}:{number}: the label ({label_column!r}) is a {type(label).__name__}; a "
                "label is a string or a number: check --label-column"
            )
        text = "" if text is None else _LONE_SURROGATE.sub("\ufffd", text)
        label = "" if label is None else _LONE_SURROGATE.sub("\ufffd", str(label)).strip()
        if not text.strip():
            skipped["empty text"] += 1
        elif not label:
            skipped["empty label"] += 1
        else:
            raw.add(text, label)
    if not raw.texts:
        raise AttnclfError(f"{path} has no rows with both a text and a label")
    return raw


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text without a byte-order mark; else an error naming the file and the line."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = bom + error.start
        line = data[:position].count(b"\n") + 1
        raise AttnclfError(
            f"{path}:{line}: not UTF-8 (byte {position}); re-save the file as UTF-8"
        ) from None


def _csv_rows(path: Path, content: str, delimiter: str) -> tuple[list[tuple[int, dict]], list]:
    """(line where the row starts, row) pairs and the header of a CSV or TSV text."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 2**31 - 1))  # a long review is one field
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    rows = []
    try:
        columns = reader.fieldnames or []
        start = reader.line_num + 1
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise AttnclfError(
            f"{path}:{reader.line_num}: not valid CSV ({error}); check the quotes on that line"
        ) from None
    finally:
        csv.field_size_limit(limit)
    return rows, list(columns)


def _json_rows(path: Path, content: str) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(content.split("\n"), start=1):  # not splitlines(): U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise AttnclfError(
                f"{path}:{number}: not a JSON object ({error.msg}); JSONL holds one object a line"
            ) from None
        if not isinstance(row, dict):
            raise AttnclfError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows
