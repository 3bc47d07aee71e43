"""Readers that turn a data source into labelled examples, and the splits a run trains on.

Sources: the IMDB archive `aclImdb_v1.tar.gz` (Maas et al. 2011) or its extracted `aclImdb/`
folder, downloaded when no source is given; CSV, TSV and JSONL files with a text and a label
column; and folders with one sub-folder per class (optionally under `train/` and `test/`).

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
- fewer than two classes among the training examples, or fewer than 4 usable rows: an
  AttnclfError. A class with a single example loads: splits are stratified by label where every
  class has enough examples, else a plain seeded random split.
- a file or folder that cannot be read (permissions, I/O error): an AttnclfError naming it.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import io
import json
import os
import re
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ..config import DataConfig
from ..errors import AttnclfError, first_line
from ..runtime.files import atomic_write
from .download import cache_home, download_imdb, file_digest

IMDB_LABELS = {"neg": "negative", "pos": "positive"}
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".json": None}
PARSED_CACHE_VERSION = 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    # unlabelled texts a teacher labelled for self-training (pseudo_labels.py): trained on after
    # `train`, never evaluated on; and how they were chosen (PseudoLabels.summary)
    pseudo_labelled: Examples | None = None
    pseudo_labelling: dict | None = None

    def training_examples(self) -> Examples:
        """What a model trains on: the labelled training split, then any pseudo-labelled texts."""
        if self.pseudo_labelled is None or not len(self.pseudo_labelled):
            return self.train
        return Examples(
            self.train.texts + self.pseudo_labelled.texts,
            np.concatenate([self.train.labels, self.pseudo_labelled.labels]),
        )

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


def load_dataset(config: DataConfig) -> Dataset:
    """Read `config.source` (or download IMDB), split it and apply `--limit`."""
    path = resolve_source(config)
    skipped: Counter[str] = Counter()
    train, test, name = read_source(path, config, skipped)
    if test is None:
        train, test = _split_off(train, config.test_fraction, config.seed, path)
    label_names = _label_names(train.labels + test.labels)
    if len(set(train.labels)) < 2:
        only = train.labels[0] if train.labels else "none"
        raise AttnclfError(
            f"{path} has only one class ({only!r}) in its training examples; a classifier needs "
            f"at least two: check --label-column ({config.label_column!r}) and the file"
        )
    index = {label: i for i, label in enumerate(label_names)}
    train_ex = Examples(train.texts, np.array([index[x] for x in train.labels], dtype=np.int64))
    test_ex = Examples(test.texts, np.array([index[x] for x in test.labels], dtype=np.int64))
    if config.limit:
        train_ex = _stratified_sample(train_ex, config.limit, config.seed)
        test_ex = _stratified_sample(test_ex, config.limit, config.seed)
    train_ex, validation_ex = _split_examples(train_ex, config.validation_fraction, config.seed)
    split = dataclasses.replace(config, source=str(path.resolve()))
    return Dataset(name, label_names, train_ex, validation_ex, test_ex, dict(skipped), split)


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


def load_evaluation_examples(config: DataConfig, label_names: list[str]) -> tuple[Examples, str]:
    """The examples to score a trained model on: the source's test split when it has one, else
    every usable row. Labels must be among the model's `label_names`."""
    path = resolve_source(config)
    train, test, name = read_source(path, config, Counter())
    raw = test if test is not None else train
    index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted(set(raw.labels) - set(index))
    if unknown:
        raise AttnclfError(
            f"{path} has labels {', '.join(map(repr, unknown[:5]))} that the model does not know "
            f"(it knows {', '.join(map(repr, label_names))}); check --label-column"
        )
    examples = Examples(raw.texts, np.array([index[x] for x in raw.labels], dtype=np.int64))
    if config.limit:
        examples = _stratified_sample(examples, config.limit, config.seed)
    return examples, name


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
        imdb_root = _find_imdb_root(path)
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


# --- IMDB -------------------------------------------------------------------------------------


