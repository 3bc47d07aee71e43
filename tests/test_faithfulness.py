"""Faithfulness metrics on a lookup model whose answer is known: its logit is the sum of a fixed
weight per token, so deleting the one decisive word is what changes its mind."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from attnclf.config import TextConfig
from attnclf.errors import AttnclfError
from attnclf.explain.attributions import (
    METHODS,
    attention,
    encode_texts,
    gradient_x_input,
    integrated_gradients,
    random,
    signed_attention,
)
from attnclf.explain.faithfulness import (
    FAITHFULNESS_EXPLAINED,
    erase,
    erasure,
    faithfulness_report,
    faithfulness_table,
    rank_correlation,
    spearman,
    tokens_for_fraction,
)
from attnclf.inference.classifier import TextClassifier
from attnclf.models.families.multihead import MultiHeadClassifier, MultiHeadConfig
from attnclf.models.families.self_attention import SelfAttentionClassifier, SelfAttentionConfig
from attnclf.models.families.word_attention import WordAttentionClassifier, WordAttentionConfig
from attnclf.models.layers.attention import lengths_to_mask
from attnclf.models.outputs import ClassifierOutput
from attnclf.text.batches import collate
from attnclf.text.tokens import PAD, UNK, Vocab

WORDS = ["great", "boring", "the", "film", "was", "a", "plot", "and"]
WEIGHTS = {"great": 6.0, "boring": -1.0}  # every other word weighs 0
DECISIVE = 6.0
TEXTS = [
    "the film was great",
    "a great plot and the film",
    "the plot was great and the film was a film",
    "great",
]


@dataclass
class LookupConfig:
    num_outputs: int = 1


class LookupModel(nn.Module):
    """logit z = sum of the tokens' weights (a 1-wide embedding); all attention on 'film'
    (uniform when the text has none). Two outputs give softmax([-z/2, z/2]) = sigmoid(z)."""

    def __init__(
        self, vocab: Vocab, num_outputs: int = 1, attend_to: str = "film", signed: bool = False
    ):
        super().__init__()
        self.config = LookupConfig(num_outputs)
        self.signed = signed  # give each token's term of the logit as its signed attention
        self.embedding = nn.Embedding(len(vocab), 1, padding_idx=0)
        with torch.no_grad():
            self.embedding.weight.zero_()
            for word, weight in WEIGHTS.items():
                self.embedding.weight[vocab.index[word]] = weight
        self.attend_id = vocab.index[attend_to]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        terms = self.embedding(ids)[..., 0] * mask  # (B, T) z's terms, towards pos
        z = terms.sum(1)  # (B,)
        logits = z[:, None] if self.config.num_outputs == 1 else torch.stack([-z / 2, z / 2], 1)
        hits = ((ids == self.attend_id) & mask).float()  # (B, T)
        chosen = torch.where(hits.sum(1, keepdim=True) > 0, hits, mask.float())
        weights = chosen / chosen.sum(1, keepdim=True)
        if not self.signed:
            return ClassifierOutput(logits, weights)
        if self.config.num_outputs == 2:  # the predicted class's: z/2 for pos, -z/2 for neg
            terms = torch.where(z[:, None] > 0, terms / 2, -terms / 2)
        return ClassifierOutput(logits, weights, token_scores=terms)


def lookup_classifier(num_outputs: int = 1, signed: bool = False) -> TextClassifier:
    vocab = Vocab([PAD, UNK, *WORDS])
    model = LookupModel(vocab, num_outputs, signed=signed)
    return TextClassifier("lookup", model, vocab, TextConfig(), ["neg", "pos"], device="cpu")


def lstm_classifier(family: str = "self-attention", dropout: float = 0.0) -> TextClassifier:
    torch.manual_seed(0)
    vocab = Vocab([PAD, UNK, *WORDS])
    if family == "self-attention":
        model: nn.Module = SelfAttentionClassifier(
            SelfAttentionConfig(len(vocab), 1, 8, 6, 5, dropout)
        )
    else:
        model = MultiHeadClassifier(MultiHeadConfig(len(vocab), 3, 8, 8, 2, dropout))
    labels = ["neg", "pos"] if family == "self-attention" else ["a", "b", "c"]
    return TextClassifier(family, model, vocab, TextConfig(), labels, device="cpu")


def position(text: str, word: str) -> int:
    return text.split().index(word)


P_DECISIVE = 1 / (1 + math.exp(-DECISIVE))  # p(pos) of a text whose only weight is "great"


# --- k and deletion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "length, fraction, expected",
    [
        (200, 0.01, 2),
        (10, 0.01, 1),
        (10, 0.05, 1),
        (10, 0.25, 3),
        (3, 0.5, 2),
        (1, 0.5, 1),
        (4, 1.0, 4),
        (7, 0.2, 1),
        (8, 0.2, 2),
    ],
)
def test_k_is_rounded_with_at_least_one_token(length: int, fraction: float, expected: int):
    assert tokens_for_fraction(length, fraction) == expected


def test_erase_deletes_the_top_tokens_and_keeps_them_in_text_order():
    ids = np.array([5, 6, 7, 8], dtype=np.int32)
    without, only = erase(ids, np.array([0.1, 0.9, 0.5, 0.2]), 0.5)
    assert without.tolist() == [5, 8]
    assert only.tolist() == [6, 7]
    without, only = erase(ids, np.array([0.3, 0.3, 0.3, 0.3]), 0.25)  # ties: earlier first
    assert without.tolist() == [6, 7, 8] and only.tolist() == [5]


def test_a_text_left_empty_becomes_one_padding_token():
    without, only = erase(np.array([5], dtype=np.int32), np.array([1.0]), 0.01)
    assert without.tolist() == [0] and only.tolist() == [5]
    classifier = lookup_classifier()
    result = erasure(classifier, ["great"], [np.array([1.0], np.float32)], [0.01, 0.5])
    # an empty text reads as padding only: z = 0, p = 0.5
    assert result.comprehensiveness == pytest.approx(np.full((1, 2), P_DECISIVE - 0.5))
    assert result.sufficiency == pytest.approx(np.zeros((1, 2)), abs=1e-7)


# --- comprehensiveness and sufficiency on the lookup model ---------------------------------


@pytest.mark.parametrize("num_outputs", [1, 2])
def test_ranking_the_decisive_word_first_is_comprehensive_and_sufficient(num_outputs: int):
    classifier = lookup_classifier(num_outputs)
    texts = TEXTS[:3]
    decisive_first = [np.eye(len(t.split()), dtype=np.float32)[position(t, "great")] for t in texts]
    film_first = attention(classifier, texts)
    assert [int(s.argmax()) for s in film_first] == [position(t, "film") for t in texts]

    good = erasure(classifier, texts, decisive_first, [0.01, 0.1])
    bad = erasure(classifier, texts, film_first, [0.01, 0.1])
    assert good.predicted.tolist() == [1, 1, 1]
    assert good.full == pytest.approx(np.full(3, P_DECISIVE), abs=1e-6)
    # one token: deleting "great" leaves z = 0, deleting "film" changes nothing
    assert good.comprehensiveness == pytest.approx(np.full((3, 2), P_DECISIVE - 0.5), abs=1e-6)
    assert bad.comprehensiveness == pytest.approx(np.zeros((3, 2)), abs=1e-6)
    assert good.sufficiency == pytest.approx(np.zeros((3, 2)), abs=1e-6)
    assert bad.sufficiency == pytest.approx(np.full((3, 2), P_DECISIVE - 0.5), abs=1e-6)


@pytest.mark.parametrize("num_outputs", [1, 2])
def test_gradient_methods_rank_the_decisive_word_first_and_counter_evidence_last(
    num_outputs: int,
):
    classifier = lookup_classifier(num_outputs)
    texts = [*TEXTS[:3], "the film was boring and great"]
    for scores in (
        gradient_x_input(classifier, texts),
        integrated_gradients(classifier, texts, steps=16),
    ):
        assert [int(s.argmax()) for s in scores] == [position(t, "great") for t in texts]
        assert int(scores[-1].argmin()) == position(texts[-1], "boring")  # signed, not |.|
        assert all(
            s[[i for i, w in enumerate(t.split()) if w not in WEIGHTS]].max() == 0
            for s, t in zip(scores, texts, strict=True)
        )


@pytest.mark.parametrize("num_outputs", [1, 2])
def test_signed_attention_ranks_the_evidence_for_the_predicted_class_first(num_outputs: int):
    classifier = lookup_classifier(num_outputs, signed=True)
    texts = ["the film was boring and great", "boring plot and film"]
    scores = signed_attention(classifier, texts)
    # pos predicted: "great" first, "boring" last; neg predicted: "boring" first
    assert int(scores[0].argmax()) == position(texts[0], "great")
    assert int(scores[0].argmin()) == position(texts[0], "boring")
    assert int(scores[1].argmax()) == position(texts[1], "boring") and scores[1].max() > 0
    scale = 1.0 if num_outputs == 1 else 0.5
    assert float(scores[0].sum()) == pytest.approx(scale * (DECISIVE - 1.0))
    assert float(scores[1].sum()) == pytest.approx(scale * 1.0)  # towards neg: -(-1)


def test_signed_attention_of_word_attention_adds_up_to_its_logit():
    torch.manual_seed(0)
    vocab = Vocab([PAD, UNK, *WORDS])
    model = WordAttentionClassifier(WordAttentionConfig(len(vocab), 1, 8, 6, 5, 7, 0.0))
    classifier = TextClassifier("word-attention", model, vocab, TextConfig(), ["neg", "pos"])
    assert classifier.has_signed_attention and not lstm_classifier().has_signed_attention
    scores = signed_attention(classifier, TEXTS)
    batch = collate(encode_texts(classifier, TEXTS), np.arange(len(TEXTS)))
    with torch.no_grad():
        logits = model.eval()(batch.ids, batch.lengths).logits[:, 0] - model.bias  # (N,)
    assert [float(s.sum()) for s in scores] == pytest.approx(logits.abs().tolist(), abs=1e-5)
    report = faithfulness_report(classifier, TEXTS, ks=[0.5], ig_steps=4)
    assert list(report["methods"]) == list(METHODS) and "skipped" not in report
    assert "signed_attention" in report["rank_correlation_with_attention"]
    assert "| signed_attention " in faithfulness_table(report)


def test_signed_attention_of_a_model_without_it_is_a_one_line_error():
    with pytest.raises(AttnclfError, match="has no signed attention"):
        signed_attention(lstm_classifier(), TEXTS)


def test_integrated_gradients_add_up_to_the_change_from_the_baseline():
    classifier = lookup_classifier()
    texts = ["the film was boring and great", "boring plot"]
    z = np.array([DECISIVE - 1.0, -1.0])
    scores = integrated_gradients(classifier, texts, steps=32)
    # the target is the predicted class: pos for the first text, neg for the second
    expected = np.log(1 / (1 + np.exp(-np.abs(z)))) - np.log(0.5)
    assert [float(s.sum()) for s in scores] == pytest.approx(expected, abs=1e-4)


def test_random_scores_are_seeded():
    classifier = lookup_classifier()
    first, again = random(classifier, TEXTS, seed=3), random(classifier, TEXTS, seed=3)
    other = random(classifier, TEXTS, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    one = faithfulness_report(classifier, TEXTS, methods=["random"], seed=3)
    two = faithfulness_report(classifier, TEXTS, methods=["random"], seed=3)
    assert one["methods"] == two["methods"]


# --- rank agreement ------------------------------------------------------------------------


def test_spearman_of_identical_rankings_is_one():
    a = np.array([0.1, 0.7, 0.3, 0.9])
    assert spearman(a, a * 10 + 1) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.ones(4)) is None and spearman(a[:1], a[:1]) is None
    result = rank_correlation([a, a, np.ones(3)], [a, a**2, np.arange(3.0)])
    assert result["spearman_mean"] == pytest.approx(1.0)
    assert result["kendall_mean"] == pytest.approx(1.0)
    assert result["spearman_std"] == pytest.approx(0.0)
    assert result["texts"] == 2  # the constant one is left out


# --- padding and eval mode on real models --------------------------------------------------


@pytest.mark.parametrize("family", ["self-attention", "multihead"])
def test_padding_gets_no_attribution(family: str):
    classifier = lstm_classifier(family)
    short, long = "great film", "the plot was boring and the film was a great film and a plot"
    for method in (attention, gradient_x_input, integrated_gradients):
        alone = method(classifier, [short])[0]
        batched = method(classifier, [short, long])  # short is padded to the long one's width
        assert [len(s) for s in batched] == [2, len(long.split())]
        assert batched[0] == pytest.approx(alone, abs=1e-5)


def test_attribution_runs_in_eval_mode_and_restores_the_mode():
    classifier = lstm_classifier(dropout=0.5)
    classifier.model.train()
    first = gradient_x_input(classifier, TEXTS)
    second = gradient_x_input(classifier, TEXTS)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert classifier.model.training
    with torch.inference_mode():  # gradients are switched back on inside
        assert len(integrated_gradients(classifier, TEXTS, steps=4)) == len(TEXTS)
    assert torch.backends.cudnn.enabled


# --- the report ----------------------------------------------------------------------------


def test_report_has_the_documented_keys_and_renders():
    classifier = lookup_classifier(signed=True)
    report = faithfulness_report(classifier, TEXTS, ig_steps=8)
    json.dumps(report, allow_nan=False)
    assert report["n"] == len(TEXTS) and report["ks"] == [0.01, 0.05, 0.1, 0.2, 0.5]
    assert list(report["methods"]) == list(METHODS) == list(report["seconds"])
    for result in report["methods"].values():
        assert list(result["comprehensiveness"]) == ["0.01", "0.05", "0.1", "0.2", "0.5"]
        assert list(result["sufficiency"]) == list(result["comprehensiveness"])
        assert {"aopc_comprehensiveness", "aopc_sufficiency"} <= set(result)
        assert result["aopc_comprehensiveness"] == pytest.approx(
            np.mean(list(result["comprehensiveness"].values()))
        )
    assert set(report["rank_correlation_with_attention"]) == set(METHODS) - {"attention"}
    gradient = report["methods"]["gradient_x_input"]
    assert (
        gradient["aopc_comprehensiveness"]
        > report["methods"]["attention"]["aopc_comprehensiveness"]
    )
    ig = report["methods"]["integrated_gradients"]
    assert ig["completeness_gap_mean"] < 1e-3 < ig["log_probability_change_mean"]
    table = faithfulness_table(report)
    assert "integrated_gradients" in table and "k=50%" in table and "AOPC compr." in table
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == (2 + len(METHODS)) + (2 + 2 * len(METHODS))
    assert "DeYoung" in FAITHFULNESS_EXPLAINED and "Wiegreffe" in FAITHFULNESS_EXPLAINED


def test_report_on_a_three_class_lstm_model_is_finite():
    classifier = lstm_classifier("multihead")
    report = faithfulness_report(classifier, TEXTS, ks=[0.2, 0.5], ig_steps=4)
    values = [v for r in report["methods"].values() for v in r["comprehensiveness"].values()]
    assert len(values) == 2 * (len(METHODS) - 1) and all(math.isfinite(v) for v in values)
    assert report["skipped"] == {
        "signed_attention": "the model's attention pools no per-word votes, so its weights "
        "have no sign"
    }
    assert (
        "signed_attention" in faithfulness_report(lookup_classifier(), TEXTS, ks=[0.5])["skipped"]
    )


def test_mistakes_are_explained():
    classifier = lookup_classifier()
    with pytest.raises(AttnclfError, match="has no words"):
        encode_texts(classifier, ["great", "..."])
    with pytest.raises(AttnclfError, match="unknown explanation method"):
        faithfulness_report(classifier, TEXTS, methods=["lime"])
    with pytest.raises(AttnclfError, match="fractions"):
        faithfulness_report(classifier, TEXTS, ks=[5])
    with pytest.raises(AttnclfError, match="one per token"):
        erasure(classifier, ["great film"], [np.ones(3, np.float32)])
