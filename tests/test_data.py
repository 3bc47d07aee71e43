"""Readers, splits, the parsed-archive cache and the IMDB download, on small data made here."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from attnclf.config import DataConfig
from attnclf.data import download
from attnclf.data.examples import Dataset, Examples
from attnclf.data.splits import load_dataset, load_evaluation_examples
from attnclf.errors import AttnclfError


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, and no $ATTNCLF_DATA from the environment."""
    path = tmp_path / "home"
    monkeypatch.setenv("ATTNCLF_HOME", str(path))
    monkeypatch.delenv("ATTNCLF_DATA", raising=False)
    return path


# --- helpers ----------------------------------------------------------------------------------


def rows(per_class: int, labels: tuple[str, ...] = ("neg", "pos")) -> list[tuple[str, str]]:
    """Distinct texts, `per_class` of each label, interleaved."""
    return [
        (f"review {i} about {label}, quite {label}!", label)
        for i in range(per_class)
        for label in labels
    ]


def write_csv(path: Path, data: list[tuple[str, str]], header=("text", "label"), **kw) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, **kw)
        writer.writerow(header)
        writer.writerows(data)
    return path


def write_jsonl(path: Path, data: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in data), encoding="utf-8")
    return path


def label_counts(dataset: Dataset, split: Examples) -> dict[str, int]:
    found = Counter(int(x) for x in split.labels)
    return {name: found[i] for i, name in enumerate(dataset.label_names)}


def split_texts(dataset: Dataset) -> list[str]:
    return dataset.train.texts + dataset.validation.texts + dataset.test.texts


def imdb_files(per_class: int = 8) -> dict[str, str]:
    """The labelled reviews of a tiny aclImdb/, named as in the official archive."""
    files = {}
    for split in ("train", "test"):
        for folder in ("neg", "pos"):
            for i in range(per_class):
                rating = 1 + i % 4 if folder == "neg" else 7 + i % 4
                files[f"aclImdb/{split}/{folder}/{i}_{rating}.txt"] = (
                    f"{split} {folder} review {i}.<br /><br />Rated {rating}/10."
                )
    return files


IMDB_EXTRAS = {
    # present in the real archive and not labelled reviews: must be ignored
    "aclImdb/README": "Large Movie Review Dataset v1.0",
    "aclImdb/imdb.vocab": "the\nand\n",
    "aclImdb/train/urls_pos.txt": "http://www.imdb.com/title/tt0453418/usercomments\n",
    "aclImdb/train/unsup/0_0.txt": "an unlabelled review",
    "aclImdb/train/labeledBow.feat": "0:9 1:1\n",
}


