"""Bytes to text, a line at a time: a file opened whether or not it is gzip'd (`open_binary`),
its lines decoded as UTF-8 with the line and byte of the first that is not (`utf8_lines`,
`decode_utf8`), and the records of a CSV or TSV text with the line each starts on
(`csv_records`), malformed ones named by line."""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import re
import zlib
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import AttnclfError, first_line

GZIP_MAGIC = b"\x1f\x8b"
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # after a "\r" that no "\n" follows
UNCLOSED_QUOTE = (
    'a quoted field opens on this line and is never closed (a quote inside one is written "")'
)


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """`path` for reading bytes, decompressed on the fly when it is gzip'd (by its first bytes,
    whatever its name); a damaged gzip stream is an AttnclfError naming the file."""
    handle: BinaryIO = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # type: ignore[assignment]
    try:
        with handle:
            yield handle
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise AttnclfError(
            f"cannot read {path}: its gzip stream is damaged or cut short ({first_line(error)}); "
            "compress it again, or give the file uncompressed"
        ) from None


def utf8_lines(path: Path, handle: BinaryIO) -> Iterator[str]:
    """The lines of `handle`, split at "\\n" only (kept at their ends), as UTF-8 without a
    byte-order mark; the first byte that is not UTF-8, or a NUL in the first line, is an
    AttnclfError naming the file, its line and its byte, as `decode_utf8` names them."""
    offset = 0
    for number, raw in enumerate(handle, start=1):
        start = len(codecs.BOM_UTF8) if number == 1 and raw.startswith(codecs.BOM_UTF8) else 0
        try:
            text = raw[start:].decode("utf-8")
            bad = None
        except UnicodeDecodeError as error:
            bad = start + error.start
        # NUL is UTF-8, but a first line with one is UTF-16 (ASCII text has a NUL in every
        # other byte) or binary, not text with garbage column names; later, it is a character
        nul = raw.find(b"\0") if number == 1 else -1
        if bad is not None or nul >= 0:
            position = min(p for p in (bad, nul) if p is not None and p >= 0)
            raise not_utf8(path, number, offset + position, position == nul)
        offset += len(raw)
        yield text


def decode_utf8(path: Path, data: bytes, final: bool = True, table: bool = False) -> str:
    """UTF-8 text without a byte-order mark; else an error naming the file and the line of the
    first byte that is not UTF-8, or, with `table`, of a NUL in the first line (a table's
    header or first row: UTF-16 or binary). With `final=False`, `data` is the start of a file
    and may end inside a character."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    first_end = data.find(b"\n", bom)
    nul = data.find(b"\0", bom, first_end if first_end >= 0 else len(data)) if table else -1
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data[bom:], final)
        bad = None
    except UnicodeDecodeError as error:
        bad = bom + error.start
    if bad is None and nul < 0:
        return text
    position = min(p for p in (bad, nul) if p is not None and p >= 0)
    raise not_utf8(path, data[:position].count(b"\n") + 1, position, position == nul)


def not_utf8(path: Path, line: int, position: int, nul: bool) -> AttnclfError:
    why = ", a NUL: UTF-16, or not a text file" if nul else ""
    return AttnclfError(
        f"{path}:{line}: not UTF-8 (byte {position}{why}); re-save the file as UTF-8"
    )


def json_problem(error: ValueError | RecursionError) -> str:
    """What json.loads found wrong with a line, in a few words."""
    if isinstance(error, RecursionError):
        return "nested too deeply to read"
    return error.msg if isinstance(error, json.JSONDecodeError) else first_line(error)


# --- CSV and TSV ------------------------------------------------------------------------------


def csv_records(
    path: Path, lines: Iterable[str], delimiter: str
) -> Generator[tuple[int, list[str]], None, None]:
    """(line the record starts on, its fields) for each record of a CSV or TSV text given as
    lines ending in "\\n" (utf8_lines'); blank lines are left out. Quotes, delimiters and line
    breaks (also a lone "\\r", and U+2028) inside quoted fields are read back as csv.writer
    wrote them, fields of any size. A malformed record is an AttnclfError naming its line: for
    a quoted field never closed, the line it opens on."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 2**31 - 1))  # a long review is one field
    rows = CsvLines(piece for line in lines for piece in _split_lone_cr(line))
    reader = csv.reader(rows, delimiter=delimiter, strict=True)
    try:
        while True:
            start = rows.next_row()
            try:
                fields = next(reader)
            except StopIteration:
                return
            if fields:
                yield start, fields
    except csv.Error as error:
        opened = rows.unclosed_quote(delimiter)
        if opened is not None:
            raise AttnclfError(f"{path}:{opened}: {UNCLOSED_QUOTE}") from None
        raise AttnclfError(
            f"{path}:{reader.line_num}: not valid CSV ({error}); check the quotes on that line"
        ) from None
    finally:
        csv.field_size_limit(limit)


def _split_lone_cr(line: str) -> list[str]:
    """A line split after each "\\r" no "\\n" follows, as a text file opened with newline=""
    ends its lines (csv reads a lone "\\r" as a line break)."""
    return _LONE_CR.split(line) if "\r" in line else [line]


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
