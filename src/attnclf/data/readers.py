"""Readers that turn a data source into labelled examples (`RawSplit`s, before splitting).

Sources: the IMDB archive `aclImdb_v1.tar.gz` (Maas et al. 2011) or its extracted `aclImdb/`
folder (imdb.py), downloaded when no source is given (download.py); CSV, TSV and JSONL files
with a text and a label column; and folders with one sub-folder per class (optionally under
`train/` and `test/`).

What a reader does with bad input; never a traceback for a mistake in the user's data:

- text that is empty or only whitespace (Unicode's, so also NBSP and the like): skipped and
  counted in `Dataset.skipped["empty text"]`; a blank, missing or null label likewise under
  "empty label", and a NaN label (JSON's NaN, or the text "NaN" in any case) under "NaN label".
  Labels are stripped of surrounding whitespace (" pos" is "pos"); texts are kept exactly as
  written. A text that keeps no tokens (only punctuation or control characters) is kept: it
  becomes one padding token.
- a label that is a number names one class however it is written (`label_name`): 1, 1.0,
  "1.0", "+1" and JSON's true are all "1". Any other label is its text, as written.
- bytes that are not UTF-8 in a CSV/TSV/JSONL file or a class folder's text file, or a NUL byte
  (UTF-16, or not a text file): an AttnclfError naming the file, the line and the fix (re-save
  as UTF-8). A UTF-8 byte-order mark is dropped. The IMDB archive and folder replace bad bytes
  with U+FFFD, as the published archive is read by everyone.
- CSV/TSV: quotes, delimiters and newlines (also U+2028) inside quoted fields are read back as
  `csv.writer` wrote them; fields of any size are accepted (csv's default cap is 128 KiB); a
  malformed file (a quoted field never closed, text after a closing quote) is an AttnclfError
  naming the line: for a quote never closed, the line it opens on. A row with missing fields
  counts as empty.
- JSONL: a line that is not a JSON object (or nested too deeply to read), a text that is not a
  string, or a label that is a list or an object is an AttnclfError naming the line; lone
  surrogates (`"\ud800"`) become U+FFFD.
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
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from pathlib import Path

from ..config import DataConfig
from ..errors import AttnclfError, first_line
from .download import download_imdb
from .examples import RawSplit
from .imdb import find_imdb_root, read_imdb_archive, read_imdb_folder

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".json": None}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
NAN_LABEL = "NaN label"


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
            text = decode_utf8(file, file.read_bytes())
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
    content = decode_utf8(path, path.read_bytes())
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
        name = label_name(label)
        if not text.strip():
            skipped["empty text"] += 1
        elif name is None:
            skipped[NAN_LABEL] += 1
        elif not name:
            skipped["empty label"] += 1
        else:
            raw.add(text, name)
    if not raw.texts:
        raise AttnclfError(f"{path} has no rows with both a text and a label")
    return raw


def label_name(value: object) -> str | None:
    """The class a label names: its text, stripped; "" for none (null, blank); None for NaN.

    A number names one class however it is written: a JSON number, or a text that reads as a
    decimal number, is named by its shortest exact decimal, so 1, 1.0, "1.0", "+1", "01" and
    1e0 are all "1", -0 is "0", and 0.5 and "0.50" are "0.5". A JSON boolean is the number it
    stands for in Python (true is "1", false is "0"), so that true among 0s and 1s is not a
    class of its own. Every other label keeps its text ("pos", "Positive", "1e", "inf")."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bool, int)):
        return _number_name(Decimal(int(value)))
    if isinstance(value, float) and math.isfinite(value):
        return _number_name(Decimal(repr(value)))  # repr: the shortest decimal of the float
    text = _LONE_SURROGATE.sub("\ufffd", str(value)).strip()
    if text.lower() in ("nan", "+nan", "-nan"):
        return None
    return _number_name(Decimal(text)) if _NUMBER.fullmatch(text) else text


def _number_name(number: Decimal) -> str:
    """The shortest exact decimal of `number`: without trailing zeros, in full unless its
    exponent is large (1E+999999999 stays so)."""
    if number.is_zero():
        return "0"
    exact = Context(prec=len(number.as_tuple().digits), Emax=MAX_EMAX, Emin=MIN_EMIN)
    number = number.normalize(exact)
    return format(number, "f") if abs(number.adjusted()) <= 30 else str(number)


