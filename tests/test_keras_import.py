"""`attnclf import-keras`: the tiny Keras models of tests/fixtures/keras (trained on real IMDB
reviews with a Keras Tokenizer by tools/keras_fixtures.py), imported with h5py alone, predict on
raw text what Keras predicted, and read the same ids Keras did."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_cli

import attnclf
from attnclf.interop.keras_import import read_h5

FIXTURES = Path(__file__).parent / "fixtures" / "keras"
MODELS = json.loads((FIXTURES / "models.json").read_text())
TEXTS = json.loads((FIXTURES / "texts.json").read_text())["texts"]


def imported(tmp_path: Path, name: str) -> attnclf.TextClassifier:
    spec = MODELS["models"][name]
    out = tmp_path / name
    result = run_cli(
        "import-keras", FIXTURES / spec["file"], "--out", out,
        "--word-index", FIXTURES / MODELS["tokenizer"]["file"],
        "--padding", spec["padding"], "--truncating", spec["truncating"],
        "--labels", "negative,positive",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{MODELS['maxlen']} tokens padded {spec['padding']}" in result.stdout
    return attnclf.load(out, device="cpu")


@pytest.mark.parametrize("name", list(MODELS["models"]))
def test_an_imported_model_predicts_what_keras_predicted_on_raw_text(tmp_path, name):
    spec = MODELS["models"][name]
    classifier = imported(tmp_path, name)
    masked = "masked" in name
    assert classifier.model.config.masking == ("keras" if masked else "none")
    # the same ids as Keras' Tokenizer + pad_sequences
    for text, padded in zip(TEXTS, spec["sequences"], strict=True):
        ids = [i for i in padded if i != 0]
        assert classifier.encoder.encode(text).tolist() == ids
    predictions = classifier.predict(TEXTS)
    positive = np.array([p.probabilities["positive"] for p in predictions])
    np.testing.assert_allclose(positive, spec["probabilities"], atol=1e-5, rtol=0)
    # and the views get their token-by-token matrix, rows over the text's own tokens
    scored = classifier.infer(TEXTS[:3])
    for found in scored:
        assert found is not None and found.token_attention is not None
        n = len(found.tokens)
        assert found.token_attention.shape[1:] == (n, n)
        assert found.attention is not None and found.attention.sum() == pytest.approx(1, abs=1e-5)


def test_the_converted_folder_reloads_exactly_and_explains(tmp_path):
    classifier = imported(tmp_path, "selfatt_pre")
    again = attnclf.load(tmp_path / "selfatt_pre", device="cpu")
    first, second = classifier.predict(TEXTS[:5]), again.predict(TEXTS[:5])
    assert [p.probability for p in first] == [p.probability for p in second]
    html = tmp_path / "e.html"
    result = run_cli("explain", tmp_path / "selfatt_pre", TEXTS[0], "--html", html)
    assert result.exit_code == 0, result.output
    assert "token-by-token" in html.read_text()


def test_without_a_word_index_a_text_is_its_ids(tmp_path):
    spec = MODELS["models"]["selfatt_post"]
    out = tmp_path / "ids"
    result = run_cli(
        "import-keras", FIXTURES / spec["file"], "--out", out, "--padding", "post",
        "--truncating", "post",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    classifier = attnclf.load(out, device="cpu")
    texts = [" ".join(str(i) for i in padded if i != 0) for padded in spec["sequences"][:6]]
    positive = [p.probabilities["1"] for p in classifier.predict(texts)]
    np.testing.assert_allclose(positive, spec["probabilities"][:6], atol=1e-5, rtol=0)


def test_the_layers_and_settings_come_from_the_file(tmp_path):
    layers, attrs = read_h5(FIXTURES / MODELS["models"]["selfatt_width_history_post"]["file"])
    kinds = [layer.kind for layer in layers]
    assert kinds == [
        "InputLayer", "Embedding", "Bidirectional", "SeqSelfAttention", "Flatten", "Dense",
    ]  # fmt: skip
    assert attrs["keras_version"].startswith("2.")
    classifier = imported(tmp_path, "selfatt_width_history_post")
    attention = classifier.model.attention
    assert attention.attention_width == 5 and attention.history_only


def copy_with_layer(source: Path, target: Path, kind: str) -> Path:
    """The .h5 at `source` with its Flatten renamed to another class, as an unsupported
    layer would read."""
    import shutil

    shutil.copy(source, target)
    with h5py.File(target, "r+") as file:
        config = json.loads(file.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Flatten":
                layer["class_name"] = kind
        file.attrs["model_config"] = json.dumps(config)
    return target


def test_bad_input_is_one_line(tmp_path):
    spec = MODELS["models"]["selfatt_pre"]
    source = FIXTURES / spec["file"]
    unsupported = copy_with_layer(source, tmp_path / "gru.h5", "GlobalMaxPooling1D")
    result = run_cli("import-keras", unsupported, "--out", tmp_path / "x")
    assert_one_line_error(result, "GlobalMaxPooling1D", "converts")
    not_h5 = tmp_path / "model.h5"
    not_h5.write_text("not a model")
    assert_one_line_error(
        run_cli("import-keras", not_h5, "--out", tmp_path / "x"), "not an HDF5 file"
    )
    assert_one_line_error(
        run_cli("import-keras", tmp_path / "missing.h5", "--out", tmp_path / "x"), "not a file"
    )
    assert_one_line_error(
        run_cli("import-keras", source, "--out", tmp_path / "x", "--labels", "a,b,c"),
        "--labels names 3 labels",
    )
    assert_one_line_error(
        run_cli("import-keras", source, "--out", tmp_path / "x", "--max-len", "30"),
        "--max-len",
    )
    assert_one_line_error(
        run_cli("import-keras", source, "--out", tmp_path / "x", "--padding", "middle"),
        "--padding",
    )
    bad_index = tmp_path / "index.json"
    bad_index.write_text("[1, 2]")
    assert_one_line_error(
        run_cli("import-keras", source, "--out", tmp_path / "x", "--word-index", bad_index),
        "--word-index",
    )
    assert not (tmp_path / "x").exists()


def test_the_fixture_weights_are_what_the_model_holds(tmp_path):
    classifier = imported(tmp_path, "multihead_pre")
    layers, _ = read_h5(FIXTURES / MODELS["models"]["multihead_pre"]["file"])
    embedding = next(layer for layer in layers if layer.kind == "Embedding")
    torch.testing.assert_close(
        classifier.model.embedding.weight, torch.from_numpy(np.array(embedding.weights[0]))
    )


def test_without_h5py_the_import_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` now raises ImportError
    source = FIXTURES / MODELS["models"]["selfatt_pre"]["file"]
    assert_one_line_error(
        run_cli("import-keras", source, "--out", tmp_path / "x"), "pip install 'attnclf[keras]'"
    )
