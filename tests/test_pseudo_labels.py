"""Self-training (pseudo_labels.py): which unlabelled texts a teacher labels, that evaluated texts
never join the training split, `attnclf train --teacher`, and the record preset's students."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_reviews, write_reviews_csv
from helpers import assert_one_line_error, run_cli

from attnclf.config import DataConfig
from attnclf.data.examples import Dataset, Examples
from attnclf.errors import AttnclfError
from attnclf.inference.classifier import Scored
from attnclf.inference.ensemble import Ensemble
from attnclf.inference.loading import load_any
from attnclf.training.run import prepare_data
from attnclf.training.self_training import pseudo_label, with_pseudo_labels


class KnownTeacher:
    """A teacher whose probability of "positive" for each text is given; a text missing from
    `positive` has no words it knows (scored None)."""

    label_names = ["negative", "positive"]

    def __init__(self, positive: dict[str, float]):
        self.positive = positive
        self.asked: list[str] = []

    def infer(self, texts, batch_size=256, attention=True):
        self.asked.extend(texts)
        return [
            Scored(
                t.split(),
                False,
                np.array([1 - self.positive[t], self.positive[t]]),
                None,
                None,
                None,
            )
            if t in self.positive
            else None
            for t in texts
        ]


def small_dataset() -> Dataset:
    def examples(texts: list[str], labels: list[int]) -> Examples:
        return Examples(texts, np.array(labels, dtype=np.int64))

    return Dataset(
        "toy",
        ["negative", "positive"],
        examples(["good one", "bad one"], [1, 0]),
        examples(["a validation text"], [1]),
        examples(["a test text"], [0]),
    )


def test_only_confident_texts_are_kept_with_the_teachers_label():
    teacher = KnownTeacher({"sure yes": 0.97, "sure no": 0.02, "unsure": 0.6, "edge": 0.9})
    texts = ["sure yes", "unsure", "sure no", "no known word", "edge"]
    labels = pseudo_label(teacher, texts, small_dataset(), threshold=0.9)
    assert labels.examples.texts == ["sure yes", "sure no", "edge"]
    assert labels.examples.labels.tolist() == [1, 0, 1]
    summary = labels.summary(["negative", "positive"])
    assert summary["offered"] == 5 and summary["kept"] == 3
    assert summary["kept_per_label"] == {"negative": 1, "positive": 2}
    assert "3 of 5 unlabelled texts (60%)" in labels.describe()


def test_validation_and_test_texts_are_never_labelled_for_training():
    dataset = small_dataset()
    teacher = KnownTeacher({"a validation text": 0.99, "a test text": 0.01, "fresh": 0.99})
    labels = pseudo_label(teacher, ["a validation text", "fresh", "a test text"], dataset)
    assert teacher.asked == ["fresh"]  # the teacher is not even asked about them
    assert labels.examples.texts == ["fresh"] and labels.evaluated_dropped == 2
    taught = with_pseudo_labels(dataset, labels)
    assert taught.train.texts == dataset.train.texts  # the labelled split as it was
    training = taught.training_examples()
    assert training.texts == ["good one", "bad one", "fresh"]
    assert training.labels.tolist() == [1, 0, 1]
    assert taught.summary()["train"] == 2 and taught.summary()["pseudo_labelled"]["kept"] == 1


def test_the_students_vocabulary_and_ids_include_the_labelled_texts():
    from attnclf.config import TextConfig

    dataset = small_dataset()
    labels = pseudo_label(KnownTeacher({"zebra crossing": 0.95}), ["zebra crossing"], dataset)
    prepared = prepare_data(DataConfig(), TextConfig(), with_pseudo_labels(dataset, labels))
    assert len(prepared.train) == 3 and prepared.train.labels.tolist() == [1, 0, 1]
    assert "zebra" in prepared.vocab.index and prepared.summary()["train"] == 2


@pytest.mark.parametrize("threshold", [0.4, 1.0])
def test_a_threshold_outside_its_range_is_an_error(threshold):
    with pytest.raises(AttnclfError, match="--pseudo-threshold"):
        pseudo_label(KnownTeacher({}), ["x"], small_dataset(), threshold=threshold)


def test_a_teacher_with_other_labels_is_an_error():
    teacher = KnownTeacher({})
    teacher.label_names = ["bad", "good"]
    with pytest.raises(AttnclfError, match="same labels"):
        pseudo_label(teacher, ["x"], small_dataset())


# --- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """A teacher (nbsvm) on a CSV, and a student (bilstm) trained with it on unlabelled lines."""
    root = tmp_path_factory.mktemp("taught")
    data = write_reviews_csv(root / "reviews.csv", 300)
    unlabelled = root / "unlabelled.txt"
    unlabelled.write_text("\n".join(text for text, _ in make_reviews(200, seed=7)) + "\n")
    teacher = root / "teacher"
    result = run_cli("train", "--model", "nbsvm", "--data", data, "--out", teacher, "-q")
    assert result.exit_code == 0, result.output
    student = root / "student"
    result = run_cli(
        "train", "--model", "bilstm", "--data", data, "--epochs", 1, "--out", student,
        "--teacher", teacher, "--unlabelled", unlabelled,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root, data, unlabelled, teacher, student, result


def test_train_with_a_teacher_records_what_it_labelled(taught):
    root, data, unlabelled, teacher, student, result = taught
    assert "of 200 unlabelled texts" in result.stderr and "labelled by" in result.stderr
    recorded = json.loads((student / "config.json").read_text())["data"]
    teacher_data = json.loads((teacher / "config.json").read_text())["data"]
    pseudo = recorded["pseudo_labelled"]
    assert pseudo["offered"] == 200 and 0 < pseudo["kept"] <= 200
    assert pseudo["teacher"] == str(teacher) and pseudo["threshold"] == 0.9
    # the labelled split is the teacher's, so the two still make an ensemble
    assert recorded["train"] == teacher_data["train"]
    assert recorded["validation"] == teacher_data["validation"]
    both = root / "both"
    result = run_cli("ensemble", teacher, student, "--out", both, "-q")
    assert result.exit_code == 0, result.output
    assert isinstance(load_any(both, "cpu"), Ensemble)


def test_self_training_mistakes_are_one_line(taught, tmp_path):
    root, data, unlabelled, teacher, _, _ = taught
    out = tmp_path / "m"
    cases = [
        (["--unlabelled", unlabelled], "--unlabelled needs a --teacher"),
        (["--teacher", teacher], "--unlabelled FILE"),  # a CSV has no unlabelled texts
        (["--teacher", teacher, "--unlabelled", tmp_path / "missing.txt"], "cannot read"),
        (["--teacher", tmp_path / "nothing", "--unlabelled", unlabelled], "nothing"),
        (["--teacher", teacher, "--unlabelled", unlabelled, "--pseudo-threshold", 1.5], "must"),
    ]
    for extra, fragment in cases:
        result = run_cli("train", "--model", "nbsvm", "--data", data, "--out", out, *extra)
        assert_one_line_error(result, fragment)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    result = run_cli(
        "train", "--model", "nbsvm", "--data", data, "--out", out, "--teacher", teacher,
        "--unlabelled", empty,
    )  # fmt: skip
    assert_one_line_error(result, "has no texts")
    result = run_cli("compare", "--data", data, "--out", out, "--unlabelled", unlabelled)
    assert_one_line_error(result, "--unlabelled is for a preset")


# --- the record preset --------------------------------------------------------------------


def make_imdb_folder(root: Path) -> dict[str, list[str]]:
    """A small aclImdb/ folder: 400 train and 200 test reviews, 120 unlabelled ones, each
    marked with the word of its split."""
    texts: dict[str, list[str]] = {"train": [], "test": [], "unsup": []}
    for split, n, seed in (("train", 400, 0), ("test", 200, 1)):
        for i, (text, label) in enumerate(make_reviews(n, seed)):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_1.txt").write_text(f"{text} {split}marker")
            texts[split].append(f"{text} {split}marker")
    folder = root / "aclImdb" / "train" / "unsup"
    folder.mkdir()
    for i, (text, _) in enumerate(make_reviews(120, seed=5)):
        (folder / f"{i}_0.txt").write_text(f"{text} unsupmarker")
        texts["unsup"].append(f"{text} unsupmarker")
    return texts


def test_preset_best_self_trains_students_on_the_unlabelled_reviews(tmp_path):
    make_imdb_folder(tmp_path)
    out = tmp_path / "best"
    result = run_cli(
        "compare", "--preset", "best", "--data", tmp_path / "aclImdb", "--out", out,
        "--faithfulness", 0, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())
    teachers = ["nbsvm", "self-attention", "multihead", "multihead-2"]
    students = ["multihead-taught", "multihead-taught-2"]
    assert list(record["models"]) == [*teachers, *students, "ensemble"]
    taught = record["data"]["self_training"]
    assert set(taught["teacher_weights"]) == set(teachers) and taught["offered"] == 120
    # the ensemble: NBSVM and the students (the neural teachers only teach)
    assert list(record["ensemble"]["weights"]) == ["nbsvm", *students]
    for name, seed in zip(students, (0, 1), strict=True):
        config = json.loads((out / name / "config.json").read_text())
        assert config["architecture"] == "multihead" and config["training"]["seed"] == seed
        assert config["training"]["epochs"] == 2 and config["text"]["max_len"] == 800
        assert config["data"]["pseudo_labelled"]["kept"] == taught["kept"]
        assert config["data"]["train"] == record["data"]["train"]
    assert taught["students"] == students
    assert f"labelled {taught['kept']:,} of 120 unlabelled texts" in (out / "report.md").read_text()
    # the students read the confident unlabelled reviews; no model reads the test reviews
    vocab = json.loads((out / students[0] / "vocab.json").read_text())
    teacher_vocab = json.loads((out / "multihead" / "vocab.json").read_text())
    assert taught["kept"] > 0 and "unsupmarker" in vocab and "unsupmarker" not in teacher_vocab
    assert "trainmarker" in vocab and "testmarker" not in vocab
