"""Columnar data read with pyarrow (the optional extra `attnclf[parquet]`): Parquet files (gzip'd
too), Arrow stream files, and Hugging Face datasets saved with `save_to_disk` (a folder of Arrow
files with `state.json` and `dataset_info.json`, or a `DatasetDict`'s folder of such folders with
`dataset_dict.json`) without the `datasets` package.

Only the text and label columns are read, a batch of rows at a time (Parquet) or from a memory
map (Arrow). A `ClassLabel` column, whose values are indices into its names (the features in
`dataset_info.json` or in the schema's "huggingface" metadata), gives those names; -1 (no label)
counts as an empty label. Of a `DatasetDict`, the "train" split is trained on, and "test" is
tested on (or, when "test" has no labelled rows, as GLUE's have not, "validation").
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from ..config import DataConfig
from ..errors import AttnclfError, first_line
from .columns import Columns, locate_columns
from .examples import RawSplit
from .labels import add_example
from .lines import is_gzip, open_binary

BATCH_ROWS = 8_192
STATE, INFO, SPLITS = "state.json", "dataset_info.json", "dataset_dict.json"
TEST_SPLITS = ("test", "validation", "valid", "dev")
PARQUET_EXTRA = "pip install 'attnclf[parquet]'"


def require_pyarrow(path: Path) -> ModuleType:
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet  # noqa: F401  (the submodules the readers use)
    except ImportError:
        raise AttnclfError(f"reading {path} needs pyarrow: {PARQUET_EXTRA}") from None
    return pyarrow


def is_saved_dataset(path: Path) -> bool:
    """Whether `path` is a folder `datasets`' save_to_disk wrote (a Dataset or a DatasetDict)."""
    return (path / STATE).is_file() or (path / SPLITS).is_file()


# --- Parquet and Arrow files ------------------------------------------------------------------


def read_columnar_file(
    path: Path, config: DataConfig, skipped: Counter[str]
) -> tuple[RawSplit, list[str]]:
    """The labelled rows of a Parquet (.parquet, .parquet.gz) or Arrow (.arrow) file."""
    pa = require_pyarrow(path)
    parquet = ".parquet" in path.name.lower()
    raw = RawSplit()
    try:
        if parquet:
            with open_binary(path) as handle:
                source = pa.BufferReader(handle.read()) if is_gzip(path) else str(path)
            table = pa.parquet.ParquetFile(source)
            names = table.schema_arrow.names
            columns = locate_columns(path, config, names, len(names))
            read = [columns.names[i] for i in sorted({*columns.text, columns.label})]
            batches = table.iter_batches(BATCH_ROWS, columns=read)
            add_batches(path, columns, table.schema_arrow, batches, {}, raw, skipped)
        else:
            columns = read_arrow_files(path, [path], config, {}, raw, skipped)
    except pa.ArrowException as error:
        kind = "Parquet" if parquet else "Arrow"
        raise AttnclfError(
            f"cannot read {path} as a {kind} file ({first_line(error)}); if it holds CSV or "
            "JSON, name it .csv or .jsonl"
        ) from None
    if not raw.texts:
        raise AttnclfError(f"{path} has no rows with both a text and a label")
    kind = "Parquet" if parquet else "Arrow"
    return raw, [kind, *(["gzip"] if is_gzip(path) else []), *columns.describe(config)]


def read_arrow_files(
    where: Path,
    files: Sequence[Path],
    config: DataConfig,
    features: dict,
    raw: RawSplit,
    skipped: Counter[str],
) -> Columns:
    """The rows of Arrow stream files (as `datasets` writes them) or Arrow IPC files, each read
    from a memory map, added to `raw`; the columns they were read from (the last file's)."""
    pa = require_pyarrow(where)
    columns = Columns((0,), 1, (config.text_column, config.label_column))  # of no file
    for file in files:
        with arrow_batches(pa, file) as (schema, batches):
            columns = locate_columns(where, config, schema.names, len(schema.names))
            add_batches(where, columns, schema, batches, features, raw, skipped)
    return columns


@contextmanager
def arrow_batches(pa: ModuleType, file: Path) -> Iterator[tuple[Any, Iterable[Any]]]:
    """The schema and record batches of `file`: an Arrow stream, else an Arrow IPC file."""
    with pa.memory_map(str(file)) as source:
        try:
            stream = pa.ipc.open_stream(source)
            schema, batches = stream.schema, iter(stream)
        except pa.ArrowInvalid:
            source.seek(0)
            opened = pa.ipc.open_file(source)
            schema = opened.schema
            batches = (opened.get_batch(i) for i in range(opened.num_record_batches))
        yield schema, batches