def read_imdb_archive(path: Path) -> tuple[RawSplit, RawSplit]:
    """The labelled train and test reviews of the archive, parsed once and then read from a cache
    keyed by the archive's content."""
    cache = cache_home() / "parsed" / f"imdb-{file_digest(path, 'sha256')[:24]}.json.gz"
    if cache.exists():
        try:
            with gzip.open(cache, "rt", encoding="utf-8") as handle:
                stored = json.load(handle)
            if stored.get("version") == PARSED_CACHE_VERSION:
                return RawSplit(**stored["train"]), RawSplit(**stored["test"])
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a damaged cache is rebuilt below
    splits = {"train": RawSplit(), "test": RawSplit()}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if (
                    len(parts) == 4
                    and parts[1] in splits
                    and parts[2] in IMDB_LABELS
                    and parts[3].endswith(".txt")
                    and member.isfile()
                ):
                    review = tar.extractfile(member)
                    assert review is not None
                    text = review.read().decode("utf-8", errors="replace")
                    splits[parts[1]].add(text, IMDB_LABELS[parts[2]])
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise AttnclfError(
            f"{path} is not a readable .tar.gz archive ({first_line(error)}); download it again "
            "or point --data at the extracted aclImdb/ folder"
        ) from None
    if not splits["train"].texts or not splits["test"].texts:
        raise AttnclfError(
            f"{path} holds no aclImdb/train/{{pos,neg}} and aclImdb/test/{{pos,neg}} reviews; "
            "is it the IMDB archive aclImdb_v1.tar.gz?"
        )
    payload = {"version": PARSED_CACHE_VERSION, **{k: vars(v) for k, v in splits.items()}}
    try:
        atomic_write(cache, lambda tmp: _write_gzip_json(tmp, payload))
    except OSError:
        pass  # a read-only cache only costs the next run a few seconds
    return splits["train"], splits["test"]


def _write_gzip_json(path: Path, payload: dict) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        json.dump(payload, handle)


def _find_imdb_root(path: Path) -> Path | None:
    """The aclImdb/ folder: named so or holding imdb.vocab, with train/ and test/ pos and neg."""
    for root in (path, path / "aclImdb"):
        official = root.name == "aclImdb" or (root / "imdb.vocab").is_file()
        splits = all((root / s / c).is_dir() for s in ("train", "test") for c in IMDB_LABELS)
        if official and splits:
            return root
    return None


def read_imdb_folder(root: Path) -> tuple[RawSplit, RawSplit]:
    splits = []
    for split in ("train", "test"):
        raw = RawSplit()
        for folder, label in IMDB_LABELS.items():
            for file in sorted((root / split / folder).glob("*.txt")):
                raw.add(file.read_text(encoding="utf-8", errors="replace"), label)
        splits.append(raw)
    return splits[0], splits[1]


def read_unlabelled(path: Path) -> list[str]:
    """IMDB's 50,000 unlabelled reviews (train/unsup/) of the archive or the aclImdb/ folder at
    `path`, for unsupervised training (word2vec); no other source has any: []. The archive's
    are read once, then from a cache keyed by its content."""
    if path.is_dir():
        root = _find_imdb_root(path)
        if root is None:
            return []
        return [
            file.read_text(encoding="utf-8", errors="replace")
            for file in sorted((root / "train" / "unsup").glob("*.txt"))
        ]
    if not (path.name.endswith((".tar.gz", ".tgz", ".tar"))):
        return []
    cache = cache_home() / "parsed" / f"imdb-unsup-{file_digest(path, 'sha256')[:24]}.json.gz"
    if cache.exists():
        try:
            with gzip.open(cache, "rt", encoding="utf-8") as handle:
                stored = json.load(handle)
            if stored.get("version") == PARSED_CACHE_VERSION:
                return list(stored["texts"])
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a damaged cache is rebuilt below
    texts = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if (
                    len(parts) == 4
                    and parts[1:3] == ["train", "unsup"]
                    and parts[3].endswith(".txt")
                    and member.isfile()
                ):
                    review = tar.extractfile(member)
                    assert review is not None
                    texts.append(review.read().decode("utf-8", errors="replace"))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise AttnclfError(
            f"{path} is not a readable .tar.gz archive ({first_line(error)}); download it again"
        ) from None
    payload = {"version": PARSED_CACHE_VERSION, "texts": texts}
    try:
        atomic_write(cache, lambda tmp: _write_gzip_json(tmp, payload))
    except OSError:
        pass
    return texts


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


# --- labels and splits ------------------------------------------------------------------------


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


def _split_off(raw: RawSplit, fraction: float, seed: int, path: Path) -> tuple[RawSplit, RawSplit]:
    if len(raw.texts) < 4:
        raise AttnclfError(f"{path} has {len(raw.texts)} usable examples; a run needs at least 4")
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