def make_tar(path: Path, files: dict[str, str | bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        dirs = sorted({str(Path(name).parent) for name in files} - {"."})
        for folder in dirs:
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return root


def expected_imdb(split: str) -> Counter:
    return Counter(
        (text, "negative" if "/neg/" in name else "positive")
        for name, text in imdb_files().items()
        if f"/{split}/" in name
    )


def eval_pairs(examples: Examples, names: list[str]) -> Counter:
    return Counter(zip(examples.texts, (names[i] for i in examples.labels), strict=True))


def as_pairs(dataset: Dataset, *splits: Examples) -> Counter:
    return Counter(
        (text, dataset.label_names[int(label)])
        for split in splits
        for text, label in zip(split.texts, split.labels, strict=True)
    )


# --- CSV / TSV / JSONL ------------------------------------------------------------------------


def test_csv_with_quotes_newlines_and_bom(tmp_path):
    body = (
        "text,label\r\n"
        '"He said ""wow"", then\nleft.",pos\r\n'
        '"Line one\r\nline two, with a comma",neg\r\n'
        "plain text,pos\r\n"
        '"  spaced label  ", neg \r\n'
    )
    path = tmp_path / "quoted.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    dataset = load_dataset(DataConfig(source=str(path), validation_fraction=0, test_fraction=0.5))
    assert dataset.name == "quoted"
    assert dataset.label_names == ["neg", "pos"]  # the BOM did not end up in a column name
    assert as_pairs(dataset, dataset.train, dataset.test) == Counter(
        {
            ('He said "wow", then\nleft.', "pos"): 1,
            ("Line one\r\nline two, with a comma", "neg"): 1,
            ("plain text", "pos"): 1,
            ("  spaced label  ", "neg"): 1,
        }
    )
    assert dataset.skipped == {}


def test_csv_named_columns_and_extra_columns(tmp_path):
    data = [(f"id{i}", text, label, "x") for i, (text, label) in enumerate(rows(10))]
    path = tmp_path / "data.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "sentiment", "other"])
        writer.writerows(data)
    config = DataConfig(source=str(path), text_column="review", label_column="sentiment")
    dataset = load_dataset(config)
    assert dataset.label_names == ["neg", "pos"]
    assert sorted(split_texts(dataset)) == sorted(text for _, text, _, _ in data)


def test_tsv(tmp_path):
    data = [(f"text, with commas; number {i}", label) for i, (_, label) in enumerate(rows(10))]
    path = write_csv(tmp_path / "data.tsv", data, delimiter="\t")
    dataset = load_dataset(DataConfig(source=str(path)))
    assert dataset.name == "data"
    assert dataset.label_names == ["neg", "pos"]
    assert as_pairs(dataset, dataset.train, dataset.validation, dataset.test) == Counter(data)


def test_jsonl_with_numeric_labels_sorted_numerically(tmp_path):
    data = [{"text": f"text {i}", "label": [2, 10, 1][i % 3], "extra": i} for i in range(30)]
    path = tmp_path / "data.jsonl"
    path.write_text(
        "\n".join(json.dumps(row) for row in data[:15])
        + "\n\n   \n"  # blank lines are fine
        + "\n".join(json.dumps(row) for row in data[15:])
        + "\n",
        encoding="utf-8",
    )
    dataset = load_dataset(DataConfig(source=str(path), validation_fraction=0.2))
    assert dataset.name == "data"
    assert dataset.label_names == ["1", "2", "10"]
    assert as_pairs(dataset, dataset.train, dataset.validation, dataset.test) == Counter(
        (row["text"], str(row["label"])) for row in data
    )


def test_numeric_string_labels_sorted_numerically(tmp_path):
    data = [(f"t{i}", ["10", "2", "-1"][i % 3]) for i in range(60)]
    dataset = load_dataset(DataConfig(source=str(write_csv(tmp_path / "n.csv", data))))
    assert dataset.label_names == ["-1", "2", "10"]


def test_string_labels_sorted_alphabetically(tmp_path):
    path = write_csv(tmp_path / "s.csv", rows(10, ("pos", "neutral", "neg")))
    dataset = load_dataset(DataConfig(source=str(path), validation_fraction=0.15))
    assert dataset.label_names == ["neg", "neutral", "pos"]
    assert dataset.summary()["labels"] == ["neg", "neutral", "pos"]


def test_mixed_labels_fall_back_to_alphabetical(tmp_path):
    data = [(f"t{i}", ["2", "10", "ten"][i % 3]) for i in range(60)]
    dataset = load_dataset(DataConfig(source=str(write_csv(tmp_path / "m.csv", data))))
    assert dataset.label_names == ["10", "2", "ten"]


def test_empty_texts_and_labels_are_skipped_and_counted(tmp_path):
    path = tmp_path / "gaps.csv"
    gaps = [
        ["", "pos"],  # empty text
        ["   ", "neg"],  # blank text
        ["no label", ""],  # empty label
        ["blank label", "   "],  # blank label
        ["short row"],  # missing label field
    ]
    write_csv(path, rows(5) + gaps + rows(5, ("pos", "neg"))[::-1])
    dataset = load_dataset(DataConfig(source=str(path)))
    assert dataset.skipped == {"empty text": 2, "empty label": 3}
    assert dataset.summary()["skipped"] == {"empty text": 2, "empty label": 3}
    assert sorted(split_texts(dataset)) == sorted(text for text, _ in rows(5) * 2)


def test_jsonl_null_and_missing_fields_are_skipped(tmp_path):
    data = [{"text": t, "label": lab} for t, lab in rows(10)]
    data += [{"text": None, "label": "pos"}, {"label": "neg"}, {"text": "x", "label": None}]
    data += [{"text": "y"}, {"text": "z", "label": ""}]
    dataset = load_dataset(DataConfig(source=str(write_jsonl(tmp_path / "g.jsonl", data))))
    assert dataset.skipped == {"empty text": 2, "empty label": 3}
    assert len(split_texts(dataset)) == 20


# --- splits and --limit -----------------------------------------------------------------------


def test_test_and_validation_splits_are_carved_and_stratified(tmp_path):
    data = rows(30) + rows(10, ("mid",))  # 30 neg, 30 pos, 10 mid
    data = [(f"{text} #{i}", label) for i, (text, label) in enumerate(data)]
    path = write_csv(tmp_path / "d.csv", data)
    config = DataConfig(source=str(path), validation_fraction=0.2, test_fraction=0.2, seed=3)
    dataset = load_dataset(config)
    n_test = math.ceil(0.2 * 70)
    n_val = math.ceil(0.2 * (70 - n_test))
    assert len(dataset.test) == n_test
    assert len(dataset.validation) == n_val
    assert len(dataset.train) + len(dataset.validation) + len(dataset.test) == 70
    # no example lands in two splits, and none is lost
    assert as_pairs(dataset, dataset.train, dataset.validation, dataset.test) == Counter(data)
    # stratified: each split has the classes in the proportions of the whole (3:3:1)
    assert label_counts(dataset, dataset.test) == {"mid": 2, "neg": 6, "pos": 6}
    val = label_counts(dataset, dataset.validation)
    assert abs(val["neg"] - val["pos"]) <= 1 and val["mid"] >= 1
    summary = dataset.summary()
    assert summary["train"] == len(dataset.train)
    assert summary["test_per_label"] == {"mid": 2, "neg": 6, "pos": 6}


def test_splits_depend_on_the_seed_only(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(20))
    a = load_dataset(DataConfig(source=str(path), seed=1))
    b = load_dataset(DataConfig(source=str(path), seed=1))
    c = load_dataset(DataConfig(source=str(path), seed=2))
    assert a.test.texts == b.test.texts and a.validation.texts == b.validation.texts
    assert np.array_equal(a.train.labels, b.train.labels)
    assert (a.test.texts, a.validation.texts) != (c.test.texts, c.validation.texts)


def test_validation_fraction_zero_gives_empty_validation(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(10))
    dataset = load_dataset(DataConfig(source=str(path), validation_fraction=0))
    assert len(dataset.validation) == 0
    assert dataset.validation.labels.dtype == np.int64
    assert len(dataset.train) + len(dataset.test) == 20


def test_limit_takes_a_stratified_n_of_train_and_of_test(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(50))  # 100 rows: 80 train, 20 test
    config = DataConfig(source=str(path), limit=10, validation_fraction=0.2)
    dataset = load_dataset(config)
    assert len(dataset.train) + len(dataset.validation) == 10
    assert len(dataset.validation) == 2
    assert len(dataset.test) == 10
    assert label_counts(dataset, dataset.test) == {"neg": 5, "pos": 5}
    train_and_val = Counter(
        dataset.label_names[int(x)]
        for x in np.concatenate([dataset.train.labels, dataset.validation.labels])
    )
    assert train_and_val == {"neg": 5, "pos": 5}
    # the sample comes from the right split: test examples stay test examples
    full = load_dataset(DataConfig(source=str(path), validation_fraction=0.2))
    assert set(dataset.test.texts) <= set(full.test.texts)


def test_limit_larger_than_the_data_keeps_everything(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(10))
    dataset = load_dataset(DataConfig(source=str(path), limit=1000))
    assert len(split_texts(dataset)) == 20


def test_the_documented_minimum_of_four_examples_loads(tmp_path):
    path = write_csv(tmp_path / "tiny.csv", rows(2))
    dataset = load_dataset(DataConfig(source=str(path)))
    assert len(split_texts(dataset)) == 4


def test_small_limit_does_not_crash(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(50))
    try:
        dataset = load_dataset(DataConfig(source=str(path), limit=5))
    except AttnclfError:
        return  # a clear error would do as well
    assert len(dataset.train) + len(dataset.validation) == 5


# --- folders with one sub-folder per class ----------------------------------------------------


def test_flat_class_folders(tmp_path):
    files = {f"{label}/{i:02d}.txt": text for i, (text, label) in enumerate(rows(10))}
    files["pos/empty.txt"] = "  \n"
    files[".hidden/x.txt"] = "ignored: hidden folder"
    root = make_tree(tmp_path / "reviews", files)
    (root / "notes.txt").write_text("a file beside the class folders is not a class")
    dataset = load_dataset(DataConfig(source=str(root)))
    assert dataset.name == "reviews"
    assert dataset.label_names == ["neg", "pos"]
    assert dataset.skipped == {"empty text": 1}
    assert as_pairs(dataset, dataset.train, dataset.validation, dataset.test) == Counter(rows(10))
    assert len(dataset.test) == 4  # carved out: 0.2 of 20


def test_class_folders_with_train_and_test(tmp_path):
    files = {f"train/{label}/{i}.txt": text for i, (text, label) in enumerate(rows(10))}
    test_rows = [(f"held out {text}", label) for text, label in rows(3, ("a", "b", "c"))]
    files.update({f"test/{label}/{i}.txt": text for i, (text, label) in enumerate(test_rows)})
    files.update({f"train/{label}/x{i}.txt": f"train {label} {i}" for i, label in enumerate("abc")})
    root = make_tree(tmp_path / "topics", files)
    dataset = load_dataset(DataConfig(source=str(root)))
    assert dataset.name == "topics"
    assert dataset.label_names == ["a", "b", "c", "neg", "pos"]
    assert as_pairs(dataset, dataset.test) == Counter(test_rows)  # the given test split, as is
    assert len(dataset.train) + len(dataset.validation) == 23


def test_class_folders_named_pos_and_neg_with_more_classes_keep_every_class(tmp_path):
    labels = ("neg", "neutral", "pos")
    files = {f"train/{lab}/{i}.txt": t for i, (t, lab) in enumerate(rows(10, labels))}
    files.update({f"test/{lab}/{i}.txt": t for i, (t, lab) in enumerate(rows(3, labels))})
    dataset = load_dataset(DataConfig(source=str(make_tree(tmp_path / "three", files))))
    assert dataset.label_names == ["neg", "neutral", "pos"]


def test_hidden_files_in_class_folders_are_not_examples(tmp_path):
    files = {f"{label}/{i:02d}.txt": text for i, (text, label) in enumerate(rows(10))}
    files["pos/.DS_Store"] = b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00"
    dataset = load_dataset(DataConfig(source=str(make_tree(tmp_path / "mac", files))))
    assert len(split_texts(dataset)) == 20


def test_empty_class_folder_dataset_is_an_error(tmp_path):
    (tmp_path / "empty" / "pos").mkdir(parents=True)
    with pytest.raises(AttnclfError, match="no sub-folders with text files"):
        load_dataset(DataConfig(source=str(tmp_path / "empty")))


# --- IMDB -------------------------------------------------------------------------------------


def test_imdb_archive(tmp_path):
    archive = make_tar(tmp_path / "aclImdb_v1.tar.gz", {**imdb_files(), **IMDB_EXTRAS})
    dataset = load_dataset(DataConfig(source=str(archive)))
    assert dataset.name == "imdb"
    assert dataset.label_names == ["negative", "positive"]
    assert len(dataset.test) == 16
    assert len(dataset.train) + len(dataset.validation) == 16
    assert len(dataset.validation) == 2
    assert label_counts(dataset, dataset.validation) == {"negative": 1, "positive": 1}
    assert as_pairs(dataset, dataset.test) == expected_imdb("test")
    assert as_pairs(dataset, dataset.train, dataset.validation) == expected_imdb("train")
    assert "an unlabelled review" not in split_texts(dataset)
    assert dataset.skipped == {}


def test_imdb_archive_with_tgz_suffix_and_bad_bytes(tmp_path):
    files = imdb_files()
    files["aclImdb/train/pos/0_7.txt"] = b"caf\xe9 latin-1 review"  # not UTF-8: replaced
    archive = make_tar(tmp_path / "imdb.TGZ", files)
    dataset = load_dataset(DataConfig(source=str(archive)))
    assert "caf\ufffd latin-1 review" in dataset.train.texts + dataset.validation.texts


@pytest.mark.parametrize("point_at", ["aclImdb", "."])
def test_imdb_extracted_folder(tmp_path, point_at):
    make_tree(tmp_path / "data", {**imdb_files(), **IMDB_EXTRAS})
    dataset = load_dataset(DataConfig(source=str(tmp_path / "data" / point_at)))
    assert dataset.name == "imdb"
    assert dataset.label_names == ["negative", "positive"]
    assert as_pairs(dataset, dataset.test) == expected_imdb("test")
    assert as_pairs(dataset, dataset.train, dataset.validation) == expected_imdb("train")


def test_imdb_archive_is_parsed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    home = tmp_path / "cache-home"
    monkeypatch.setenv("ATTNCLF_HOME", str(home))
    archive = make_tar(tmp_path / "aclImdb_v1.tar.gz", imdb_files())
    config = DataConfig(source=str(archive))
    first = load_dataset(config)

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:24]
    cache = home / "parsed" / f"imdb-{digest}.json.gz"
    assert cache.is_file()
    assert [p.name for p in (home / "parsed").iterdir()] == [cache.name]  # no temp files left
    with gzip.open(cache, "rt", encoding="utf-8") as handle:
        stored = json.load(handle)
    assert len(stored["train"]["texts"]) == 16 and len(stored["test"]["labels"]) == 16

    def no_tar(*args, **kwargs):
        raise AssertionError("the archive was opened again instead of the cache")

    monkeypatch.setattr(tarfile, "open", no_tar)
    second = load_dataset(config)
    assert second.label_names == first.label_names
    for a, b in (
        (first.train, second.train),
        (first.validation, second.validation),
        (first.test, second.test),
    ):
        assert a.texts == b.texts
        assert np.array_equal(a.labels, b.labels)


def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    home = tmp_path / "cache-home"
    monkeypatch.setenv("ATTNCLF_HOME", str(home))
    archive = make_tar(tmp_path / "aclImdb_v1.tar.gz", imdb_files())
    first = load_dataset(DataConfig(source=str(archive)))
    (cache,) = (home / "parsed").iterdir()
    cache.write_bytes(b"not gzip at all")
    second = load_dataset(DataConfig(source=str(archive)))
    assert second.test.texts == first.test.texts
    with gzip.open(cache, "rt", encoding="utf-8") as handle:
        assert json.load(handle)["version"] >= 1


def test_corrupt_archive_is_an_error(tmp_path):
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AttnclfError, match=r"(?s)not a readable \.tar\.gz archive.*--data"):
        load_dataset(DataConfig(source=str(path)))


