"""ONNX export: every family's graph computes what PyTorch computes, on one padded batch of
lengths 1 to 400 and on real reviews of many lengths; the ONNX guide's onnxruntime-only example runs
without torch and gives attnclf's labels; the command writes the graph and says so."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from helpers import assert_one_line_error, run_cli

import attnclf
from attnclf.config import DataConfig, TextConfig
from attnclf.errors import AttnclfError
from attnclf.inference.classifier import TextClassifier
from attnclf.interop.onnx_export import ONNX_FILE, export_folder, export_onnx
from attnclf.models import all_families, build_model, get_family, model_config
from attnclf.text.tokens import Vocab, build_and_encode

ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the dev extra")


def tiny_classifier(name: str, vocab: Vocab, max_len: int = 400, seed: int = 0) -> TextClassifier:
    torch.manual_seed(seed)
    config = model_config(name, **{**get_family(name).tiny, "vocab_size": len(vocab)})
    model = build_model(name, config)
    return TextClassifier(
        name, model, vocab, TextConfig(max_len=max_len), ["neg", "pos"], {}, "cpu"
    )


def padded(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    ids = np.zeros((len(rows), lengths.max()), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids, lengths


def assert_graph_matches(classifier: TextClassifier, path: Path, ids, lengths) -> None:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"ids": ids, "lengths": lengths}), strict=True))
    with torch.no_grad():
        expected = classifier.model.eval()(torch.from_numpy(ids), torch.from_numpy(lengths))
    assert names[0] == "logits"
    for name in names:
        np.testing.assert_allclose(got[name], getattr(expected, name).numpy(), atol=1e-4, rtol=0)
    for name in ("attention", "head_attention", "token_attention"):
        assert (name in names) == (getattr(expected, name) is not None)


@pytest.mark.parametrize("name", list(all_families()))
def test_every_family_exports_for_lengths_1_to_400_in_one_batch(name, tmp_path):
    vocab = Vocab(["<pad>", "<unk>", *[f"w{i}" for i in range(60)]])
    classifier = tiny_classifier(name, vocab)
    exported = export_onnx(classifier, tmp_path / "model.onnx")
    assert exported.checked and exported.max_difference < 1e-4
    rng = np.random.default_rng(0)
    lengths = [1, 400, 2, 37, 399, 128, 5, 250]
    ids, lengths_array = padded([rng.integers(2, len(vocab), n) for n in lengths])
    assert_graph_matches(classifier, exported.path, ids, lengths_array)
    # a single text, and a batch of one token each: other shapes than the export's example
    assert_graph_matches(classifier, exported.path, ids[:1, :1], lengths_array[:1])
    assert_graph_matches(classifier, exported.path, ids[:, :1], np.ones(8, dtype=np.int64))


@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_real_reviews_of_many_lengths_in_one_padded_batch(name, imdb_archive, tmp_path):
    from attnclf.data.splits import load_dataset

    dataset = load_dataset(DataConfig(source=str(imdb_archive), limit=200))
    vocab, _ = build_and_encode(dataset.train.texts, TextConfig(vocab_size=2000))
    classifier = tiny_classifier(name, vocab)
    rows = classifier.encoder.encode_many(dataset.test.texts)
    by_length = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    picked = [rows[by_length[i]] for i in np.linspace(0, len(rows) - 1, 12).astype(int)]
    ids, lengths = padded(picked)
    assert lengths.min() < 60 and lengths.max() == 400  # short reviews and cut ones together
    exported = export_onnx(classifier, tmp_path / "model.onnx")
    assert_graph_matches(classifier, exported.path, ids, lengths)


def onnx_guide_snippet() -> str:
    """The ONNX guide's example that runs the graph with onnxruntime and no torch."""
    text = (REPO / "docs" / "guides" / "onnx.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    (snippet,) = [block for block in blocks if "import onnxruntime" in block]
    return snippet.replace('folder = "models/sa"', 'folder = "runs/compare/self-attention"')


def test_the_onnx_guide_runs_the_graph_with_onnxruntime_only(sentiment_csv, tmp_path):
    from attnclf.config import TrainConfig
    from attnclf.training.run import prepare_data, train_model

    data = prepare_data(DataConfig(source=str(sentiment_csv)), TextConfig(vocab_size=100))
    folder = tmp_path / "runs" / "compare" / "self-attention"
    train_model("self-attention", data, TrainConfig(epochs=3, batch_size=32), folder, False)
    result = run_cli("export", folder)
    assert result.exit_code == 0, result.output
    assert f"wrote {folder / ONNX_FILE}" in result.stdout and "matches PyTorch" in result.stdout
    code = (
        onnx_guide_snippet()
        + "\nimport sys\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    labels = [p.label for p in attnclf.load(folder, "cpu").predict(
        ["A wonderful, moving film.", "Two hours I will never get back."]
    )]  # fmt: skip
    assert done.stdout.startswith(str(labels))


