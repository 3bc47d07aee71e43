"""Data in the shapes people keep it (issue 33, item 1): CSV/TSV without a header row, columns by
position, several text columns joined, JSON arrays, Parquet, Arrow, Hugging Face datasets saved
with save_to_disk, gzip'd files of each; and every shape that cannot be read is one line that
says what to type instead."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from conftest import make_reviews
from helpers import assert_one_line_error, run_cli

from attnclf.config import DataConfig
from attnclf.data.examples import Dataset
from attnclf.data.splits import load_dataset
from attnclf.errors import AttnclfError

TOPICS = {"1": "politics", "2": "sport", "3": "business", "4": "science"}
TOPIC_WORDS = {
    "1": ["vote", "minister", "election"],
    "2": ["match", "goal", "team"],
    "3": ["shares", "profit", "bank"],
    "4": ["chip", "software", "space"],
}


def news(n: int = 40) -> list[tuple[str, str, str]]:
    """(class index, title, description) rows, as AG News keeps them."""
    rows = []
    for i in range(n):
        label = str(i % 4 + 1)
        word = TOPIC_WORDS[label][i % 3]
        rows.append((label, f"{word.title()} news {i}", f"A report on the {word}, number {i}."))
    return rows


def write_rows(path: Path, rows: list, header: tuple | None = None, delimiter: str = ",") -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def load(path: Path, **settings) -> Dataset:
    return load_dataset(DataConfig(source=str(path), **settings))


def pairs(dataset: Dataset) -> set[tuple[str, str]]:
    return {
        (text, dataset.label_names[int(label)])
        for split in (dataset.train, dataset.validation, dataset.test)
        for text, label in zip(split.texts, split.labels, strict=True)
    }


def expected_news(n: int = 40) -> set[tuple[str, str]]:
    return {(f"{title} {description}", label) for label, title, description in news(n)}


# --- CSV and TSV without a header row, columns by position ------------------------------------


def test_a_headerless_csv_is_detected_and_read_by_position(tmp_path):
    path = write_rows(tmp_path / "train.csv", news())
    dataset = load(path, text_column="2,3", label_column="1")
    assert pairs(dataset) == expected_news()
    assert dataset.label_names == ["1", "2", "3", "4"]
    line = dataset.describe()
    assert "no header row (detected: --header" in line
    assert "text: column 2 + column 3" in line and "label: column 1" in line
    assert dataset.summary()["read"][0].startswith("no header row")


def test_a_headerless_csv_named_by_name_says_what_to_type(tmp_path):
    # the issue's failure: AG News' train.csv, no header row, columns class, title, description
    path = write_rows(tmp_path / "train.csv", news())
    with pytest.raises(AttnclfError) as raised:
        load(path)
    message = str(raised.value)
    assert "train.csv has no header row (its first row: 1, Vote news 0," in message
    assert "--text-column 2,3 --label-column 1" in message and "--header" in message
    assert "\n" not in message


def test_string_labels_that_recur_mark_a_headerless_file(tmp_path):
    rows = [(text, label) for text, label in make_reviews(20)]
    dataset = load(write_rows(tmp_path / "d.csv", rows), text_column="1", label_column="2")
    assert pairs(dataset) == set(rows) and "no header row" in dataset.describe()


def test_no_header_and_header_override_the_detection(tmp_path):
    path = write_rows(tmp_path / "d.csv", make_reviews(20), header=("text", "label"))
    told = load(path, text_column="1", label_column="2", header=False)
    assert ("text", "label") in pairs(told)  # the first row is a row like the others
    assert "no header row (--no-header)" in told.describe()
    headerless = write_rows(tmp_path / "h.csv", news())
    named = load(headerless, text_column="Vote news 0", label_column="1", header=True)
    assert ("Vote news 0", "1") not in {(t, lab) for t, lab in pairs(named)}
    assert len(pairs(named)) == len(news()) - 1


def test_a_header_file_reads_positions_and_names_alike(tmp_path):
    path = write_rows(tmp_path / "d.csv", news(), header=("class", "title", "description"))
    by_name = load(path, text_column="title,description", label_column="class")
    by_position = load(path, text_column="2,3", label_column="1")
    assert pairs(by_name) == pairs(by_position) == expected_news()
    assert "text: title + description" in by_name.describe()
    assert "no header" not in by_name.describe()


def test_a_number_is_a_name_where_the_header_has_it(tmp_path):
    rows = [(str(i), text, label) for i, (text, label) in enumerate(make_reviews(20))]
    path = write_rows(tmp_path / "d.csv", rows, header=("id", "2", "label"))
    assert pairs(load(path, text_column="2")) == {(t, lab) for _, t, lab in rows}


def test_a_tsv_without_a_header_by_position(tmp_path):
    path = write_rows(tmp_path / "d.tsv", news(), delimiter="\t")
    assert pairs(load(path, text_column="2,3", label_column="1")) == expected_news()


def test_a_plain_csv_says_nothing_more_than_before(tmp_path):
    path = write_rows(tmp_path / "d.csv", make_reviews(20), header=("text", "label"))
    dataset = load(path)
    assert dataset.describe().startswith("d, ") and dataset.reading == []
    assert "read" not in dataset.summary()


@pytest.mark.parametrize(
    "settings, fragments",
    [
        ({"text_column": "5", "label_column": "1"}, ["has 3 columns", "--text-column 5", "1 to 3"]),
        ({"text_column": "0", "label_column": "1"}, ["--text-column 0", "count from 1"]),
        ({"text_column": "2", "label_column": "1,3"}, ["names 2 columns", "a label is one"]),
        ({"text_column": "2,1", "label_column": "1"}, ["both a text and the label"]),
    ],
)
def test_columns_that_do_not_fit_are_one_line(tmp_path, settings, fragments):
    path = write_rows(tmp_path / "d.csv", news())
    with pytest.raises(AttnclfError) as raised:
        load(path, **settings)
    assert "\n" not in str(raised.value)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_a_missing_name_in_a_header_file_names_the_columns(tmp_path):
    path = write_rows(tmp_path / "d.csv", news(), header=("class", "title", "description"))
    with pytest.raises(AttnclfError, match=r"no column 'body' \(its columns: class, title, desc"):
        load(path, text_column="body", label_column="class")


# --- JSON arrays and JSONL --------------------------------------------------------------------


def test_a_json_array_and_jsonl_with_joined_keys(tmp_path):
    rows = [{"class": lab, "title": t, "description": d} for lab, t, d in news()]
    array = tmp_path / "d.json"
    array.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    lines = tmp_path / "d.jsonl"
    lines.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    for path in (array, lines):
        dataset = load(path, text_column="title,description", label_column="class")
        assert pairs(dataset) == expected_news()
    assert "JSON array" in load(array, text_column="title", label_column="class").describe()


@pytest.mark.parametrize(
    "content, fragments",
    [
        ('[{"text": "a", "label": "x"}, ["b", "y"]]', ["item 2 of its array is a list"]),
        ('{\n  "data": [{"text": "a", "label": "x"}]\n}\n', ["one JSON object (keys: data)"]),
        ('[{"text": "a", "label": "x"},\n', ["d.json:2: not valid JSON", "array of objects"]),
    ],
)
def test_json_shapes_that_are_not_rows_are_one_line(tmp_path, content, fragments):
    path = tmp_path / "d.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AttnclfError) as raised:
        load(path)
    assert "\n" not in str(raised.value)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_json_objects_are_not_read_by_position(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "a", "label": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(AttnclfError, match=r"no column '2'.*by name, not by position"):
        load(path, text_column="2")


# --- Parquet, Arrow and save_to_disk folders --------------------------------------------------


def topic_table(pa, class_label: bool = False):
    """The news rows as an Arrow table: the label an int64 class index (0-3) with ClassLabel
    names in the schema's metadata, or the class index as written."""
    rows = news()
    if not class_label:
        return pa.table(
            {
                "label": [int(lab) for lab, _, _ in rows],
                "title": [t for _, t, _ in rows],
                "description": [d for _, _, d in rows],
            }
        )
    features = {
        "label": {"names": list(TOPICS.values()), "_type": "ClassLabel"},
        "title": {"dtype": "string", "_type": "Value"},
        "description": {"dtype": "string", "_type": "Value"},
    }
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = pa.table(
        {
            "label": [int(lab) - 1 for lab, _, _ in rows],
            "title": [t for _, t, _ in rows],
            "description": [d for _, _, d in rows],
        }
    )
    return table.replace_schema_metadata(metadata)