def _tarfile_error_is_multiline(payload: bytes) -> bool:
    try:
        tarfile.open(fileobj=io.BytesIO(payload), mode="r:*")
    except tarfile.TarError as error:
        return "\n" in str(error)
    return False


GARBAGE = np.random.default_rng(0).bytes(4096)


def test_corrupt_archive_error_is_one_line(tmp_path):
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(GARBAGE)
    with pytest.raises(AttnclfError) as caught:
        load_dataset(DataConfig(source=str(path)))
    assert "\n" not in str(caught.value)


def test_truncated_archive_is_an_error(tmp_path):
    path = make_tar(tmp_path / "aclImdb_v1.tar.gz", imdb_files())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(AttnclfError, match="aclImdb_v1.tar.gz"):
        load_dataset(DataConfig(source=str(path)))


def test_archive_that_is_not_imdb_is_an_error(tmp_path):
    path = make_tar(tmp_path / "other.tar.gz", {"stuff/a.txt": "hello", "stuff/b.txt": "bye"})
    with pytest.raises(AttnclfError, match="is it the IMDB archive"):
        load_dataset(DataConfig(source=str(path)))


def test_archive_without_a_test_split_is_an_error(tmp_path):
    files = {k: v for k, v in imdb_files().items() if "/test/" not in k}
    path = make_tar(tmp_path / "aclImdb_v1.tar.gz", files)
    with pytest.raises(AttnclfError, match="aclImdb/test"):
        load_dataset(DataConfig(source=str(path)))
    assert not (tmp_path / "home" / "parsed").exists() or not any(
        (tmp_path / "home" / "parsed").iterdir()
    )


