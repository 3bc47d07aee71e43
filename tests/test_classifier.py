"""A saved model is a folder that loads without pickle and predicts exactly as before saving."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

import attnclf
from attnclf.config import TextConfig
from attnclf.errors import AttnclfError
from attnclf.inference.classifier import TextClassifier
from attnclf.models import all_families, build_model, get_family, model_config
from attnclf.text.tokens import Vocab

WORDS = ["good", "bad", "film", "the", "plot"]


def small_classifier(name: str = "multihead", labels=("neg", "pos")) -> TextClassifier:
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", *WORDS])
    outputs = 1 if len(labels) == 2 else len(labels)
    tiny = {**get_family(name).tiny, "vocab_size": len(vocab), "num_outputs": outputs}
    config = model_config(name, **tiny)
    return TextClassifier(
        name, build_model(name, config), vocab, TextConfig(max_len=6), list(labels), device="cpu"
    )


TEXTS = ["Good film!", "the plot was bad, bad, bad and the film was long and dull", "plot"]


@pytest.mark.parametrize("name", list(all_families()))
@pytest.mark.parametrize("labels", [("neg", "pos"), ("a", "b", "c")])
def test_save_load_gives_identical_predictions(tmp_path, name, labels):
    classifier = small_classifier(name, labels)
    before = classifier.predict(TEXTS)
    classifier.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json",
        "model.safetensors",
        "vocab.json",
    ]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["architecture"] == name and config["labels"] == list(labels)
    assert config["attnclf_version"] == attnclf.__version__
    after = attnclf.load(tmp_path / "model", device="cpu").predict(TEXTS)
    assert [p.to_dict() for p in after] == [p.to_dict() for p in before]


def test_prediction_carries_label_probability_and_attention_per_token():
    prediction = small_classifier().predict("Good film!")[0]
    assert prediction.label in ("neg", "pos")
    assert prediction.probability == max(prediction.probabilities.values()) >= 0.5
    assert prediction.tokens == ["good", "film", "!"]
    assert len(prediction.attention) == 3 and sum(prediction.attention) == pytest.approx(
        1, abs=1e-5
    )
    assert len(prediction.head_attention) == 2
    assert not prediction.truncated


@pytest.mark.parametrize("name", ["transformer", "multihead"])
def test_scoring_without_attention_gives_the_same_probabilities_and_builds_no_maps(name):
    classifier = small_classifier(name)
    full = classifier.score(TEXTS)
    asked_for_views: list[bool] = []
    forward = classifier.model.forward

    def spying_forward(*args):
        asked_for_views.append(not classifier.model.views_unread)
        return forward(*args)

    classifier.model.forward = spying_forward
    bare = classifier.score(TEXTS, attention=False)
    assert asked_for_views and not any(asked_for_views)  # the model may skip its maps
    assert not classifier.model.views_unread  # and is asked for them again afterwards
    for a, b in zip(full, bare, strict=True):
        torch.testing.assert_close(
            torch.from_numpy(a.probabilities), torch.from_numpy(b.probabilities)
        )
        assert a.tokens == b.tokens and b.attention is None and b.token_attention is None
    assert full[0].attention is not None


def test_long_text_is_marked_truncated_and_unknown_words_are_shown_as_written():
    prediction = small_classifier().predict(TEXTS[1])[0]
    assert prediction.truncated and len(prediction.tokens) == 6
    assert "dull" in prediction.tokens  # kept from the tail, shown as written though unknown


def test_batch_size_does_not_change_predictions():
    classifier = small_classifier()
    one = classifier.predict(TEXTS, batch_size=1)
    many = classifier.predict(TEXTS, batch_size=64)
    for a, b in zip(one, many, strict=True):
        assert a.label == b.label and a.probability == pytest.approx(b.probability, abs=1e-6)


def test_empty_text_is_an_error():
    with pytest.raises(AttnclfError, match="text 2 has no words"):
        small_classifier().predict(["good", "  ...  "])


def test_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(AttnclfError, match="not an attnclf model folder"):
        attnclf.load(tmp_path)
    with pytest.raises(AttnclfError, match="is not a folder"):
        attnclf.load(tmp_path / "nowhere")


def test_weights_of_the_wrong_shape_name_the_difference(tmp_path):
    small_classifier().save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config["model"]["embedding_dim"] = 16
    config_path.write_text(json.dumps(config))
    with pytest.raises(AttnclfError, match=r"wrong shape embedding\.weight"):
        attnclf.load(tmp_path / "m")


def test_missing_weights_are_named(tmp_path):
    classifier = small_classifier()
    classifier.save(tmp_path / "m")
    state = {
        k: v for k, v in classifier.model.state_dict().items() if not k.startswith("head.output")
    }
    save_file(state, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(AttnclfError, match="missing head.output.bias"):
        attnclf.load(tmp_path / "m")


class Boom:
    def __reduce__(self):
        return (open, ("/tmp/attnclf-pickle-ran", "w"))


def test_a_pickle_under_the_weights_name_is_refused_and_never_run(tmp_path):
    small_classifier().save(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(pickle.dumps({"w": Boom()}))
    marker = __import__("pathlib").Path("/tmp/attnclf-pickle-ran")
    marker.unlink(missing_ok=True)
    with pytest.raises(AttnclfError, match="not a safetensors file"):
        attnclf.load(tmp_path / "m")
    assert not marker.exists()


def test_unknown_architecture_and_bad_json(tmp_path):
    small_classifier().save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "architecture": "transformer-xxl"}))
    with pytest.raises(AttnclfError, match="does not know"):
        attnclf.load(tmp_path / "m")
    config_path.write_text("{not json")
    with pytest.raises(AttnclfError, match="not valid JSON"):
        attnclf.load(tmp_path / "m")
