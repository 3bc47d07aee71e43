"""The model folder: a folder written in the format of attnclf 0.1.0 before the package was
reshaped still loads and predicts the same; folders of each kind are told apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import attnclf
from attnclf.errors import AttnclfError
from attnclf.inference.folder import CLASSIFIER, SEQ2SEQ, folder_kind, read_config

# The tensors of a tiny multihead model as 0.1.0 named and shaped them, written by hand here so
# that a renamed parameter or a moved module cannot pass unnoticed.
OLD_MULTIHEAD_TENSORS = {
    "embedding.weight": (12, 4),
    "encoder.forward_rnn.weight_ih_l0": (16, 4),
    "encoder.forward_rnn.weight_hh_l0": (16, 4),
    "encoder.forward_rnn.bias_ih_l0": (16,),
    "encoder.forward_rnn.bias_hh_l0": (16,),
    "attention.queries": (2, 2),
    "attention.keys.weight": (4, 4),
    "attention.keys.bias": (4,),
    "head.dense.weight": (8, 8),
    "head.dense.bias": (8,),
    "head.output.weight": (1, 8),
    "head.output.bias": (1,),
}
OLD_VOCAB = [
    "<pad>",
    "<unk>",
    "the",
    "film",
    "was",
    "great",
    "awful",
    "a",
    "plot",
    "dull",
    "and",
    "!",
]


def write_old_folder(path: Path) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    tensors = {
        name: torch.randn(shape, generator=generator) * 0.5
        for name, shape in OLD_MULTIHEAD_TENSORS.items()
    }
    path.mkdir()
    save_file(tensors, str(path / "model.safetensors"))
    (path / "vocab.json").write_text(json.dumps(OLD_VOCAB), encoding="utf-8")
    config = {
        "format": "attnclf-classifier",
        "attnclf_version": "0.1.0",
        "architecture": "multihead",
        "model": {
            "vocab_size": 12,
            "num_outputs": 1,
            "embedding_dim": 4,
            "hidden_size": 4,
            "num_heads": 2,
            "dropout": 0.2,
            "pad_id": 0,
        },
        "text": {"vocab_size": 12, "max_len": 200, "truncation": "tail", "min_count": 1},
        "labels": ["negative", "positive"],
        "training": {"epochs": 2, "batch_size": 128, "lr": 0.002, "seed": 0},
        "data": {"name": "reviews.csv", "labels": ["negative", "positive"]},
        "metrics": {"test_accuracy": 0.5, "test_loss": 0.69, "params": 405},
    }
    (path / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return tensors


def test_a_folder_in_the_0_1_0_format_loads_and_predicts_as_it_did(tmp_path):
    tensors = write_old_folder(tmp_path / "old")
    classifier = attnclf.load(tmp_path / "old", device="cpu")
    assert classifier.architecture == "multihead" and classifier.label_names[1] == "positive"
    for name, value in classifier.model.state_dict().items():
        torch.testing.assert_close(value, tensors[name])
    assert classifier.metadata["metrics"]["test_accuracy"] == 0.5
    prediction = classifier.predict(["The film was great and a dull plot!"])[0]
    assert prediction.tokens == ["the", "film", "was", "great", "and", "a", "dull", "plot", "!"]
    # what attnclf 0.1.0 predicted for this folder and text, before the move
    assert prediction.probabilities["positive"] == pytest.approx(FROZEN_POSITIVE, abs=1e-5)
    assert len(prediction.head_attention) == 2 and sum(prediction.attention) == pytest.approx(1)
    resaved = classifier.save(tmp_path / "again")
    assert attnclf.load(resaved, "cpu").predict(["great"])[0].probability == pytest.approx(
        classifier.predict(["great"])[0].probability
    )


FROZEN_POSITIVE = 0.4648158550262451  # computed with the code of commit 2492d7e


def test_folders_of_each_kind_are_told_apart(tmp_path):
    write_old_folder(tmp_path / "old")
    assert folder_kind(tmp_path / "old") == CLASSIFIER
    assert folder_kind(tmp_path) is None
    with pytest.raises(AttnclfError, match="it is a classifier folder"):
        read_config(tmp_path / "old", SEQ2SEQ)
    with pytest.raises(AttnclfError, match="not an attnclf model folder"):
        read_config(tmp_path, CLASSIFIER)