# --- errors -----------------------------------------------------------------------------------


def test_missing_path_is_an_error(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(AttnclfError, match=r"no such file or folder: .*nope\.csv.*--data"):
        load_dataset(DataConfig(source=str(missing)))


def test_source_from_environment(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "env.csv", rows(10))
    monkeypatch.setenv("ATTNCLF_DATA", str(path))
    assert load_dataset(DataConfig()).name == "env"


def test_missing_text_column_names_the_available_columns(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(10), header=("review", "sentiment"))
    with pytest.raises(AttnclfError, match=r"no column 'text' \(its columns: review, sentiment\)"):
        load_dataset(DataConfig(source=str(path)))


def test_missing_label_column_names_the_option(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(10), header=("text", "sentiment"))
    with pytest.raises(AttnclfError, match=r"no column 'label'.*sentiment.*--label-column"):
        load_dataset(DataConfig(source=str(path)))


def test_jsonl_missing_column_names_the_keys(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"body": "x", "stars": 1}, {"body": "y"}])
    with pytest.raises(AttnclfError, match=r"its columns: body, stars.*--text-column"):
        load_dataset(DataConfig(source=str(path)))


def test_empty_csv_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(AttnclfError, match="its columns: none"):
        load_dataset(DataConfig(source=str(path)))