def expected_topics() -> set[tuple[str, str]]:
    return {(text, TOPICS[label]) for text, label in expected_news()}


def test_parquet_by_name_and_position_and_gzipped(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "news.parquet"
    pq.write_table(topic_table(pa), path)
    dataset = load(path, text_column="title,description")
    assert pairs(dataset) == expected_news() and "Parquet" in dataset.describe()
    assert pairs(load(path, text_column="2,3", label_column="1")) == expected_news()
    packed = tmp_path / "news.parquet.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    dataset = load(packed, text_column="title,description")
    assert pairs(dataset) == expected_news() and "gzip" in dataset.describe()
    assert dataset.name == "news"


def test_a_parquet_class_label_gives_its_names(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "news.parquet"
    pq.write_table(topic_table(pa, class_label=True), path)
    assert pairs(load(path, text_column="title,description")) == expected_topics()


def test_a_file_that_is_not_parquet_is_one_line(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "d.parquet"
    path.write_text("text,label\na,b\n", encoding="utf-8")
    with pytest.raises(AttnclfError, match=r"cannot read .*d\.parquet as a Parquet file.*\.csv"):
        load(path)


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)  # import pyarrow fails
    with pytest.raises(AttnclfError, match=r"needs pyarrow: pip install 'attnclf\[parquet\]'"):
        load(path)


def save_to_disk_shaped(pa, folder: Path, table, shards: int = 2) -> Path:
    """A folder laid out as datasets' Dataset.save_to_disk lays one out: Arrow stream files,
    state.json naming them, dataset_info.json with the features."""
    folder.mkdir(parents=True)
    step = -(-table.num_rows // shards)
    files = []
    for shard in range(shards):
        name = f"data-{shard:05d}-of-{shards:05d}.arrow"
        with pa.ipc.new_stream(folder / name, table.schema) as writer:
            writer.write_table(table.slice(shard * step, step))
        files.append({"filename": name})
    (folder / "state.json").write_text(json.dumps({"_data_files": files, "_split": None}))
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    (folder / "dataset_info.json").write_text(json.dumps({"features": features}))
    return folder


def test_a_save_to_disk_folder_made_with_pyarrow(tmp_path):
    pa = pytest.importorskip("pyarrow")
    folder = save_to_disk_shaped(pa, tmp_path / "news", topic_table(pa, class_label=True))
    dataset = load(folder, text_column="title,description")
    assert pairs(dataset) == expected_topics()
    assert dataset.label_names == sorted(TOPICS.values())
    assert "Hugging Face dataset" in dataset.describe()
    single = folder / "data-00000-of-00002.arrow"  # one Arrow file alone reads too
    assert len(pairs(load(single, text_column="title,description"))) == 20


def test_a_dataset_dict_folder_trains_on_train_and_tests_on_test(tmp_path):
    pa = pytest.importorskip("pyarrow")
    table = topic_table(pa, class_label=True)
    root = tmp_path / "dict"
    save_to_disk_shaped(pa, root / "train", table.slice(0, 32))
    save_to_disk_shaped(pa, root / "test", table.slice(32, 8), shards=1)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    dataset = load(root, text_column="title,description")
    assert len(dataset.test) == 8 and len(dataset.train) + len(dataset.validation) == 32
    assert "splits train and test" in dataset.describe()


def test_a_test_split_without_labels_gives_way_to_validation(tmp_path):
    pa = pytest.importorskip("pyarrow")
    table = topic_table(pa, class_label=True)
    test = table.slice(32, 8)
    unlabelled = test.set_column(0, "label", pa.array([-1] * 8))  # GLUE's test splits
    unlabelled = unlabelled.replace_schema_metadata(table.schema.metadata)
    root = tmp_path / "glue"
    save_to_disk_shaped(pa, root / "train", table.slice(0, 32))
    save_to_disk_shaped(pa, root / "test", unlabelled, shards=1)
    save_to_disk_shaped(pa, root / "validation", table.slice(32, 8), shards=1)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "validation", "test"]}))
    dataset = load(root, text_column="title,description")
    assert len(dataset.test) == 8 and "splits train and validation" in dataset.describe()
    assert dataset.skipped == {}