def decode_utf8(path: Path, data: bytes, final: bool = True) -> str:
    """UTF-8 text without a byte-order mark; else an error naming the file and the line of the
    first byte that is not UTF-8 or is NUL (UTF-16 and binary files have them). With
    `final=False`, `data` is the start of a file and may end inside a character."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    nul = data.find(b"\0", bom)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data[bom:], final)
        bad = None
    except UnicodeDecodeError as error:
        bad = bom + error.start
    if bad is None and nul < 0:
        return text
    position = min(p for p in (bad, nul) if p is not None and p >= 0)
    line = data[:position].count(b"\n") + 1
    why = ", a NUL: UTF-16, or not a text file" if position == nul else ""
    raise AttnclfError(
        f"{path}:{line}: not UTF-8 (byte {position}{why}); re-save the file as UTF-8"
    )


def text_lines(content: str) -> list[str]:
    """The texts of `content`, one a line: split at "\\n" (and "\\r\\n") only, blank lines
    left out. Not str.splitlines, which also splits at U+0085, U+2028, U+2029, \\v, \\f,
    \\x1c-\\x1e and a lone \\r, all found inside real reviews: N lines in, N texts out."""
    lines = (line.removesuffix("\r") for line in content.split("\n"))
    return [line for line in lines if line.strip()]


def _csv_rows(path: Path, content: str, delimiter: str) -> tuple[list[tuple[int, dict]], list]:
    """(line where the row starts, row) pairs and the header of a CSV or TSV text."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 2**31 - 1))  # a long review is one field
    lines = CsvLines(io.StringIO(content, newline=""))
    reader = csv.DictReader(lines, delimiter=delimiter, strict=True)
    rows = []
    try:
        columns = reader.fieldnames or []
        while True:
            start = lines.next_row()
            try:
                row = next(reader)
            except StopIteration:
                break
            rows.append((start, row))
    except csv.Error as error:
        opened = lines.unclosed_quote(delimiter)
        if opened is not None:
            raise AttnclfError(f"{path}:{opened}: {UNCLOSED_QUOTE}") from None
        raise AttnclfError(
            f"{path}:{reader.line_num}: not valid CSV ({error}); check the quotes on that line"
        ) from None
    finally:
        csv.field_size_limit(limit)
    return rows, list(columns)


UNCLOSED_QUOTE = (
    'a quoted field opens on this line and is never closed (a quote inside one is written "")'
)


class CsvLines:
    """The lines a csv.reader reads (it takes any iterator of lines), keeping those of the row
    being read: a quoted field left open swallows the rest of the file, and the line it opens
    on is what a user needs to be told."""

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self._count = 0
        self._ended = False
        self.row: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            line = next(self._lines)
        except StopIteration:
            self._ended = True
            raise
        self._count += 1
        self.row.append(line)
        return line

    def next_row(self) -> int:
        """Forget the lines of the row read; the number of the line the next one starts on."""
        self.row.clear()
        return self._count + 1

    def unclosed_quote(self, delimiter: str) -> int | None:
        """The line on which the row being read opened a quoted field still open at the end of
        the file (csv's "unexpected end of data"); None when there is no such field."""
        if not self._ended:
            return None
        text, at_start, i = "".join(self.row), True, 0
        while i < len(text):
            if at_start and text[i] == '"':
                close = text.find('"', i + 1)
                while close >= 0 and text.startswith('"', close + 1):  # "" is a quote inside
                    close = text.find('"', close + 2)
                if close < 0:
                    return self._line_of(i)
                i, at_start = close + 1, False
            else:
                at_start = text[i] in (delimiter, "\n", "\r")
                i += 1
        return None

    def _line_of(self, offset: int) -> int:
        """The number of the line holding character `offset` of the row's text."""
        for number, line in enumerate(self.row, start=self._count - len(self.row) + 1):
            if offset < len(line):
                return number
            offset -= len(line)
        return self._count


def _json_rows(path: Path, content: str) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(content.split("\n"), start=1):  # not splitlines(): U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
            raise AttnclfError(
                f"{path}:{number}: not a JSON object ({json_problem(error)}); JSONL holds one "
                "object a line"
            ) from None
        if not isinstance(row, dict):
            raise AttnclfError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def json_problem(error: ValueError | RecursionError) -> str:
    """What json.loads found wrong with a line, in a few words."""
    if isinstance(error, RecursionError):
        return "nested too deeply to read"
    return error.msg if isinstance(error, json.JSONDecodeError) else first_line(error)