def test_csv_without_usable_rows_is_an_error(tmp_path):
    path = write_csv(tmp_path / "d.csv", [("", "pos"), ("text", "")])
    with pytest.raises(AttnclfError, match="no rows with both a text and a label"):
        load_dataset(DataConfig(source=str(path)))


def test_too_few_examples_is_an_error(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(1) + [("third", "pos")])
    with pytest.raises(AttnclfError, match="3 usable examples; a run needs at least 4"):
        load_dataset(DataConfig(source=str(path)))


def test_one_class_only_is_an_error(tmp_path):
    path = write_csv(tmp_path / "d.csv", rows(10, ("pos",)))
    with pytest.raises(AttnclfError, match=r"only one class \('pos'\).*--label-column"):
        load_dataset(DataConfig(source=str(path)))


def test_invalid_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,label\ngood,pos\nbad,neg\ncaf\xe9 au lait,pos\n")
    with pytest.raises(AttnclfError, match=r"latin\.csv:4: not UTF-8.*UTF-8"):
        load_dataset(DataConfig(source=str(path)))


def test_invalid_utf8_after_a_bom_names_the_right_line(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\n\xe9t\xe9,pos\n")
    with pytest.raises(AttnclfError, match=r"bom\.csv:2: not UTF-8 \(byte 14\)"):
        load_dataset(DataConfig(source=str(path)))


def test_bad_jsonl_line_names_the_line_number(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n\n{"text": "b", "label": \n', encoding="utf-8")
    with pytest.raises(AttnclfError, match=r"d\.jsonl:3: not a JSON object"):
        load_dataset(DataConfig(source=str(path)))


def test_jsonl_line_that_is_not_an_object_is_an_error(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n["b", "y"]\n', encoding="utf-8")
    with pytest.raises(AttnclfError, match=r"d\.jsonl:2: expected a JSON object, got list"):
        load_dataset(DataConfig(source=str(path)))


def test_json_array_file_is_read_as_rows(tmp_path):
    # a `.json` file may hold an array of objects (issue 33); tests/test_readers.py has more
    path = tmp_path / "d.json"
    data = [{"text": text, "label": label} for text, label in rows(10)]
    path.write_text(json.dumps(data), encoding="utf-8")
    dataset = load_dataset(DataConfig(source=str(path)))
    assert sorted(split_texts(dataset)) == sorted(text for text, _ in rows(10))
    assert "JSON array" in dataset.describe()


@pytest.mark.parametrize("name", ["reviews.txt", "reviews"])
def test_unsupported_file_is_an_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("text,label\na,b\n", encoding="utf-8")
    with pytest.raises(AttnclfError, match=r"cannot read .*expected aclImdb_v1\.tar\.gz"):
        load_dataset(DataConfig(source=str(path)))


def test_csv_field_with_unicode_line_separator_is_kept_whole(tmp_path):
    data = rows(10) + [("great\u2028film", "pos"), ("bad\x85film", "neg")]
    dataset = load_dataset(DataConfig(source=str(write_csv(tmp_path / "u.csv", data))))
    assert dataset.skipped == {}
    assert "great\u2028film" in split_texts(dataset)


def test_jsonl_string_with_unicode_line_separator_is_read(tmp_path):
    data = [{"text": t, "label": lab} for t, lab in rows(10)] + [
        {"text": "a\u2028b", "label": "pos"}
    ]
    path = tmp_path / "u.jsonl"
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in data), encoding="utf-8"
    )
    assert "a\u2028b" in split_texts(load_dataset(DataConfig(source=str(path))))


# --- load_evaluation_examples -----------------------------------------------------------------


def test_evaluation_uses_the_test_split_when_there_is_one(tmp_path):
    labels = ("bad", "good")
    files = {f"train/{lab}/{i}.txt": text for i, (text, lab) in enumerate(rows(10, labels))}
    test_rows = [(f"held out {i}", lab) for i, (_, lab) in enumerate(rows(3, labels))]
    files.update({f"test/{lab}/{i}.txt": text for i, (text, lab) in enumerate(test_rows)})
    root = make_tree(tmp_path / "ds", files)
    names = ["good", "bad"]
    examples, name = load_evaluation_examples(DataConfig(source=str(root)), names)
    assert name == "ds"
    assert eval_pairs(examples, names) == Counter(test_rows)
    assert examples.labels.dtype == np.int64


def test_evaluation_of_an_imdb_archive_uses_its_test_reviews(tmp_path):
    archive = make_tar(tmp_path / "aclImdb_v1.tar.gz", imdb_files())
    names = ["negative", "positive"]
    examples, name = load_evaluation_examples(DataConfig(source=str(archive)), names)
    assert name == "imdb"
    assert eval_pairs(examples, names) == expected_imdb("test")


def test_evaluation_of_a_single_file_uses_every_usable_row(tmp_path):
    data = rows(5) + [("", "pos")]
    path = write_csv(tmp_path / "eval.csv", data)
    # the model's label order decides the indices, not the file's
    examples, name = load_evaluation_examples(DataConfig(source=str(path)), ["pos", "neg"])
    assert name == "eval"
    assert examples.texts == [text for text, _ in rows(5)]
    assert examples.labels.tolist() == [1 if label == "neg" else 0 for _, label in rows(5)]


def test_evaluation_limit_is_a_stratified_sample(tmp_path):
    path = write_csv(tmp_path / "eval.csv", rows(20))
    examples, _ = load_evaluation_examples(DataConfig(source=str(path), limit=6), ["neg", "pos"])
    assert len(examples) == 6
    assert Counter(examples.labels.tolist()) == {0: 3, 1: 3}
    assert set(examples.texts) <= {text for text, _ in rows(20)}


def test_evaluation_with_labels_the_model_does_not_know_is_an_error(tmp_path):
    path = write_csv(tmp_path / "eval.csv", rows(3, ("neg", "pos", "meh")))
    with pytest.raises(AttnclfError, match=r"labels 'meh' that the model does not know.*'neg'"):
        load_evaluation_examples(DataConfig(source=str(path)), ["neg", "pos"])


def test_evaluation_finds_the_classes_of_a_model_saved_with_float_label_names(tmp_path):
    # read before numbers named one class: a float column was saved as "0.0" and "1.0"
    path = write_csv(tmp_path / "eval.csv", rows(3, ("0.0", "1")))
    examples, _ = load_evaluation_examples(DataConfig(source=str(path)), ["0.0", "1.0"])
    assert examples.labels.tolist() == [0, 1] * 3


def test_evaluation_of_a_missing_source_is_an_error(tmp_path):
    with pytest.raises(AttnclfError, match="no such file or folder"):
        load_evaluation_examples(DataConfig(source=str(tmp_path / "gone")), ["a", "b"])


# --- download ---------------------------------------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def _served(tmp_path: Path) -> tuple[Path, str, str]:
    source = tmp_path / "served" / "archive.tar.gz"
    source.parent.mkdir()
    payload = np.random.default_rng(0).bytes(300_000)
    source.write_bytes(payload)
    return source, source.as_uri(), hashlib.md5(payload).hexdigest()


def test_download_lands_in_the_cache_when_the_md5_matches(tmp_path, no_proxy):
    source, url, md5 = _served(tmp_path)
    cache = tmp_path / "cache"
    path = download.download_imdb(cache_dir=cache, url=url, md5=md5)
    assert path == cache / download.IMDB_FILENAME
    assert path.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == [download.IMDB_FILENAME]  # no .part
    # a second call reuses the file without fetching
    source.unlink()
    assert download.download_imdb(cache_dir=cache, url=url, md5=md5) == path


def test_download_uses_attnclf_home_by_default(tmp_path, home, no_proxy):
    _, url, md5 = _served(tmp_path)
    path = download.download_imdb(url=url, md5=md5)
    assert path == home / download.IMDB_FILENAME
    assert path.is_file()


def test_download_replaces_a_stale_partial_file(tmp_path, no_proxy):
    source, url, md5 = _served(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / (download.IMDB_FILENAME + ".part")).write_bytes(b"garbage from an old run")
    path = download.download_imdb(cache_dir=cache, url=url, md5=md5)
    assert path.read_bytes() == source.read_bytes()
    assert not (cache / (download.IMDB_FILENAME + ".part")).exists()


def test_download_with_a_wrong_md5_is_an_error_and_leaves_nothing(tmp_path, no_proxy):
    _, url, _ = _served(tmp_path)
    cache = tmp_path / "cache"
    expected = "0" * 32
    with pytest.raises(AttnclfError, match=f"corrupt: md5 [0-9a-f]{{32}}, expected {expected}"):
        download.download_imdb(cache_dir=cache, url=url, md5=expected)
    assert list(cache.iterdir()) == []


def test_download_from_an_unreachable_address_points_at_data(tmp_path, no_proxy):
    cache = tmp_path / "cache"
    with pytest.raises(
        AttnclfError, match=r"cannot download IMDB from http://127\.0\.0\.1:9.*--data"
    ):
        download.download_imdb(cache_dir=cache, url="http://127.0.0.1:9/x.tar.gz", md5="0" * 32)
    assert not (cache / download.IMDB_FILENAME).exists()


def test_download_of_a_missing_file_url_is_an_error(tmp_path, no_proxy):
    url = (tmp_path / "absent.tar.gz").as_uri()
    with pytest.raises(AttnclfError, match="cannot download IMDB.*ATTNCLF_DATA"):
        download.download_imdb(cache_dir=tmp_path / "cache", url=url, md5="0" * 32)


def test_file_digest(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert download.file_digest(path, "md5") == hashlib.md5(b"abc").hexdigest()
    assert download.file_digest(path, "sha256") == hashlib.sha256(b"abc").hexdigest()


def test_cache_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNCLF_HOME", str(tmp_path / "x"))
    assert download.cache_home() == tmp_path / "x"
    monkeypatch.setenv("ATTNCLF_HOME", "")
    assert download.cache_home() == Path.home() / ".cache" / "attnclf"
