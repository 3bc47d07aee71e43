"""The Translator's model folder, its translations, the alignment views and the metrics."""

from __future__ import annotations

import json
import re

import pytest
import torch

from attnclf.errors import AttnclfError
from attnclf.seq2seq.alignment import render_html, render_png
from attnclf.seq2seq.evaluate import accuracy_by_length, token_matches, translation_metrics
from attnclf.seq2seq.model import Seq2Seq, Seq2SeqConfig
from attnclf.seq2seq.pairs import SPECIALS, TokenConfig, build_vocab
from attnclf.seq2seq.translator import Translation, Translator, load

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_translator(attention: str = "additive") -> Translator:
    torch.manual_seed(0)
    source_vocab = build_vocab([list("abcdefgh <>&\"'$")], 50)
    target_vocab = build_vocab([list("0123456789-")], 50)
    config = Seq2SeqConfig(
        len(source_vocab),
        len(target_vocab),
        embedding_dim=8,
        hidden_size=8,
        decoder_size=12,
        attention_size=8,
        attention=attention,  # type: ignore[arg-type]
    )
    tokens = TokenConfig("char", lowercase=False, max_output_len=12)
    return Translator(Seq2Seq(config), source_vocab, target_vocab, tokens, device="cpu")


TEXTS = ["abc", "a <b> & 'c'", "h", "gfedcba $x$"]


@pytest.mark.parametrize("attention", ["additive", "multiplicative", "none"])
def test_save_then_load_gives_identical_translations(tmp_path, attention):
    translator = tiny_translator(attention)
    before = translator.translate(TEXTS) + translator.translate(TEXTS, beam=3)
    folder = translator.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
        "vocab.json",
    ]
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "attnclf-seq2seq" and config["model"]["attention"] == attention
    assert config["tokens"] == {"kind": "char", "lowercase": False, "max_output_len": 12}
    assert json.loads((folder / "vocab.json").read_text())["target"][:4] == SPECIALS
    loaded = load(folder, device="cpu")
    after = loaded.translate(TEXTS) + loaded.translate(TEXTS, beam=3)
    assert [t.to_dict() for t in after] == [t.to_dict() for t in before]


def test_translations_carry_tokens_and_one_alignment_row_per_output_token():
    for translation in tiny_translator().translate(TEXTS):
        assert translation.source_tokens == list(translation.source)
        assert translation.output == "".join(translation.output_tokens)
        assert len(translation.output_tokens) <= 12
        rows = translation.alignment
        assert len(rows) == len(translation.rows)
        assert len(rows) == len(translation.output_tokens) + translation.ended
        for row in rows:
            assert len(row) == len(translation.source_tokens)
            assert sum(row) == pytest.approx(1.0, abs=1e-5)
    assert tiny_translator("none").translate("abc")[0].alignment is None


def test_nothing_to_translate_and_a_bad_beam_are_user_errors():
    translator = tiny_translator()
    with pytest.raises(AttnclfError, match="text 2 has nothing to translate"):
        translator.translate(["abc", "   "])
    with pytest.raises(AttnclfError, match="--beam 0"):
        translator.translate("abc", beam=0)


def test_a_missing_or_wrong_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(AttnclfError, match="is not a folder"):
        load(tmp_path / "nowhere")
    with pytest.raises(AttnclfError, match="no config.json"):
        load(tmp_path)
    folder = tiny_translator().save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "format": "attnclf-classifier"}))
    with pytest.raises(AttnclfError, match="not an attnclf seq2seq config"):
        load(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AttnclfError, match="not a safetensors file"):
        load(folder)
    (folder / "vocab.json").unlink()
    with pytest.raises(AttnclfError, match="no vocab.json"):
        load(folder)


def test_loading_runs_no_code_and_checks_the_weights_fit(tmp_path):
    folder = tiny_translator().save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["model"]["hidden_size"] = 9
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(AttnclfError, match="does not fit its config.json"):
        load(folder)


# --- alignment views ------------------------------------------------------------------------


def test_png_and_html_views(tmp_path):
    translations = tiny_translator().translate(["a <b> & 'c'", "gfedcba $x$"])
    render_png(translations, tmp_path / "align.png")
    assert (tmp_path / "align.png").read_bytes()[:8] == PNG_MAGIC
    page = render_html(translations, "title <script>alert(1)</script>")
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "a &lt;b&gt; &amp; &#x27;c&#x27;" in page
    assert page.count("<table>") == 2
    rows = len(translations[0].rows) + len(translations[1].rows)
    assert page.count('<th class="row">') == rows
    assert "\u2423" in page  # spaces in character tokens are drawn as a visible space
    assert not re.search(r"(src|href)=", page)  # nothing fetched


def test_a_model_without_attention_has_no_alignment_to_draw(tmp_path):
    translations = tiny_translator("none").translate("abc")
    with pytest.raises(AttnclfError, match="no attention"):
        render_png(translations, tmp_path / "x.png")
    with pytest.raises(AttnclfError, match="no attention"):
        render_html(translations, "x")


def test_html_from_a_hand_made_alignment():
    t = Translation("ab", "x", ["a", "b"], ["x"], [[0.25, 0.75], [1.0, 0.0]], True, -0.1)
    page = render_html([t], "t")
    assert 'title="x \u2190 b: 0.7500"' in page and ">75</td>" in page
    assert "&lt;/s&gt;" in page  # the </s> row


# --- metrics --------------------------------------------------------------------------------


def test_exact_match_token_accuracy_and_bleu():
    references = [list("2011-03-03"), list("1999-12-31")]
    perfect = translation_metrics(references, references, joiner="")
    assert perfect["exact_match"] == perfect["token_accuracy"] == 1.0
    assert perfect["bleu"] == pytest.approx(100.0)
    assert perfect["bleu_signature"].startswith("nrefs:1")
    off = translation_metrics([list("2011-03-04"), list("1999-12-3")], references, joiner="")
    assert off["exact_match"] == 0.0 and off["token_accuracy"] == pytest.approx(18 / 20)
    assert off["bleu"] < 100
    assert token_matches(["a", "b", "c"], ["a", "c"]) == (1, 3)
    sentence = "je ne sais pas ce qu'il veut .".split()
    words = translation_metrics([sentence], [sentence], joiner=" ")
    assert words["bleu"] == pytest.approx(100.0) and words["examples"] == 1


def test_accuracy_by_length_bins():
    rows = accuracy_by_length([3, 4, 9, 12], [True, False, True, True], [0, 5, 10, 15, 20])
    assert [(r["lengths"], r["examples"], r["exact_match"]) for r in rows] == [
        ("0-4", 2, 0.5),
        ("5-9", 1, 1.0),
        ("10-14", 1, 1.0),
    ]
    matches = [(3, 3), (1, 4), (9, 9), (12, 12)]
    rows = accuracy_by_length([3, 4, 9, 12], [True, False, True, True], [0, 5, 20], matches)
    assert [r["token_accuracy"] for r in rows] == [4 / 7, 1.0]