def test_a_dataset_dict_without_train_says_which_to_give(tmp_path):
    pa = pytest.importorskip("pyarrow")
    root = tmp_path / "dict"
    save_to_disk_shaped(pa, root / "other", topic_table(pa, class_label=True))
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["other"]}))
    with pytest.raises(AttnclfError, match=r"none is named train; .*--data .*other"):
        load(root)


def test_a_folder_saved_by_the_real_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = news()
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=list(TOPICS.values())),
        }
    )
    data = datasets.Dataset.from_dict(
        {"text": [t for _, t, _ in rows], "label": [int(lab) - 1 for lab, _, _ in rows]},
        features=features,
    )
    datasets.DatasetDict(train=data, test=data.select(range(8))).save_to_disk(tmp_path / "hf")
    dataset = load(tmp_path / "hf")
    assert len(dataset.test) == 8 and set(dataset.label_names) == set(TOPICS.values())
    data.save_to_disk(tmp_path / "one")
    assert {label for _, label in pairs(load(tmp_path / "one"))} == set(TOPICS.values())


# --- gzip'd files -----------------------------------------------------------------------------


def test_gzipped_csv_tsv_json_and_jsonl(tmp_path):
    rows = [{"title": t, "description": d, "class": lab} for lab, t, d in news()]
    files = [
        write_rows(tmp_path / "a.csv.gz", news()),
        write_rows(tmp_path / "b.tsv.gz", news(), delimiter="\t"),
    ]
    for path in files:
        dataset = load(path, text_column="2,3", label_column="1")
        assert pairs(dataset) == expected_news() and "gzip" in dataset.describe()
    for name, content in (
        ("c.json.gz", json.dumps(rows)),
        ("d.jsonl.gz", "".join(json.dumps(row) + "\n" for row in rows)),
    ):
        (tmp_path / name).write_bytes(gzip.compress(content.encode()))
        dataset = load(tmp_path / name, text_column="title,description", label_column="class")
        assert pairs(dataset) == expected_news() and dataset.name == name.split(".")[0]


