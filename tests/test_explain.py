"""The attention views: weights per token from a real (tiny) classifier, shown in a terminal,
as a self-contained HTML page (rendered by Chromium when it is installed) and as a PNG."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import struct
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from torch import nn

from attnclf.config import TextConfig
from attnclf.errors import AttnclfError
from attnclf.explain.colours import RAMP, SIGNED_RAMP, colour, signed_colour
from attnclf.explain.explanation import NO_ATTENTION, Explanation, explain, map_names, score_legend
from attnclf.explain.gallery import sample_for_gallery
from attnclf.explain.html import comparison_page, explanations_page, to_html_fragment
from attnclf.explain.png import figure, render_png
from attnclf.explain.shell import write_html
from attnclf.explain.terminal import to_terminal, use_color
from attnclf.inference.classifier import Prediction, TextClassifier
from attnclf.models import build_model, model_config
from attnclf.models.outputs import Classifier, ClassifierOutput
from attnclf.text.tokens import Vocab

WORDS = ["good", "bad", "film", "the", "plot"]
TEXTS = ["Good film!", "the plot was bad, bad, bad and the film was long and dull", "plot"]
HOSTILE = '<script>alert(1)</script> good film & "the" <b>plot</b>'
DARKEST = RAMP[-1][1]  # the colour of each row's largest weight


def small_classifier(name: str = "multihead", max_len: int = 6) -> TextClassifier:
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", *WORDS])
    sizes = {
        "self-attention": dict(hidden_size=6, attention_size=4),
        "multihead": dict(hidden_size=8, num_heads=2),
        "word-attention": dict(hidden_size=6, attention_size=4, vote_size=5),
    }
    config = model_config(
        name, vocab_size=len(vocab), num_outputs=1, embedding_dim=8, **sizes[name]
    )
    return TextClassifier(
        name, build_model(name, config), vocab, TextConfig(max_len=max_len), ["neg", "pos"], "cpu"
    )


@pytest.fixture(scope="module")
def multihead() -> list[Explanation]:
    return explain(small_classifier("multihead"), TEXTS, true_labels=["pos", "neg", None])


@pytest.fixture(scope="module")
def single() -> list[Explanation]:
    return explain(small_classifier("self-attention"), TEXTS)


def made_up(
    tokens: list[str], text: str | None = None, truncated: bool = False, peak: int = -1
) -> Explanation:
    """An Explanation with chosen tokens and 60% of the attention on one of them, for what an
    untrained model cannot produce."""
    weights = np.full(len(tokens), 0.4 / max(len(tokens) - 1, 1))
    weights[peak] = 0.6
    return Explanation(
        text=" ".join(tokens) if text is None else text,
        tokens=tokens,
        weights=(weights / weights.sum()).tolist(),
        label="pos",
        probability=0.75,
        probabilities={"neg": 0.25, "pos": 0.75},
        label_names=["neg", "pos"],
        truncated=truncated,
        model_name="self-attention",
    )


# --- the explanation ------------------------------------------------------------------------


def test_weights_are_one_per_token_the_model_read_and_sum_to_one(multihead, single):
    classifier = small_classifier()
    for explanation, text in zip(multihead, TEXTS, strict=True):
        assert explanation.tokens == classifier.encoder.tokens(text)[0]
        assert len(explanation.weights) == len(explanation.tokens)
        assert sum(explanation.weights) == pytest.approx(1, abs=1e-9)
        assert all(w >= 0 for w in explanation.weights)
        assert explanation.probability == max(explanation.probabilities.values())
        assert explanation.model_name == "multihead" and explanation.label_names == ["neg", "pos"]
    assert [e.truncated for e in multihead] == [False, True, False]
    assert [e.head_weights for e in single] == [None, None, None]
    assert single[0].rows() == [("attention", single[0].weights)]


def test_multihead_has_a_row_per_head_whose_mean_is_the_attention(multihead):
    explanation = multihead[1]
    heads = np.array(explanation.head_weights)
    assert heads.shape == (2, len(explanation.tokens))
    assert heads.sum(axis=1) == pytest.approx([1, 1], abs=1e-9)
    assert heads.mean(axis=0) == pytest.approx(explanation.weights, abs=1e-5)
    assert [name for name, _ in explanation.rows()] == ["mean", "head 1", "head 2"]


def test_true_labels_give_right_and_wrong(multihead):
    assert [e.true_label for e in multihead] == ["pos", "neg", None]
    assert multihead[0].correct == (multihead[0].label == "pos")
    assert multihead[2].correct is None
    with pytest.raises(ValueError, match="3 texts but 1 true labels"):
        explain(small_classifier(), TEXTS, true_labels=["pos"])


@pytest.mark.parametrize(
    ("kept", "position"),
    [(["a", "e", "f", "g"], 1), (["a", "b", "c", "d"], 4), (["d", "e", "f", "g"], 0)],
    ids=["head+tail", "head", "tail"],
)
def test_the_cut_is_found_for_every_truncation(kept, position):
    explanation = made_up(kept, text="a b c d e f g", truncated=True)
    assert explanation.cut() == (position, 3)
    assert made_up(kept).cut() is None


# --- terminal -------------------------------------------------------------------------------


def test_plain_terminal_view_has_weights_in_brackets_and_no_escapes(multihead):
    explanation = multihead[1]
    out = to_terminal(explanation, color=False)
    assert "\x1b" not in out
    shown = re.findall(r"([\w!?']+)\((0\.\d{3})\)", out)
    assert len(shown) == 3 * len(explanation.tokens)  # mean row and two heads
    assert [word for word, _ in shown[: len(explanation.tokens)]] == explanation.tokens
    assert [float(w) for _, w in shown[: len(explanation.tokens)]] == pytest.approx(
        explanation.weights, abs=5e-4
    )
    header = out.splitlines()[0]
    assert f"predicted {explanation.label} (p={explanation.probability:.3f})" in header
    assert "labels: neg, pos" in header and "true neg" in header
    assert "[truncated at 6 tokens]" in out and "tokens cut" in out
    assert re.search(r"^mean ", out, re.M) and re.search(r"^head 2 ", out, re.M)


COLOURED = re.compile(r"\x1b\[48;2;(\d+);(\d+);(\d+)m\x1b\[38;2;[\d;]+m([^\x1b]+)\x1b\[0m")


def test_colour_terminal_view_colours_each_word_by_its_weight(multihead):
    explanation = multihead[0]
    out = to_terminal(explanation, color=True)
    coloured = COLOURED.findall(out)
    assert len(coloured) == 3 * len(explanation.tokens)
    mean_row = coloured[: len(explanation.tokens)]
    assert [word for *_, word in mean_row] == explanation.tokens
    # The more weight, the darker: every channel of the ramp falls as the weight grows.
    by_weight = sorted(zip(explanation.weights, mean_row, strict=True))
    brightness = [sum(map(int, rgb[:3])) for _, rgb in by_weight]
    assert brightness == sorted(brightness, reverse=True)
    assert "(0." not in out
    assert "relative to the largest weight in the same row" in out


def test_the_colour_scale_is_each_rows_largest_weight_but_even_attention_stays_pale():
    long = made_up([f"w{i}" for i in range(200)], peak=7)
    coloured = COLOURED.findall(to_terminal(long, color=True))
    assert tuple(map(int, coloured[7][:3])) == DARKEST  # 0.6 of the attention: the darkest
    assert tuple(map(int, coloured[0][:3])) != (255, 255, 255)  # 0.002 each: pale, not white
    even = made_up(["a", "b", "c", "d", "e", "f"])
    even.weights = [1 / 6] * 6
    coloured = COLOURED.findall(to_terminal(even, color=True))
    assert len({rgb[:3] for rgb in coloured}) == 1
    assert tuple(map(int, coloured[0][:3])) != DARKEST  # even attention is not all-important


def test_long_rows_wrap_at_the_width():
    explanation = made_up([f"word{i}" for i in range(60)])
    lines = to_terminal(explanation, color=False, width=60).splitlines()
    assert len(lines) > 5 and all(len(line) <= 60 for line in lines[1:-1])


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_for_a_terminal_that_wants_it(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(FakeTerminal())
    assert not use_color(io.StringIO())  # a pipe or a file
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset
    assert use_color(FakeTerminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(FakeTerminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not use_color(FakeTerminal())


# --- HTML -----------------------------------------------------------------------------------


def assert_self_contained(page: str) -> None:
    lowered = page.lower()
    for forbidden in ("<script", "http://", "https://", "<link", "@import", "url(", "<img"):
        assert forbidden not in lowered, forbidden


def test_every_piece_of_text_is_escaped():
    explanation = explain(small_classifier(), [HOSTILE])[0]
    explanation.model_name = "<b>model</b>"
    explanation.true_label = "<i>neg</i>"
    page = explanations_page([explanation, made_up(["<img src=x onerror=alert(1)>", "ok"])], "<t>")
    assert_self_contained(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&amp; &quot;the&quot; &lt;b&gt;plot&lt;/b&gt;" in page
    assert "&lt;b&gt;model&lt;/b&gt;" in page and "&lt;i&gt;neg&lt;/i&gt;" in page
    assert "<title>&lt;t&gt;</title>" in page


def test_page_colours_each_word_with_its_exact_weight_in_a_tooltip(multihead):
    page = explanations_page(multihead, "explain")
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    spans = re.findall(
        r'<span title="([0-9.]+)" style="background:#([0-9a-f]{6});[^"]*">(.*?)<', page
    )
    assert len(spans) == sum(3 * len(e.tokens) for e in multihead)
    first = multihead[0]
    row = spans[: len(first.tokens)]
    assert [word for *_, word in row] == first.tokens
    assert [float(w) for w, *_ in row] == pytest.approx(first.weights, abs=1e-6)
    by_weight = sorted(zip(first.weights, (int(rgb, 16) for _, rgb, _ in row), strict=True))
    brightness = [sum(rgb.to_bytes(3, "big")) for _, rgb in by_weight]
    assert brightness == sorted(brightness, reverse=True)
    peaked = explanations_page([made_up(["so", "so", "great", "and", "dull", "end"], peak=2)], "p")
    darkest = "{:02x}{:02x}{:02x}".format(*DARKEST)
    assert re.findall(f'background:#{darkest};[^"]*">(\\w+)<', peaked) == ["great"]
    for label in (">mean<", ">head 1<", ">head 2<", "row max"):
        assert label in page
    assert page.count('class="attnclf-explanation"') == 3
    assert "truncated at 6 tokens" in page and "tokens cut" in page
    mark = "&#10003; right" if first.correct else "&#10007; wrong"
    assert mark in page and f"(p = {first.probability:.3f})" in page


def test_a_notebook_shows_the_fragment_with_a_legend(single):
    fragment = to_html_fragment(single[0])
    assert fragment.startswith('<div class="attnclf-explanation"')
    shown = single[0]._repr_html_()
    assert shown.startswith(fragment) and "attnclf-legend" in shown


def test_comparison_page_has_a_column_per_model_and_a_row_per_text(multihead, single, tmp_path):
    rows = [[s, m] for s, m in zip(single, multihead, strict=True)]
    page = comparison_page(rows, ["self-attention", "multihead"], "compare")
    assert_self_contained(page)
    assert page.count('class="attnclf-explanation"') == 6
    assert page.count("<section>") == 3 and "repeat(2, minmax(0, 1fr))" in page
    assert "Text 3" in page and "true label <strong>pos</strong>" not in page  # single has none
    with pytest.raises(ValueError, match="row 1 has 1 explanations for 2 models"):
        comparison_page([[single[0]]], ["a", "b"], "compare")
    write_html(tmp_path / "out" / "attention.html", page)
    assert (tmp_path / "out" / "attention.html").read_text(encoding="utf-8") == page


# --- PNG ------------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def has_colour(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 10) -> int:
    """How many pixels of `image` (floats in [0, 1]) are within `tolerance` of `rgb`."""
    pixels = (image[..., :3] * 255).astype(int)
    return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= tolerance).sum())


def test_png_wraps_long_texts_and_grows_with_them(multihead, tmp_path):
    short, long = tmp_path / "short.png", tmp_path / "long.png"
    render_png([made_up(["good", "film"])], short)
    render_png([made_up([f"word{i}" for i in range(200)])], long)
    (w_short, h_short), (w_long, h_long) = png_size(short), png_size(long)
    assert w_short == w_long == 1320  # 12 inches at 110 dpi: long texts wrap, not widen
    assert 100 < h_short < h_long < 2000

    heads = tmp_path / "heads.png"
    render_png([*multihead, made_up([f"word{i}" for i in range(20)])], heads)
    width, height = png_size(heads)
    image = mpimg.imread(heads)
    assert image.shape[:2] == (height, width)
    assert has_colour(image, DARKEST) > 100  # each row's top word, and the colour bar
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


# --- a model without attention -------------------------------------------------------------


def without_attention(tokens: list[str], truncated: bool = False) -> Explanation:
    """What a model that pools without attention (max-pooling, say) gives: no weights."""
    prediction = Prediction(
        text=" ".join(tokens) + (" and more words" if truncated else ""),
        label="neg",
        probability=0.6,
        probabilities={"neg": 0.6, "pos": 0.4},
        tokens=tokens,
        attention=None,
        truncated=truncated,
    )
    return Explanation.from_prediction(prediction, ["neg", "pos"], "bilstm-max", true_label="neg")


NO_ATTENTION_TOKENS = ["<p>so</p>", "dull", "&", "long"]


def joined(text: str) -> str:
    """Wrapped lines back into one, to find a sentence the wrapping split."""
    return " ".join(text.split())


def test_a_model_without_attention_gives_no_weights_and_no_rows():
    explanation = without_attention(["dull", "film"])
    assert explanation.weights is None and explanation.head_weights is None
    assert not explanation.has_attention and explanation.rows() == []
    assert explanation.correct is True and explanation.model_name == "bilstm-max"
    assert made_up(["a", "b"]).has_attention


@pytest.mark.parametrize("color", [False, True], ids=["plain", "colour"])
def test_terminal_shows_the_words_plain_and_says_there_is_no_attention(color):
    explanation = without_attention(NO_ATTENTION_TOKENS)
    out = to_terminal(explanation, color=color, width=60)
    lines = out.splitlines()
    assert "\x1b" not in out and "(0." not in out  # no colour, no numbers
    assert lines[0] == "bilstm-max | predicted neg (p=0.600) | true neg (right) | labels: neg, pos"
    assert lines[1] == "<p>so</p> dull & long"  # the tokens, as read
    assert joined("\n".join(lines[2:])) == NO_ATTENTION
    assert "attnclf faithfulness" in out and "relative to the largest" not in out
    assert all(len(line) <= 60 for line in lines[1:])
    assert out == to_terminal(explanation, color=not color, width=60)


def test_terminal_marks_the_cut_for_a_model_without_attention():
    explanation = without_attention(["so", "dull"], truncated=True)
    out = to_terminal(explanation, color=False)
    assert "[truncated at 2 tokens]" in out and "[... 3 tokens cut ...]" in out


def test_html_fragment_shows_the_words_uncoloured_with_a_note():
    explanation = without_attention(NO_ATTENTION_TOKENS)
    fragment = to_html_fragment(explanation)
    assert fragment.startswith('<div class="attnclf-explanation"')
    assert "&lt;p&gt;so&lt;/p&gt; dull &amp; long" in fragment  # plain, escaped words
    assert "<p>" not in fragment and "<span title=" not in fragment  # no coloured words
    assert 'class="attnclf-no-attention"' in fragment
    assert "<code>attnclf faithfulness</code> for gradient-based explanations" in fragment
    assert "&#10003; right" in fragment and "original text" in fragment
    assert explanation._repr_html_() == fragment  # no colour legend for no colours


def test_page_of_models_without_attention_has_notes_and_no_legend():
    page = explanations_page(
        [without_attention(NO_ATTENTION_TOKENS), without_attention(["ok"])], "p"
    )
    assert_self_contained(page)
    assert page.count('class="attnclf-explanation"') == 2
    assert page.count('class="attnclf-no-attention"') == 2
    assert "attnclf-legend" not in page and "<span title=" not in page
    mixed = explanations_page([without_attention(["ok"]), made_up(["good", "film"])], "p")
    assert "attnclf-legend" in mixed and mixed.count('class="attnclf-no-attention"') == 1


def test_comparison_page_mixes_models_with_and_without_attention(single):
    rows = [[s, without_attention(s.tokens)] for s in single]
    page = comparison_page(rows, ["self-attention", "bilstm-max"], "compare")
    assert_self_contained(page)
    assert page.count('class="attnclf-explanation"') == 6
    assert page.count('class="attnclf-no-attention"') == 3  # the bilstm-max column
    spans = re.findall(r'<span title="[0-9.]+" style="background:#', page)
    assert len(spans) == sum(len(s.tokens) for s in single)  # only the attention column
    assert "attnclf-legend" in page and "repeat(2, minmax(0, 1fr))" in page
    plain = comparison_page([[without_attention(["ok"])]], ["bilstm-max"], "c")
    assert "attnclf-legend" not in plain and 'class="attnclf-no-attention"' in plain


def test_png_draws_the_words_uncoloured_with_the_note(tmp_path):
    alone, mixed = tmp_path / "alone.png", tmp_path / "mixed.png"
    render_png([without_attention([f"word{i}" for i in range(40)], truncated=True)], alone)
    render_png([without_attention(["dull"]), made_up(["good", "film"])], mixed)
    for path in (alone, mixed):
        assert path.stat().st_size > 1000
        width, height = png_size(path)
        assert width == 1320 and 50 < height < 2000
    assert has_colour(mpimg.imread(alone), DARKEST) == 0  # no coloured word, no colour bar
    assert has_colour(mpimg.imread(mixed), DARKEST) > 100  # the other model's words and bar
    assert not list(tmp_path.glob(".*.tmp"))


def with_scores(scores: list[float], labels=("neg", "pos")) -> Explanation:
    """A model without attention that gives signed token scores (as nbsvm does)."""
    tokens = [f"w{i}" for i in range(len(scores))]
    explanation = without_attention(tokens)
    explanation.label_names = list(labels)
    explanation.token_scores = scores
    return explanation


def test_token_scores_are_coloured_red_for_the_second_label_and_blue_for_the_first(tmp_path):
    explanation = with_scores([0.5, -1.0, 0.0])
    assert explanation.has_scores and not explanation.has_attention
    plain = to_terminal(explanation, color=False, width=80)
    assert "w0(+0.500) w1(-1.000) w2(+0.000)" in plain and NO_ATTENTION not in joined(plain)
    assert "(+: evidence for pos, -: evidence for neg)" in joined(plain)
    coloured = to_terminal(explanation, color=True, width=80)
    assert "red: evidence for pos, blue: evidence for neg" in joined(coloured)
    red, blue = signed_colour(0.5), SIGNED_RAMP[0][1]  # w1 has the largest |score|: darkest
    assert f"\x1b[48;2;{red[0]};{red[1]};{red[2]}m" in coloured
    assert f"\x1b[48;2;{blue[0]};{blue[1]};{blue[2]}m" in coloured
    assert signed_colour(0.0) == (255, 255, 255) and signed_colour(2.0) == SIGNED_RAMP[-1][1]
    fragment = to_html_fragment(explanation)
    assert 'class="attnclf-token-scores"' in fragment and "attnclf-no-attention" not in fragment
    assert 'title="-1.000000" style="background:#2166ac' in fragment  # exact score on hover
    page = explanations_page([explanation, without_attention(["ok"])], "p")
    assert_self_contained(page)
    assert "attnclf-legend" not in page  # the attention ramp's legend: no attention here
    path = tmp_path / "scores.png"
    render_png([explanation], path)
    assert has_colour(mpimg.imread(path), SIGNED_RAMP[0][1]) > 100  # w1's box
    three = with_scores([0.1], labels=("a", "b", "c"))
    assert "red: evidence for the predicted neg, blue: against it" in score_legend(three)


# --- signed attention (word-attention) ------------------------------------------------------


@pytest.fixture(scope="module")
def word_attention() -> list[Explanation]:
    return explain(small_classifier("word-attention"), TEXTS)


def with_signed_attention(scores: list[float]) -> Explanation:
    """Attention (60% on the last token) and signed attention chosen, as word-attention gives."""
    explanation = made_up([f"w{i}" for i in range(len(scores))])
    explanation.model_name = "word-attention"
    explanation.token_scores = scores
    return explanation


def test_word_attention_gives_signed_attention_that_adds_up_to_its_logit(word_attention, single):
    classifier = small_classifier("word-attention")
    bias = float(classifier.model.bias.detach())
    for explanation in word_attention:
        assert explanation.has_signed_attention and explanation.has_attention
        assert not explanation.has_scores  # the views draw both, not the scores alone
        assert len(explanation.token_scores) == len(explanation.tokens)
        assert explanation.rows() == [("attention", explanation.weights)]
        p = explanation.probabilities["pos"]
        logit = np.log(p / (1 - p))
        assert sum(explanation.token_scores) + bias == pytest.approx(logit, abs=1e-4)
    assert not any(e.has_signed_attention for e in single)
    assert not with_scores([0.5]).has_signed_attention  # nbsvm: scores without attention


def test_plain_terminal_shows_signed_attention_first_then_the_weights(word_attention):
    explanation = word_attention[1]
    out = to_terminal(explanation, color=False, width=200)
    assert "\x1b" not in out
    lines = out.splitlines()
    signed, weights = lines[2], lines[3]  # after the header and the truncation line
    assert signed.startswith("signed attention  ") and weights.startswith("attention         ")
    shown = re.findall(r"([\w!?']+)\(([+-]\d\.\d{3})\)", signed)
    assert [word for word, _ in shown] == explanation.tokens
    assert [float(v) for _, v in shown] == pytest.approx(explanation.token_scores, abs=5e-4)
    plain = re.findall(r"([\w!?']+)\((\d\.\d{3})\)", weights)
    assert [float(w) for _, w in plain] == pytest.approx(explanation.weights, abs=5e-4)
    legend = joined("\n".join(lines[4:]))
    assert legend.startswith("word(term): signed attention, each attention weight times its word")
    assert "(+: evidence for pos, -: evidence for neg)" in legend
    assert "word(weight): attention weight per token" in legend


def test_colour_terminal_shows_signed_attention_on_the_signed_ramp_first():
    scores = [0.5, -1.0, 0.0, 0.25, 0.1, -0.2]
    explanation = with_signed_attention(scores)
    out = to_terminal(explanation, color=True)
    coloured = COLOURED.findall(out)
    assert len(coloured) == 2 * 6 and [word for *_, word in coloured[:6]] == explanation.tokens
    signed = [tuple(map(int, rgb[:3])) for rgb in coloured[:6]]
    assert signed == [signed_colour(v) for v in scores]  # w1, the largest |term|: darkest blue
    assert tuple(map(int, coloured[-1][:3])) == DARKEST  # then the weights, 60% on the last
    assert re.search(r"^signed attention  .*\n(?:  .*\n)*attention {9}", out, re.M)
    legend = joined(out)
    assert "signed attention: each attention weight times its word's vote" in legend
    assert "(red: evidence for pos, blue: evidence for neg; darkest = the text's largest term)" in (
        legend
    )
    assert "relative to the largest weight in the same row" in legend


def test_self_attention_views_have_no_signed_row(single, tmp_path):
    for explanation in single:
        for color in (False, True):
            assert "signed attention" not in to_terminal(explanation, color=color)
    page = explanations_page(single, "p")
    assert "signed attention" not in page and "attnclf-signed-attention" not in page
    assert not re.findall(r'<span title="[+-]', page)


def test_html_shows_signed_attention_first_with_exact_terms_and_its_legend(word_attention):
    explanation = word_attention[0]
    fragment = to_html_fragment(explanation)
    names = re.findall(r'<div (?:class="attnclf-row-name" )?style="flex:[^"]*">([^<]*)<', fragment)
    assert names == ["signed attention", "attention"]
    titles = re.findall(r'<span title="([^"]+)"', fragment)
    n = len(explanation.tokens)
    assert len(titles) == 2 * n
    assert [float(t) for t in titles[:n]] == pytest.approx(explanation.token_scores, abs=1e-6)
    assert all(t[0] in "+-" for t in titles[:n])  # signed
    assert [float(t) for t in titles[n:]] == pytest.approx(explanation.weights, abs=1e-6)
    note = fragment.index('class="attnclf-signed-attention"')
    assert note > fragment.rindex("<span title=")  # under both rows
    assert "hover a word for its exact term" in fragment
    assert "red: evidence for pos, blue: evidence for neg" in fragment
    peaked = to_html_fragment(with_signed_attention([0.5, -1.0, 0.0]))
    assert 'title="-1.000000" style="background:#2166ac' in peaked  # the darkest blue
    page = explanations_page(word_attention, "p")
    assert_self_contained(page)
    assert "attnclf-legend" in page  # the attention ramp's legend, for the weights
    assert page.count('class="attnclf-signed-attention"') == len(word_attention)


def test_png_draws_signed_attention_above_the_weights(tmp_path):
    signed, plain = tmp_path / "signed.png", tmp_path / "plain.png"
    render_png([with_signed_attention([0.5, -1.0, 0.0])], signed)
    render_png([made_up(["w0", "w1", "w2"])], plain)
    pixels = (mpimg.imread(signed)[..., :3] * 255).astype(int)
    blue, orange = (
        np.argwhere(np.abs(pixels - np.array(rgb)).max(axis=-1) <= 10)
        for rgb in (SIGNED_RAMP[0][1], DARKEST)
    )
    assert len(blue) > 100 and len(orange) > 100  # w1's box in the signed row, w2's below
    assert blue[:, 0].min() < orange[:, 0].min()  # the signed row is drawn first
    assert has_colour(mpimg.imread(plain), SIGNED_RAMP[0][1]) == 0
    assert png_size(signed)[1] > png_size(plain)[1]  # a row and a legend more


# --- sampling the gallery -------------------------------------------------------------------


def test_gallery_takes_a_quarter_from_each_kind_of_example():
    rng = np.random.default_rng(0)
    groups = {
        "right, confident": (rng.uniform(0.95, 0.99, 10), True),
        "right, unsure": (rng.uniform(0.50, 0.60, 10), True),
        "wrong, confident": (rng.uniform(0.01, 0.05, 10), False),
        "wrong, unsure": (rng.uniform(0.40, 0.49, 10), False),
    }
    p_true = np.concatenate([p for p, _ in groups.values()])
    correct = np.concatenate([[flag] * 10 for _, flag in groups.values()])
    order = rng.permutation(40)  # so that position says nothing about the group
    p_true, correct = p_true[order], correct[order]
    group_of = order // 10  # the group each shuffled example came from

    picked = sample_for_gallery(p_true, correct, n=8, seed=3)
    assert len(set(picked)) == 8
    assert sorted(group_of[picked].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert group_of[picked].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]  # in that order
    assert sample_for_gallery(p_true, correct, n=8, seed=3) == picked
    assert sample_for_gallery(p_true, correct, n=8, seed=4) != picked


def test_a_short_group_is_filled_from_the_others():
    p_true = [0.9, 0.8, 0.7, 0.6, 0.95, 0.55, 0.2]
    correct = [True] * 6 + [False]
    picked = sample_for_gallery(p_true, correct, n=6, seed=0)
    assert len(picked) == len(set(picked)) == 6 and 6 in picked
    assert sorted(sample_for_gallery(p_true, correct, n=50, seed=0)) == list(range(7))


# --- rendered by a browser ------------------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        pytest.skip(
            "Chromium is not installed (apt-get install chromium); the page is not rendered"
        )
    return found


def run_chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,900",
        *arguments,
    ]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("Chromium did not render the page within 60 s")


@pytest.fixture(scope="module")
def page_file(multihead, tmp_path_factory) -> Path:
    hostile = explain(small_classifier("self-attention"), [HOSTILE], ["neg"])
    peaked = made_up("one word here draws most of the attention".split(), peak=4)
    path = tmp_path_factory.mktemp("page") / "explain.html"
    write_html(path, explanations_page([peaked, *multihead, *hostile], "attnclf explain"))
    return path


def test_chromium_shows_the_words_in_the_attention_colours(page_file, tmp_path):
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, f"--screenshot={shot}", page_file.as_uri())
    image = mpimg.imread(shot)
    assert image.shape[:2] == (900, 1200)
    pixels = (image[..., :3] * 255).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    orange = (r - b > 60) & (r > g) & (g > b)  # the ramp's hue; the page itself is grey
    assert orange.sum() > 500
    assert has_colour(image, DARKEST, tolerance=12) > 50  # the most attended word


def test_chromium_reads_the_words_as_text_and_runs_no_script(page_file, tmp_path):
    dom = run_chromium(tmp_path, "--dump-dom", page_file.as_uri()).stdout
    for word in ("good", "film", "plot", "dull", "mean", "head 2"):
        assert f">{word}<" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom.lower()


# --- the token-by-token matrix --------------------------------------------------------------


class KnownMatrix(Classifier):
    """Two maps of known rows over the real tokens: map 1 puts 0.75 on the token itself and
    0.25 on the first token (all on it for the first row), map 2 spreads evenly. The
    per-token weights are what the tutorial families give: the attention each token
    receives, averaged over the rows and the maps."""

    def __init__(self, vocab_size: int, names: bool = True):
        super().__init__()
        self.config = None
        self.embedding = nn.Embedding(vocab_size, 4, padding_idx=0)
        self.output = nn.Linear(4, 1)
        self.names = names

    def token_attention_names(self, count: int) -> list[str]:
        if not self.names:
            raise ValueError("no names")
        return [f"layer 1, head {h}" for h in range(1, count + 1)]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        batch, width = ids.shape
        maps = torch.zeros(batch, 2, width, width)
        for b, n in enumerate(lengths.tolist()):
            maps[b, 0, :n, :n] = 0.75 * torch.eye(n)
            maps[b, 0, :n, 0] += 0.25
            maps[b, 1, :n, :n] = 1.0 / n
        columns = maps.sum(dim=2)  # (B, 2, T)
        received = (columns / columns.sum(-1, keepdim=True)).mean(1)  # (B, T)
        pooled = self.embedding(ids).mean(1)  # (B, E)
        return ClassifierOutput(self.output(pooled), attention=received, token_attention=maps)


def known_maps(n: int) -> np.ndarray:
    maps = np.zeros((2, n, n))
    maps[0] = 0.75 * np.eye(n)
    maps[0, :, 0] += 0.25
    maps[1] = 1.0 / n
    return maps


def matrix_classifier(names: bool = True) -> TextClassifier:
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", *WORDS])
    model = KnownMatrix(len(vocab), names)
    return TextClassifier("known", model, vocab, TextConfig(max_len=8), ["neg", "pos"], "cpu")


@pytest.fixture(scope="module")
def with_matrix() -> list[Explanation]:
    return explain(matrix_classifier(), ["good film", "the plot was bad"])


def levels_of(image_tag: str) -> np.ndarray:
    encoded = re.search(r'data-levels="([A-Za-z0-9+/=]*)"', image_tag)
    assert encoded is not None
    return np.frombuffer(base64.b64decode(encoded.group(1)), dtype=np.uint8)


def test_the_explanation_carries_the_matrix_and_the_models_names(with_matrix):
    for explanation in with_matrix:
        n = len(explanation.tokens)
        assert explanation.has_matrix and explanation.token_attention.shape == (2, n, n)
        assert explanation.token_attention == pytest.approx(known_maps(n), abs=1e-6)
        assert explanation.token_attention_names == ["layer 1, head 1", "layer 1, head 2"]
        received = known_maps(n).sum(1)
        received = (received / received.sum(-1, keepdims=True)).mean(0)
        assert explanation.weights == pytest.approx(received.tolist(), abs=1e-6)
    assert not any(e.has_matrix for e in explain(small_classifier(), TEXTS[:1]))


def test_maps_a_model_does_not_name_are_heads():
    explanation = explain(matrix_classifier(names=False), ["good film"])[0]
    assert explanation.token_attention_names == ["head 1", "head 2"]
    assert map_names(nn.Linear(2, 2), 3) == ["head 1", "head 2", "head 3"]


def test_explain_says_which_text_has_no_words():
    with pytest.raises(AttnclfError, match=r"text 2 has no words to explain: '\.\.\.'"):
        explain(matrix_classifier(), ["good film", "..."])


def test_the_terminal_says_there_is_a_matrix_and_how_to_see_it(with_matrix, multihead):
    for color in (False, True):
        lines = to_terminal(with_matrix[0], color=color).splitlines()
        notes = [line for line in lines if "token-by-token" in line]
        assert notes == [
            "token-by-token attention matrix: 2 maps; see it with --html FILE or --png FILE"
        ]
    assert "token-by-token" not in to_terminal(multihead[0], color=False)


def test_the_page_draws_each_map_with_its_name_and_values(with_matrix):
    page = explanations_page(with_matrix, "explain")
    assert page.count('class="attnclf-matrix"') == 2
    images = re.findall(r'<img class="attnclf-map"[^>]*>', page)
    assert len(images) == 4  # two maps for each of two texts
    for explanation, tags in zip(with_matrix, (images[:2], images[2:]), strict=True):
        n = len(explanation.tokens)
        names, maps = explanation.token_attention_names, known_maps(n)
        for tag, name, expected in zip(tags, names, maps, strict=True):
            assert f'data-name="{name}"' in tag and f'alt="{name}"' in tag
            scale = np.maximum(expected.max(-1, keepdims=True), min(1, 3 / n))
            assert levels_of(tag) == pytest.approx((expected / scale * 255).ravel(), abs=0.51)
            png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
            pixels = mpimg.imread(io.BytesIO(base64.b64decode(png.group(1))), format="png")
            assert pixels.shape[:2] == (n, n)  # one pixel a cell, scaled up by the page
            shown = np.rint(pixels[..., :3] * 255).reshape(-1, 3)
            assert shown.tolist() == [list(colour(level / 255)) for level in levels_of(tag)]
        assert f"{n} tokens" in page
    for name in ("layer 1, head 1", "layer 1, head 2"):
        assert f">{name}</label>" in page
    assert "how much attention each token receives, averaged over the query rows" in page
    assert "<img" not in explanations_page([made_up(["good", "film"])], "no matrix")


def matrix_explanation(tokens: list[str]) -> Explanation:
    explanation = made_up(tokens)
    explanation.token_attention = known_maps(len(tokens)).astype(np.float32)
    explanation.token_attention_names = ["<i>head</i> 1", "head 2"]
    return explanation


def test_the_matrix_escapes_tokens_and_names():
    page = explanations_page([matrix_explanation(["<script>alert(1)</script>", "ok", '"q"'])], "t")
    assert "<script>alert" not in page and "<i>head" not in page
    assert page.count("<script") == 1  # the page's own row-view script
    assert ">&lt;script&gt;ale\u2026<" in page  # an axis label, clipped to 12 characters
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the word itself
    assert 'data-name="&lt;i&gt;head&lt;/i&gt; 1"' in page
    assert ">&quot;q&quot;<" in page


def test_the_row_view_script_is_the_one_the_pages_policy_allows(with_matrix):
    page = explanations_page(with_matrix, "explain")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert policy == (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'"
    )
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", page)
    assert "textContent" in scripts[0] and "innerHTML" not in scripts[0]


def test_the_png_has_a_heatmap_per_map_under_the_words(with_matrix, tmp_path):
    fig = figure(with_matrix)
    heatmaps = [ax for ax in fig.axes if ax.images and ax.get_title(loc="left")]
    names = [ax.get_title(loc="left") for ax in heatmaps]
    assert names == ["layer 1, head 1", "layer 1, head 2"] * 2
    first = heatmaps[0]
    assert [t.get_text() for t in first.get_xticklabels()] == with_matrix[0].tokens
    assert first.images[0].get_array().shape == (2, 2)
    bars = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]
    assert len(bars) == 3  # one beside each text's maps, one for the words
    with_maps, without = tmp_path / "maps.png", tmp_path / "words.png"
    render_png(with_matrix, with_maps)
    plain = [made_up(e.tokens) for e in with_matrix]
    render_png(plain, without)
    (w_maps, h_maps), (w_words, h_words) = png_size(with_maps), png_size(without)
    assert w_maps == w_words == 1320 and h_maps > h_words + 600


def test_a_long_matrix_is_ticked_not_labelled(tmp_path):
    tokens = [f"w{i}" for i in range(200)]
    fig = figure([matrix_explanation(tokens)])
    heatmap = next(ax for ax in fig.axes if ax.images and ax.get_title(loc="left"))
    assert [t.get_text() for t in heatmap.get_yticklabels()][:4] == ["1", "20", "40", "60"]
    render_png([matrix_explanation(tokens)], tmp_path / "long.png")
    assert png_size(tmp_path / "long.png")[1] < 2000
