"""attnclf from Python, on data already in memory: `AttentionClassifier` as a scikit-learn
estimator (in a Pipeline, cross_val_score and GridSearchCV, cloned, saved and loaded), and
`prepare_data` on two lists, a pandas DataFrame or a datasets.Dataset. Tiny data the tests make
and tiny models: a fit takes a second or two."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import make_reviews
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import attnclf
from attnclf.config import DataConfig, TextConfig
from attnclf.errors import AttnclfError
from attnclf.models import get_family
from attnclf.models.registry import DATA_FIELDS
from attnclf.training.run import prepare_data


def tiny(name: str = "multihead", **params) -> attnclf.AttentionClassifier:
    """An estimator of family `name` in its tiny test config, on the CPU, set to learn the
    reviews' sentiment words in a few steps (no weight average, which holds a short run back)."""
    settings = {k: v for k, v in get_family(name).tiny.items() if k not in DATA_FIELDS}
    defaults = dict(
        epochs=4, batch_size=16, learning_rate=2e-2, ema_decay=0.0, vocab_size=100,
        device="cpu", precision="fp32", model_settings=settings,
    )  # fmt: skip
    return attnclf.AttentionClassifier(name, **{**defaults, **params})


def split(rows: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [text for text, _ in rows], [label for _, label in rows]


TEXTS, LABELS = split(make_reviews(160))
TEST_TEXTS, TEST_LABELS = split(make_reviews(60, seed=1))
AS_INTS = {"neg": 0, "pos": 1}


@pytest.fixture(scope="module")
def fitted() -> attnclf.AttentionClassifier:
    return tiny().fit(TEXTS, [AS_INTS[label] for label in LABELS])


# --- the estimator ------------------------------------------------------------------------------


def test_it_learns_and_answers_in_the_labels_own_type(fitted):
    ints = [AS_INTS[label] for label in TEST_LABELS]
    assert list(fitted.classes_) == [0, 1] and fitted.classes_.dtype.kind == "i"
    predicted = fitted.predict(TEST_TEXTS)
    assert predicted.dtype.kind == "i" and predicted.shape == (60,)
    assert fitted.score(TEST_TEXTS, ints) == np.mean(predicted == ints) >= 0.85
    proba = fitted.predict_proba(TEST_TEXTS)
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (fitted.classes_[proba.argmax(axis=1)] == predicted).all()
    assert len(fitted.history_) == 4 and 1 <= fitted.best_epoch_ <= 4

    strings = tiny().fit(TEXTS, LABELS)  # the same texts, the labels as strings
    assert list(strings.classes_) == ["neg", "pos"]
    assert strings.predict(TEST_TEXTS).dtype.kind == "U"
    assert list(strings.predict(TEST_TEXTS)) == [["neg", "pos"][i] for i in predicted]


def test_three_classes_keep_the_columns_in_classes_order():
    def three_classes(rows: list[tuple[str, str]], first: int) -> tuple[list[str], list[int]]:
        neutral = [f"Neutral plain {i}." for i in range(first, first + len(rows) // 2)]
        labels = [{"pos": 30, "neg": 10}[label] for _, label in rows] + [20] * len(neutral)
        return [text for text, _ in rows] + neutral, labels

    clf = tiny(epochs=6).fit(*three_classes(make_reviews(120), 0))
    assert list(clf.classes_) == [10, 20, 30]
    assert clf.score(*three_classes(make_reviews(60, seed=1), 100)) >= 0.95
    proba = clf.predict_proba(["Neutral plain 3.", "A superb film.", "An awful film."])
    assert proba.shape == (3, 3)
    assert list(clf.classes_[proba.argmax(axis=1)]) == [20, 30, 10]


def test_a_text_with_no_words_gets_the_label_frequencies(fitted):
    fewer = tiny().fit(TEXTS[:100], LABELS[:98] + ["neg", "neg"])  # 51 neg, 49 pos
    proba = fewer.predict_proba(["", "A superb, moving film.", " \n "])
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba[0], [0.51, 0.49])
    np.testing.assert_allclose(proba[2], [0.51, 0.49])
    assert list(fewer.predict(["", "A superb, moving film.", " \n "])) == ["neg", "pos", "neg"]
    assert fitted.predict([]).shape == (0,) and fitted.predict_proba([]).shape == (0, 2)


def test_in_a_pipeline_and_cross_validated():
    def lowercase(texts):
        return [text.lower() for text in texts]

    pipeline = Pipeline([("lower", FunctionTransformer(lowercase)), ("clf", tiny(epochs=2))])
    scores = cross_val_score(pipeline, TEXTS[:90], LABELS[:90], cv=3, error_score="raise")
    assert scores.shape == (3,) and all(0.0 <= s <= 1.0 for s in scores)


def test_grid_search_picks_the_learning_rate_that_learns():
    grid = GridSearchCV(
        tiny(), {"learning_rate": [1e-6, 2e-2]}, cv=2, error_score="raise", refit=True
    )
    grid.fit(TEXTS[:120], LABELS[:120])
    assert len(grid.cv_results_["params"]) == 2
    assert grid.best_params_ == {"learning_rate": 2e-2}
    assert grid.best_estimator_.score(TEST_TEXTS, TEST_LABELS) >= 0.8


def test_adadelta_takes_its_usual_rate_and_is_saved(tmp_path):
    # learning_rate None: the optimizer's usual, 1.0 for adadelta (Adam's 2e-3 would barely
    # move it); Adadelta is slow to start on data this small, so this checks the setting only
    clf = tiny("conv-attention", optimizer="adadelta", learning_rate=None, epochs=1)
    assert clf.get_params()["optimizer"] == "adadelta"
    clf.fit(TEXTS, LABELS).save(tmp_path / "m")
    training = json.loads((tmp_path / "m" / "config.json").read_text())["training"]
    assert (training["optimizer"], training["lr"]) == ("adadelta", 1.0)
    assert tiny(learning_rate=None).fit(TEXTS[:20], LABELS[:20])._configs()[1].lr == 2e-3


def test_clone_and_params_round_trip(fitted):
    clf = tiny(epochs=5, model_settings={"hidden_size": 4}, log_dir="logs")
    params = clf.get_params()
    assert params["epochs"] == 5 and params["model"] == "multihead"
    assert params["model_settings"] == {"hidden_size": 4} and params["log_dir"] == "logs"
    assert attnclf.AttentionClassifier(**params).get_params() == params
    assert clone(clf).get_params() == params
    assert clf.set_params(epochs=7, seed=3) is clf and (clf.epochs, clf.seed) == (7, 3)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "classes_")
    with pytest.raises(NotFittedError):
        copy.predict(["A film."])


def test_the_saved_folder_loads_and_predicts_the_same_labels(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    loaded = attnclf.load(folder)
    assert loaded.label_names == ["0", "1"]
    labels = [prediction.label for prediction in loaded.predict(TEST_TEXTS)]
    assert labels == [str(label) for label in fitted.predict(TEST_TEXTS)]
    np.testing.assert_allclose(
        loaded.predict_proba(TEST_TEXTS), fitted.predict_proba(TEST_TEXTS), atol=1e-6
    )


def test_nbsvm_fits_too(tmp_path):
    clf = tiny("nbsvm").fit(TEXTS, LABELS)
    assert clf.score(TEST_TEXTS, TEST_LABELS) >= 0.9
    assert clf.predict_proba(["", "An awful film."]).shape == (2, 2)
    loaded = attnclf.load(clf.save(tmp_path / "nbsvm"))
    labels = [prediction.label for prediction in loaded.predict(TEST_TEXTS)]
    assert labels == list(clf.predict(TEST_TEXTS))


def test_the_same_seed_gives_the_same_model():
    first = tiny(epochs=1).fit(TEXTS[:60], LABELS[:60]).predict_proba(TEST_TEXTS)
    second = tiny(epochs=1).fit(TEXTS[:60], LABELS[:60]).predict_proba(TEST_TEXTS)
    np.testing.assert_array_equal(first, second)


def test_fit_is_quiet_unless_verbose(capfd):
    tiny(epochs=1).fit(TEXTS[:40], LABELS[:40])
    assert capfd.readouterr() == ("", "")
    tiny(epochs=1, verbose=True).fit(TEXTS[:40], LABELS[:40])
    assert "epoch 1/1" in capfd.readouterr().err


@pytest.mark.parametrize(
    "change, fit_with, message",
    [
        ({}, ("one text", ["pos"]), "X is one string"),
        ({}, (TEXTS[:10], LABELS[:9]), "10 texts but y has 9"),
        ({}, (TEXTS[:10], ["pos"] * 10), "one class only"),
        ({}, ([*TEXTS[:9], 3], LABELS[:10]), r"X\[9\] is a int"),
        ({}, (TEXTS[:10], [0.5, 1.5] * 5), "continuous"),
        ({"truncation": "middle"}, (TEXTS[:10], LABELS[:10]), "truncation='middle'"),
        ({"learning_rate": 0}, (TEXTS[:10], LABELS[:10]), "learning_rate=0"),
        ({"optimizer": "sgd"}, (TEXTS[:10], LABELS[:10]), "optimizer='sgd' is not one of"),
        ({"model_settings": {"vocab_size": 9}}, (TEXTS[:10], LABELS[:10]), "vocab_size"),
    ],
)
def test_wrong_input_is_a_value_error_that_says_what(change, fit_with, message):
    with pytest.raises(ValueError, match=message):
        tiny(**change).fit(*fit_with)


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(AttnclfError, match="unknown model 'svm'.*self-attention"):
        attnclf.AttentionClassifier("svm").fit(TEXTS[:10], LABELS[:10])


# --- prepare_data on rows in memory -------------------------------------------------------------


def test_rows_in_memory_split_as_the_same_rows_in_a_csv_file(tmp_path):
    rows = make_reviews(200)
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    config = DataConfig(seed=3, validation_fraction=0.2)
    text = TextConfig(vocab_size=100)
    from_file = prepare_data(DataConfig(source=str(path), seed=3, validation_fraction=0.2), text)
    in_memory = prepare_data(split(rows), text, data_config=config)
    for name in ("train", "validation", "test"):
        ours, theirs = getattr(in_memory.dataset, name), getattr(from_file.dataset, name)
        assert ours.texts == theirs.texts and (ours.labels == theirs.labels).all(), name
    assert in_memory.dataset.label_names == from_file.dataset.label_names == ["neg", "pos"]
    assert in_memory.vocab.tokens == from_file.vocab.tokens
    assert in_memory.dataset.name == "in-memory"


def test_int_labels_in_memory_name_their_classes_as_a_file_does():
    texts, labels = split(make_reviews(40))
    data = prepare_data((texts, [AS_INTS[x] + 1.0 for x in labels]), TextConfig())
    assert data.dataset.label_names == ["1", "2"]  # 1.0 and 2.0 as a CSV file names them


def test_a_dataframe_by_its_column_names():
    pandas = pytest.importorskip("pandas")
    texts, labels = split(make_reviews(40))
    frame = pandas.DataFrame(
        {
            "review": [*texts, None, "A film with no label."],
            "stars": [{"neg": 1, "pos": 5}[x] for x in labels] + [5, None],
            "other": range(42),
        }
    )
    data = prepare_data(
        frame, TextConfig(), data_config=DataConfig(text_column="review", label_column="stars")
    )
    dataset = data.dataset
    assert dataset.label_names == ["1", "5"]
    assert len(dataset.train) + len(dataset.validation) + len(dataset.test) == 40
    # pandas holds a column of ints with a gap as floats (5.0 is "5"), and the gap as NaN: a
    # missing label, as null is in a JSONL file (NaN written as a label is another matter)
    assert dataset.skipped == {"empty text": 1, "empty label": 1}
    with pytest.raises(AttnclfError, match=r"no column 'text' \(their columns: review, stars"):
        prepare_data(frame, TextConfig())


class DatasetLike:
    """What prepare_data reads of a Hugging Face datasets.Dataset: column names, a column by
    name, and the label column's ClassLabel names."""

    def __init__(self, columns: dict[str, list], label_names: list[str] | None = None):
        self.columns = columns
        self.column_names = list(columns)
        self.features = {"label": type("ClassLabel", (), {"names": label_names})()}

    def __getitem__(self, name: str) -> list:
        return self.columns[name]


def test_a_dataset_like_object_and_its_class_label_names():
    texts, labels = split(make_reviews(40))
    ids = [AS_INTS[x] for x in labels]
    named = prepare_data(DatasetLike({"text": texts, "label": ids}, ["neg", "pos"]), TextConfig())
    assert named.dataset.label_names == ["neg", "pos"]
    plain = prepare_data(DatasetLike({"text": texts, "label": ids}), TextConfig())
    assert plain.dataset.label_names == ["0", "1"]
    unlabelled = DatasetLike({"text": [*texts, "no label"], "label": [*ids, -1]}, ["neg", "pos"])
    assert prepare_data(unlabelled, TextConfig()).dataset.skipped == {"empty label": 1}


def test_a_real_hugging_face_dataset():
    datasets = pytest.importorskip("datasets")
    texts, labels = split(make_reviews(40))
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    rows = datasets.Dataset.from_dict(
        {"text": texts, "label": [AS_INTS[x] for x in labels]}, features=features
    )
    dataset = prepare_data(rows, TextConfig()).dataset
    assert dataset.label_names == ["neg", "pos"]
    assert sorted(dataset.train.texts + dataset.validation.texts + dataset.test.texts) == sorted(
        texts
    )


@pytest.mark.parametrize(
    "rows, message",
    [
        ((["a", "b"], ["x"]), "2 texts but 1 labels"),
        ({"text": ["a"]}, "cannot read rows from a dict"),
        ((["a b", 3, "c", "d"], ["x", "y", "x", "y"]), "row 2: the text is a int"),
        ((["a", "b", "c"], ["x", "y", "x"]), "3 usable examples; a run needs at least 4"),
        ((["a", "b", "c", "d"], ["x"] * 4), "only one class"),
    ],
)
def test_rows_that_cannot_be_read_are_one_line_errors(rows, message):
    with pytest.raises(AttnclfError, match=message):
        prepare_data(rows, TextConfig())


def test_a_dict_of_splits_asks_for_one():
    class Splits:
        column_names = {"train": ["text", "label"], "test": ["text", "label"]}

    with pytest.raises(AttnclfError, match=r"dict of splits \(train, test\).*rows\['train'\]"):
        prepare_data(Splits(), TextConfig())
