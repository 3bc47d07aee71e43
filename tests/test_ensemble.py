"""Ensembles: the weights EM finds against a brute-force search, the averaging, and the folder
through every command that takes a model (predict, evaluate, explain, serve)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from helpers import assert_one_line_error, run_cli

from attnclf.errors import AttnclfError
from attnclf.inference.ensemble import Ensemble, combine, mixture_weights
from attnclf.inference.loading import load_any

with warnings.catch_warnings():  # starlette's note that it will move to httpx2
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient


def log_likelihood(weights: np.ndarray, true: np.ndarray) -> float:
    return float(np.log(weights @ true).sum())


def test_em_weights_reach_the_best_likelihood_a_grid_search_finds():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)  # (N,)
    probs = rng.uniform(0.05, 0.95, (3, 300))  # (M, N) probability of label 1
    probs[0] = np.where(labels == 1, 0.8, 0.2)  # one member mostly right
    member_probs = np.stack([1 - probs, probs], axis=-1)  # (M, N, 2)
    weights = mixture_weights(member_probs, labels)
    assert weights.shape == (3,) and abs(weights.sum() - 1) < 1e-9 and weights.min() >= 0
    true = member_probs[:, np.arange(300), labels]  # (M, N)
    best = max(
        log_likelihood(np.array([a, b, 1 - a - b]), true)
        for a in np.linspace(0, 1, 101)
        for b in np.linspace(0, 1, 101)
        if a + b <= 1 + 1e-12
    )
    assert log_likelihood(weights, true) >= best - 1e-6
    assert weights[0] > 0.5


def test_a_member_that_is_always_right_takes_all_the_weight():
    labels = np.array([0, 1, 1, 0])
    right = np.eye(2)[labels]  # (N, 2)
    unsure = np.full((4, 2), 0.5)
    weights = mixture_weights(np.stack([unsure, right]), labels)
    assert weights[1] > 0.999


def test_combine_averages_and_leaves_a_text_without_words_to_the_other_members():
    a = np.array([[0.2, 0.8], [np.nan, np.nan]])
    b = np.array([[0.6, 0.4], [0.3, 0.7]])
    mixed = combine(np.stack([a, b]), np.array([0.75, 0.25]))
    np.testing.assert_allclose(mixed[0], 0.75 * a[0] + 0.25 * b[0])
    np.testing.assert_allclose(mixed[1], b[1])


# --- the folder through the commands ----------------------------------------------------------


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Two members trained on the same CSV and split: nbsvm and a one-epoch bilstm."""
    from conftest import write_reviews_csv

    root = tmp_path_factory.mktemp("ensemble")
    data = write_reviews_csv(root / "reviews.csv", 400)
    folders = {}
    for family in ("nbsvm", "bilstm"):
        out = root / family
        result = run_cli(
            "train", "--model", family, "--data", data, "--epochs", 1, "--out", out, "-q"
        )
        assert result.exit_code == 0, result.output
        folders[family] = out
    return root, data, folders


