"""A saved model is a folder that loads without pickle and predicts exactly as before saving."""

from __future__ import annotations

import json
import pickle

import numpy as np
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
    full = classifier.infer(TEXTS)
    asked_for_views: list[bool] = []
    forward = classifier.model.forward

    def spying_forward(*args):
        asked_for_views.append(not classifier.model.views_unread)
        return forward(*args)

    classifier.model.forward = spying_forward
    bare = classifier.infer(TEXTS, attention=False)
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


# --- attnclf.load: one door for every folder that labels texts -------------------------------


def test_attnclf_load_takes_an_ensemble_folder(tmp_path):
    from attnclf.inference.ensemble import Ensemble, Member

    ensemble = Ensemble(
        [
            Member("mh", 3.0, small_classifier("multihead")),
            Member("sa", 1.0, small_classifier("self-attention")),
        ]
    )
    ensemble.save(tmp_path / "both")
    loaded = attnclf.load(tmp_path / "both", device="cpu")
    assert isinstance(loaded, Ensemble) and [m.name for m in loaded.members] == ["mh", "sa"]
    assert [p.to_dict() for p in loaded.predict(TEXTS)] == [
        p.to_dict() for p in ensemble.predict(TEXTS)
    ]


def test_attnclf_load_runs_an_exported_folder_in_onnx_runtime(tmp_path):
    pytest.importorskip("onnxruntime")
    from attnclf.inference.folder import ONNX_FILE
    from attnclf.interop.onnx_export import export_onnx

    classifier = small_classifier("self-attention")
    folder = classifier.save(tmp_path / "sa")
    export_onnx(classifier, folder / ONNX_FILE)
    loaded = attnclf.load(folder, runtime="onnx")
    assert type(loaded.model).__name__ == "OnnxRuntimeModel"
    for a, b in zip(classifier.predict(TEXTS), loaded.predict(TEXTS), strict=True):
        assert a.label == b.label and a.tokens == b.tokens
        assert b.probability == pytest.approx(a.probability, abs=1e-5)


def test_attnclf_load_runs_a_graph_exported_into_a_folder_of_its_own(tmp_path):
    pytest.importorskip("onnxruntime")
    from attnclf.interop.onnx_export import export_folder

    classifier = small_classifier("self-attention")
    folder = classifier.save(tmp_path / "sa")
    export_folder(folder, tmp_path / "shipped" / "model.onnx")
    assert not (tmp_path / "shipped" / "model.safetensors").exists()
    loaded = attnclf.load(tmp_path / "shipped")
    assert type(loaded.model).__name__ == "OnnxRuntimeModel"
    for a, b in zip(classifier.predict(TEXTS), loaded.predict(TEXTS), strict=True):
        assert a.label == b.label
        assert b.probability == pytest.approx(a.probability, abs=1e-5)


def test_attnclf_load_names_the_loader_of_a_seq2seq_folder(tmp_path):
    from attnclf.seq2seq.model import Seq2Seq, Seq2SeqConfig
    from attnclf.seq2seq.pairs import TokenConfig, build_vocab
    from attnclf.seq2seq.translator import Translator

    source, target = build_vocab([list("abc ")], 50), build_vocab([list("0123-")], 50)
    config = Seq2SeqConfig(
        len(source), len(target), embedding_dim=8, hidden_size=8, decoder_size=8, attention_size=8
    )
    tokens = TokenConfig("char", lowercase=False, max_output_len=6)
    folder = Translator(Seq2Seq(config), source, target, tokens, device="cpu").save(
        tmp_path / "dates"
    )
    with pytest.raises(AttnclfError) as caught:
        attnclf.load(folder)
    message = str(caught.value)
    assert "\n" not in message and str(folder) in message
    assert "seq2seq model folder" in message and "attnclf.seq2seq.load" in message


def test_predict_proba_is_one_row_per_text_in_label_order():
    classifier = small_classifier("self-attention")
    matrix = classifier.predict_proba(TEXTS)
    assert matrix.shape == (len(TEXTS), len(classifier.label_names))
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-6)
    for row, prediction in zip(matrix, classifier.predict(TEXTS), strict=True):
        assert classifier.label_names[int(row.argmax())] == prediction.label
        for name, probability in prediction.probabilities.items():
            assert row[classifier.label_names.index(name)] == pytest.approx(probability)
    assert classifier.predict_proba(TEXTS[0]).shape == (1, len(classifier.label_names))


def test_predict_proba_refuses_a_text_with_no_words_in_one_line():
    classifier = small_classifier("self-attention")
    with pytest.raises(AttnclfError, match="text 2 has no words") as caught:
        classifier.predict_proba([TEXTS[0], "   "])
    assert "\n" not in str(caught.value)


def test_the_classifier_has_no_score_that_scikit_learn_would_read_as_accuracy():
    assert not hasattr(small_classifier("self-attention"), "score")
