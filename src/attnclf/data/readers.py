"""Readers that turn a data source into labelled examples (a `Source`: RawSplits, before
splitting).

Sources: the IMDB archive `aclImdb_v1.tar.gz` (Maas et al. 2011) or its extracted `aclImdb/`
folder (imdb.py), downloaded when no source is given (download.py); CSV, TSV, JSON and JSONL
files, with or without a header row (tables.py), Parquet and Arrow files and Hugging Face
datasets saved with `save_to_disk` (arrow.py), each file gzip'd or not; and folders with one
sub-folder per class (optionally under `train/` and `test/`).

What a reader does with bad input; never a traceback for a mistake in the user's data:

- text that is empty or only whitespace (Unicode's, so also NBSP and the like): skipped and
  counted in `Dataset.skipped["empty text"]`; a blank, missing or null label likewise under
  "empty label", and a NaN label (JSON's NaN, or the text "NaN" in any case) under "NaN label".
  Labels are stripped of surrounding whitespace (" pos" is "pos"); texts are kept exactly as
  written. A text that keeps no tokens (only punctuation or control characters) is kept: it
  becomes one padding token.
- a label that is a number names one class however it is written (`labels.label_name`): 1,
  1.0, "1.0", "+1" and JSON's true are all "1". Any other label is its text, as written.
- bytes that are not UTF-8 in a text file or a class folder's text file, or a NUL byte in its
  first line (UTF-16, or not a text file): an AttnclfError naming the file, the line and the
  fix (re-save as UTF-8). A UTF-8 byte-order mark is dropped. The IMDB archive and folder
  replace bad bytes with U+FFFD, as the published archive is read by everyone.
- a column named that the data does not have, a position past its last column, a file whose
  shape is not one of these: one AttnclfError that says what to type instead.
- duplicate rows are kept, each as its own example (a dataset may repeat a review on purpose);
  so a duplicate may land in both train and test.
- a file or folder that cannot be read (permissions, I/O error): an AttnclfError naming it.

How the rows become train, validation and test examples is splits.py's job.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from ..config import DataConfig
from ..errors import AttnclfError, first_line
from .arrow import is_saved_dataset, read_columnar_file, read_saved_dataset
from .download import download_imdb
from .examples import RawSplit, Source
from .imdb import find_imdb_root, read_imdb_archive, read_imdb_folder
from .lines import decode_utf8
from .tables import DELIMITERS, JSON_SUFFIXES, read_table, table_suffix

SOURCES = (
    "aclImdb_v1.tar.gz, an aclImdb/ folder, a .csv, .tsv, .json, .jsonl or .parquet file (each "
    "may be gzip'd: .csv.gz), a folder written by a Hugging Face dataset's save_to_disk, or a "
    "folder with one sub-folder per class"
)


def resolve_source(config: DataConfig) -> Path:
    """`--data`, else `$ATTNCLF_DATA`, else the IMDB archive, downloaded once."""
    source = config.source or os.environ.get("ATTNCLF_DATA")
    path = Path(source).expanduser() if source else download_imdb()
    if not path.exists():
        raise AttnclfError(
            f"no such file or folder: {path}; pass --data with the path of {SOURCES}"
        )
    return path


def read_source(path: Path, config: DataConfig, skipped: Counter[str]) -> Source:
    """The labelled rows of any supported source, and how they were read."""
    try:
        return _read_source(path, config, skipped)
    except OSError as error:
        where = error.filename or path
        raise AttnclfError(
            f"cannot read {where} ({error.strerror or first_line(error)}); check that it exists "
            "and that you may read it"
        ) from None


def _read_source(path: Path, config: DataConfig, skipped: Counter[str]) -> Source:
    if path.is_dir():
        imdb_root = find_imdb_root(path)
        if imdb_root is not None:
            return Source(*read_imdb_folder(imdb_root), "imdb")
        if is_saved_dataset(path):
            train, test, notes = read_saved_dataset(path, config, skipped)
            return Source(train, test, path.name, notes)
        return Source(*read_class_folders(path, skipped), name=path.name)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if suffixes.endswith((".tar.gz", ".tgz")):
        return Source(*read_imdb_archive(path), "imdb")
    suffix = table_suffix(path)
    if suffix in (*DELIMITERS, *JSON_SUFFIXES):
        train, notes = read_table(path, config, skipped)
    elif suffix is not None:
        train, notes = read_columnar_file(path, config, skipped)
    else:
        raise AttnclfError(f"cannot read {path}: expected {SOURCES}")
    return Source(train, None, table_name(path), notes)


def table_name(path: Path) -> str:
    """The name of a table file's data: its name without suffixes (train for train.csv.gz)."""
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem


# --- anyone's labelled text -------------------------------------------------------------------


def read_class_folders(path: Path, skipped: Counter[str]) -> tuple[RawSplit, RawSplit | None]:
    """`path/<label>/*.txt`, or `path/train/<label>/*.txt` with `path/test/<label>/*.txt`."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        train = _read_label_folders(path / "train", skipped)
        return train, _read_label_folders(path / "test", skipped)
    return _read_label_folders(path, skipped), None


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


def text_lines(content: str) -> list[str]:
    """The texts of `content`, one a line: split at "\\n" (and "\\r\\n") only, blank lines
    left out. Not str.splitlines, which also splits at U+0085, U+2028, U+2029, \\v, \\f,
    \\x1c-\\x1e and a lone \\r, all found inside real reviews: N lines in, N texts out."""
    lines = (line.removesuffix("\r") for line in content.split("\n"))
    return [line for line in lines if line.strip()]