@pytest.fixture(scope="module")
def ensemble_folder(members):
    root, _, folders = members
    out = root / "both"
    result = run_cli("ensemble", folders["nbsvm"], f"lstm={folders['bilstm']}", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert "ensemble" in result.stdout and "lstm" in result.stdout and "val acc" in result.stdout
    return out


def test_the_folder_holds_its_members_and_their_weights(ensemble_folder):
    config = json.loads((ensemble_folder / "config.json").read_text())
    assert config["format"] == "attnclf-ensemble"
    assert [m["name"] for m in config["members"]] == ["nbsvm", "lstm"]
    assert abs(sum(m["weight"] for m in config["members"]) - 1) < 1e-9
    assert config["validation"]["examples"] > 0  # weighed on validation, not on test
    for member in config["members"]:
        assert (ensemble_folder / member["folder"] / "model.safetensors").is_file()
    loaded = load_any(ensemble_folder, "cpu")
    assert isinstance(loaded, Ensemble) and loaded.label_names == config["labels"]


def test_its_probabilities_are_the_weighted_average_of_its_members(ensemble_folder):
    ensemble = load_any(ensemble_folder, "cpu")
    assert isinstance(ensemble, Ensemble)
    texts = ["A wonderful, superb film.", "Dreadful and boring.", "The plot was a story."]
    own = [p.probabilities for p in ensemble.predict(texts)]
    for i in range(len(texts)):
        expected = sum(
            w * np.array(list(m.classifier.predict([texts[i]])[0].probabilities.values()))
            for m, w in zip(ensemble.members, ensemble.weights, strict=True)
        )
        np.testing.assert_allclose(list(own[i].values()), expected, atol=1e-6)


def test_predict_evaluate_and_explain_take_the_folder(members, ensemble_folder, tmp_path):
    _, data, _ = members
    result = run_cli("predict", ensemble_folder, "A wonderful, superb film.", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"] in ("neg", "pos")

    result = run_cli("evaluate", ensemble_folder, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    config = json.loads((ensemble_folder / "config.json").read_text())
    # the CSV has no test split of its own: evaluate scores every row, training rows included
    assert 0.5 < json.loads(result.stdout)["accuracy"] <= 1.0
    assert 0 <= config["metrics"]["test_accuracy"] <= 1.0

    page = tmp_path / "page.html"
    result = run_cli("explain", ensemble_folder, "A dreadful, boring film.", "--html", page)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "nbsvm (weight" in html and "lstm (weight" in html and "ensemble (" in html
    assert "has no attention of its own" in html

    result = run_cli("explain", ensemble_folder, "--data", data, "--sample", 2)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("nbsvm (weight") == 2

    rows = tmp_path / "rows.csv"
    rows.write_text("text\nA superb film.\nBoring.\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run_cli("predict", ensemble_folder, "--data", rows, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\n") == 3


def test_mistakes_are_one_line(members, ensemble_folder, tmp_path):
    root, data, folders = members
    assert_one_line_error(run_cli("faithfulness", ensemble_folder, "--data", data), "members/")
    assert_one_line_error(
        run_cli("ensemble", ensemble_folder, folders["nbsvm"], "--out", tmp_path / "e"),
        "is an ensemble",
    )
    assert_one_line_error(
        run_cli(
            "ensemble",
            folders["nbsvm"],
            folders["bilstm"],
            "--weights",
            "1",
            "--out",
            tmp_path / "e",
        ),
        "2 members",
    )
    assert_one_line_error(
        run_cli("ensemble", folders["nbsvm"], folders["nbsvm"], "--out", tmp_path / "e"),
        "two members are named",
    )
    other = root / "other-split"
    result = run_cli("train", "--model", "nbsvm", "--data", data, "--seed", 1, "--out", other, "-q")
    assert result.exit_code == 0, result.output
    assert_one_line_error(
        run_cli("ensemble", folders["nbsvm"], other, "--out", tmp_path / "e"), "different splits"
    )
    assert_one_line_error(run_cli("export", ensemble_folder), "ensemble")


def test_fixed_weights_are_kept(members, tmp_path):
    _, _, folders = members
    out = tmp_path / "fixed"
    result = run_cli(
        "ensemble", folders["nbsvm"], folders["bilstm"], "--weights", "3,1", "--out", out, "-q"
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert [m["weight"] for m in config["members"]] == [0.75, 0.25]


def test_the_server_serves_an_ensemble(ensemble_folder):
    from attnclf.serve import ServeSettings, create_app
    from attnclf.serve.models import load_models

    models = load_models([f"both={ensemble_folder}"], device="cpu")
    with TestClient(create_app(models, ServeSettings()), raise_server_exceptions=False) as client:
        response = client.post("/predict", json={"texts": ["A wonderful, superb film."]})
        assert response.status_code == 200, response.text
        assert response.json()[0][0]["label"] in ("neg", "pos")
        described = client.get("/models").json()
        assert described[0]["family"] == "ensemble"
        response = client.post(
            "/explain", json={"texts": ["A superb film."], "methods": ["gradient_x_input"]}
        )
        assert response.status_code == 200, response.text
        assert "ensemble" in json.dumps(response.json())


def test_serving_an_ensemble_in_onnx_runtime_is_a_one_line_error(ensemble_folder):
    # its members run in PyTorch: served quietly in PyTorch, --runtime onnx would be a lie
    from attnclf.serve.models import load_models

    with pytest.raises(AttnclfError, match="is an ensemble; its members run in PyTorch") as raised:
        load_models([f"both={ensemble_folder}"], device="cpu", runtime="onnx")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("cannot serve ")


def test_compare_preset_best_trains_vectors_members_and_the_ensemble(members, tmp_path):
    _, data, _ = members
    out = tmp_path / "best"
    result = run_cli("compare", "--preset", "best", "--data", data, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())
    members = ["nbsvm", "self-attention", "multihead", "multihead-2"]
    assert list(record["models"]) == [*members, "ensemble"]
    weights = record["ensemble"]["weights"]
    assert set(weights) == set(members)
    assert abs(sum(weights.values()) - 1) < 1e-9
    assert record["settings"]["model_text"]["nbsvm"]["max_len"] == 2600
    nbsvm_text = json.loads((out / "nbsvm" / "config.json").read_text())["text"]
    assert nbsvm_text["tokenizer"] == "punctuation"
    assert "." in json.loads((out / "nbsvm" / "vocab.json").read_text())
    vectors = record["data"]["word2vec"]
    assert (out / "vectors" / "word2vec.bin").is_file() and vectors["texts"] == record["data"][
        "train"
    ]
    assert json.loads((out / "multihead-2" / "config.json").read_text())["training"]["seed"] == 1
    for name in ("self-attention", "multihead", "multihead-2"):
        config = json.loads((out / name / "config.json").read_text())
        assert config["embeddings"]["source"] == vectors["path"]
        assert config["text"]["max_len"] == 800 and config["text"]["tokenizer"] == "attnclf"
    ensemble = load_any(out / "ensemble", "cpu")
    assert isinstance(ensemble, Ensemble) and [m.name for m in ensemble.members] == list(weights)
    assert record["models"]["ensemble"]["test_accuracy"] == pytest.approx(
        record["ensemble"]["test_accuracy"]["ensemble"]
    )
    report = (out / "report.md").read_text()
    assert "weights chosen on the" in report and "ensemble" in result.stdout