def test_saving_new_weights_into_the_folder_removes_the_graph_of_the_old_ones(tmp_path):
    vocab = Vocab(["<pad>", "<unk>", "good", "bad"])
    folder = tiny_classifier("self-attention", vocab).save(tmp_path / "sa")
    export_folder(folder)
    assert (folder / ONNX_FILE).is_file()
    tiny_classifier("self-attention", vocab).save(folder)  # retrained into the same folder
    assert not (folder / ONNX_FILE).exists()
    with pytest.raises(AttnclfError, match="attnclf export"):
        attnclf.load(folder, "cpu", runtime="onnx")


def test_a_graph_written_elsewhere_takes_the_vocabulary_and_settings_along(tmp_path):
    vocab = Vocab(["<pad>", "<unk>", "good", "bad"])
    folder = tiny_classifier("multihead", vocab).save(tmp_path / "mh")
    exported = export_folder(folder, tmp_path / "elsewhere" / "mh.onnx")
    assert exported.outputs == ("logits", "attention", "head_attention")
    beside = sorted(p.name for p in (tmp_path / "elsewhere").iterdir())
    assert beside == ["config.json", "mh.onnx", "vocab.json"]


def test_export_mistakes_are_one_line(tmp_path):
    assert_one_line_error(run_cli("export", tmp_path), "not an attnclf model folder")
    vocab = Vocab(["<pad>", "<unk>", "good"])
    folder = tiny_classifier("self-attention", vocab).save(tmp_path / "sa")
    assert_one_line_error(run_cli("export", folder, "--onnx", tmp_path / "x.txt"), "end in .onnx")


@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_the_onnx_runtime_gives_pytorchs_predictions(name, tmp_path):
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film", "plot", "dull", "great"])
    folder = tiny_classifier(name, vocab).save(tmp_path / name)
    texts = ["good film", "bad dull plot " * 30, "great", "film plot unknown words good"]
    with pytest.raises(AttnclfError, match="run `attnclf export"):
        attnclf.load(folder, "cpu", runtime="onnx")
    export_folder(folder)
    in_torch = attnclf.load(folder, "cpu").predict(texts)
    in_onnx = attnclf.load(folder, "cpu", runtime="onnx").predict(texts)
    for a, b in zip(in_torch, in_onnx, strict=True):
        assert a.label == b.label and a.tokens == b.tokens
        assert b.probability == pytest.approx(a.probability, abs=1e-5)
        np.testing.assert_allclose(b.attention, a.attention, atol=1e-5)
        assert (a.head_attention is None) == (b.head_attention is None)
    with pytest.raises(AttnclfError, match="no weights to save"):
        attnclf.load(folder, "cpu", runtime="onnx").save(tmp_path / "copy")
    with pytest.raises(AttnclfError, match="is not one of torch, onnx"):
        attnclf.load(folder, "cpu", runtime="tensorflow")


def test_predict_and_serve_take_the_onnx_runtime(tmp_path):
    from attnclf.serve.models import load_models

    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film", "plot"])
    folder = tiny_classifier("multihead", vocab).save(tmp_path / "mh")
    export_folder(folder)
    texts = ["good film", "bad plot bad"]
    shown = {
        runtime: run_cli("predict", folder, *texts, "--json", "--runtime", runtime).stdout
        for runtime in ("torch", "onnx")
    }
    assert [json.loads(line)["label"] for line in shown["onnx"].splitlines()] == [
        json.loads(line)["label"] for line in shown["torch"].splitlines()
    ]
    served = load_models([folder], device="cpu", runtime="onnx")
    assert type(served["mh"].classifier.model).__name__ == "OnnxRuntimeModel"


def test_on_a_machine_with_a_gpu_the_onnx_runtime_takes_the_cpu_unless_told_otherwise(
    tmp_path, monkeypatch
):
    folder = tiny_classifier("multihead", Vocab(["<pad>", "<unk>", "good"])).save(tmp_path / "mh")
    export_folder(folder)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    loaded = attnclf.load(folder, "auto", runtime="onnx")  # the default device
    assert loaded.device.type == "cpu" and loaded.predict(["good"])[0].label
    with pytest.raises(AttnclfError, match=r"use --device cpu or auto \(not cuda\)"):
        attnclf.load(folder, "cuda", runtime="onnx")