def add_batches(
    where: Path,
    columns: Columns,
    schema: Any,
    batches: Iterable[Any],
    features: dict,
    raw: RawSplit,
    skipped: Counter[str],
) -> None:
    """Add the rows of record `batches` to `raw`, their text and label from `columns` (of
    `schema`, by name); a ClassLabel label gives its names."""
    read = [columns.names[i] for i in columns.text] + [columns.names[columns.label]]
    row_columns = Columns(tuple(range(len(read) - 1)), len(read) - 1, tuple(read))
    names = class_label_names(schema, features, read[-1])
    for batch in batches:
        values = [batch.column(name).to_pylist() for name in read]
        for row in zip(*values, strict=True):
            text, label = row_columns.text_of(row), row_columns.label_of(row)
            if text is not None and not isinstance(text, str):
                raise AttnclfError(
                    f"{where}: the text column holds {type(text).__name__} values, not strings; "
                    "check --text-column"
                )
            if isinstance(label, (list, dict)):
                raise AttnclfError(
                    f"{where}: the label column {read[-1]!r} holds {type(label).__name__} "
                    "values; a label is a string or a number: check --label-column"
                )
            if names is not None and isinstance(label, int) and not isinstance(label, bool):
                label = names[label] if 0 <= label < len(names) else None
            add_example(raw, text, label, skipped)


def class_label_names(schema: Any, features: dict, column: str) -> list[str] | None:
    """The names of a ClassLabel column, from `features` (dataset_info.json's) or from the
    features `datasets` keeps in the schema's "huggingface" metadata; None for another column."""
    if not features and schema.metadata and b"huggingface" in schema.metadata:
        try:
            features = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
        except (ValueError, KeyError, TypeError):
            features = {}
    feature = features.get(column) if isinstance(features, dict) else None
    if isinstance(feature, dict) and feature.get("_type") == "ClassLabel":
        names = feature.get("names")
        return [str(name) for name in names] if isinstance(names, list) else None
    return None


# --- Hugging Face datasets saved with save_to_disk --------------------------------------------


def read_saved_dataset(
    path: Path, config: DataConfig, skipped: Counter[str]
) -> tuple[RawSplit, RawSplit | None, list[str]]:
    """(train, test or None, notes) of a folder written by `Dataset.save_to_disk` (one split,
    which is split as a file is) or `DatasetDict.save_to_disk` (train, and test or validation)."""
    require_pyarrow(path)
    if not (path / SPLITS).is_file():
        train, columns = _read_split(path, config, skipped)
        return train, None, ["Hugging Face dataset", *columns.describe(config)]
    splits = _split_names(path)
    if "train" not in splits:
        raise AttnclfError(
            f"{path} holds the splits {', '.join(splits)} and none is named train; point --data "
            f"at the one to train on, e.g. --data {path / splits[0]}"
        )
    train, columns = _read_split(path / "train", config, skipped)
    read = columns.describe(config)
    for name in (name for name in TEST_SPLITS if name in splits):
        counted: Counter[str] = Counter()
        test, _ = _read_split(path / name, config, counted, empty_ok=True)
        if test.texts:
            skipped.update(counted)
            return train, test, [f"Hugging Face dataset, splits train and {name}", *read]
    return train, None, ["Hugging Face dataset, split train", *read]


def _split_names(path: Path) -> list[str]:
    try:
        splits = json.loads((path / SPLITS).read_text(encoding="utf-8"))["splits"]
        return [str(name) for name in splits if (path / str(name)).is_dir()]
    except (ValueError, KeyError, TypeError) as error:
        raise AttnclfError(
            f"{path / SPLITS} is not a DatasetDict's list of splits ({first_line(error)}); save "
            "the dataset again with save_to_disk"
        ) from None


def _read_split(
    path: Path, config: DataConfig, skipped: Counter[str], empty_ok: bool = False
) -> tuple[RawSplit, Columns]:
    """The rows of one saved Dataset folder (its Arrow files, in state.json's order), and the
    columns they were read from."""
    pa = require_pyarrow(path)
    try:
        state = json.loads((path / STATE).read_text(encoding="utf-8"))
        files = [path / entry["filename"] for entry in state["_data_files"]]
        info = path / INFO
        described = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}
        features = described.get("features") or {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AttnclfError(
            f"{path} is not a dataset saved with save_to_disk ({first_line(error)}): it needs "
            f"{STATE} naming its Arrow files; save it again, or give a CSV, JSONL or Parquet file"
        ) from None
    raw = RawSplit()
    try:
        columns = read_arrow_files(path, files, config, features, raw, skipped)
    except pa.ArrowException as error:
        raise AttnclfError(
            f"cannot read the Arrow files of {path} ({first_line(error)}); save the dataset "
            "again with save_to_disk"
        ) from None
    if not raw.texts and not empty_ok:
        raise AttnclfError(f"{path} has no rows with both a text and a label")
    return raw, columns