def test_a_damaged_gzip_file_is_one_line(tmp_path):
    whole = gzip.compress(b"text,label\n" + b"a fine film,pos\n" * 500)
    path = tmp_path / "d.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(AttnclfError, match=r"d\.csv\.gz: its gzip stream is damaged"):
        load(path)


def test_a_gzipped_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"text,label\ngood,pos\ncaf\xe9,neg\n"))
    with pytest.raises(AttnclfError, match=r"d\.csv\.gz:3: not UTF-8 \(byte 23\)"):
        load(path)


# --- through the command line -----------------------------------------------------------------


def test_train_on_a_headerless_file_says_what_to_type_then_reads_it(tmp_path):
    path = write_rows(tmp_path / "train.csv", news(80))
    assert_one_line_error(
        run_cli("train", "--data", path, "--out", tmp_path / "m"),
        "train.csv has no header row",
        "--text-column 2,3 --label-column 1",
    )
    result = run_cli(
        "train", "--data", path, "--text-column", "2,3", "--label-column", "1",
        "--model", "nbsvm", "--out", tmp_path / "m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data_line = [line for line in result.stderr.splitlines() if line.startswith("data: ")]
    assert "no header row (detected" in data_line[0] and "text: column 2 + column 3" in data_line[0]


def test_predict_data_reads_a_gzipped_file(tmp_path):
    path = write_rows(tmp_path / "train.csv", make_reviews(80), header=("text", "label"))
    model = tmp_path / "m"
    trained = run_cli("train", "--model", "nbsvm", "--data", path, "--out", model, "-q")
    assert trained.exit_code == 0, trained.output
    texts = tmp_path / "texts.csv.gz"
    write_rows(texts, [("A wonderful film.",), ("A dreadful film.",)], header=("text",))
    result = run_cli("predict", model, "--data", texts, "--out", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [row["text"] for row in written] == ["A wonderful film.", "A dreadful film."]
