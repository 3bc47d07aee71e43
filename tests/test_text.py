"""tokenize(), truncate(), Vocab and Encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attnclf.config import TextConfig
from attnclf.text.tokens import PAD, UNK, Encoder, Vocab, tokenize, truncate

# --- tokenize ---------------------------------------------------------------------------------


def test_tokenize_empty_string():
    assert tokenize("") == []
    assert tokenize("   \n\t ") == []


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("Hello, World. A (great) film; truly: GREAT.") == [
        "hello",
        "world",
        "a",
        "great",
        "film",
        "truly",
        "great",
    ]


def test_tokenize_keeps_exclamation_and_question_marks_as_tokens():
    assert tokenize("Wow!! Really?") == ["wow", "!", "!", "really", "?"]


@pytest.mark.parametrize(
    "text",
    [
        "one<br />two",
        "one<br/>two",
        "one<br>two",
        "one<BR />two",
        "one<br /><br />two",
    ],
)
def test_tokenize_treats_imdb_line_breaks_as_spaces(text):
    assert tokenize(text) == ["one", "two"]


def test_tokenize_imdb_review_with_breaks_does_not_leak_markup():
    tokens = tokenize("Great movie.<br /><br />I loved it!")
    assert tokens == ["great", "movie", "i", "loved", "it", "!"]
    assert "br" not in tokens


def test_tokenize_keeps_inner_apostrophes_and_hyphens():
    assert tokenize("Don't miss this well-made film, it's great") == [
        "don't",
        "miss",
        "this",
        "well-made",
        "film",
        "it's",
        "great",
    ]


def test_tokenize_normalises_typographic_apostrophe():
    assert tokenize("Don’t") == ["don't"]
    assert tokenize("Don’t") == tokenize("don't")


def test_tokenize_outer_apostrophes_and_quotes_are_separators():
    assert tokenize("'quoted' the students' work") == ["quoted", "the", "students", "work"]


def test_tokenize_numbers_and_underscores():
    assert tokenize("Rated 10/10, snake_case") == ["rated", "10", "10", "snake", "case"]


def test_tokenize_keeps_accented_letters():
    assert tokenize("Café CRÈME") == ["café", "crème"]


def test_punctuation_tokenizer_keeps_sentence_marks_as_tokens():
    text = 'Not "great". A (long) film, truly: bad; 10/10!'
    assert tokenize(text, "punctuation") == (
        ["not", '"', "great", '"', ".", "a", "(", "long", ")", "film", ","]
        + ["truly", ":", "bad", ";", "10", "10", "!"]
    )
    # the words are attnclf's own; only the marks are added
    words = [t for t in tokenize(text, "punctuation") if t not in '.,;:()"']
    assert words == tokenize(text)


def test_punctuation_tokenizer_outside_ascii_takes_the_same_marks():
    assert tokenize("Café. Don’t, «no»", "punctuation") == ["café", ".", "don't", ",", "no"]


def test_encoder_and_build_and_encode_follow_the_configured_tokenizer():
    from attnclf.text.tokens import build_and_encode

    config = TextConfig(vocab_size=20, max_len=10, tokenizer="punctuation")
    vocab, encoded = build_and_encode(["Bad. Very bad, truly."], config)
    assert "." in vocab.index and "," in vocab.index
    assert Encoder(vocab, config).tokens("Bad. Very bad, truly.")[0] == vocab.decode(encoded[0])


def test_an_unknown_tokenizer_is_one_line_naming_the_choices():
    from attnclf.config import run_configs
    from attnclf.errors import AttnclfError

    with pytest.raises(AttnclfError, match="--tokenizer 'keras' is not one of attnclf, punct"):
        run_configs(tokenizer="keras")


# --- truncate ---------------------------------------------------------------------------------

TOKENS = [f"t{i}" for i in range(10)]


def test_truncate_short_input_is_returned_whole_as_a_new_list():
    short = ["a", "b", "c"]
    for how in ("head", "tail", "head+tail"):
        kept = truncate(short, 3, how)
        assert kept == short
        assert kept is not short
    assert truncate((), 5, "head") == []


def test_truncate_head():
    assert truncate(TOKENS, 4, "head") == ["t0", "t1", "t2", "t3"]


def test_truncate_tail():
    assert truncate(TOKENS, 4, "tail") == ["t6", "t7", "t8", "t9"]


def test_truncate_head_and_tail_keeps_a_quarter_from_the_start():
    # max_len 8: 8 // 4 = 2 from the start, 6 from the end.
    assert truncate(TOKENS, 8, "head+tail") == ["t0", "t1", "t4", "t5", "t6", "t7", "t8", "t9"]
    # max_len 4: 1 from the start, 3 from the end.
    assert truncate(TOKENS, 4, "head+tail") == ["t0", "t7", "t8", "t9"]
    # max_len 3: 3 // 4 = 0 from the start, all from the end.
    assert truncate(TOKENS, 3, "head+tail") == ["t7", "t8", "t9"]


@pytest.mark.parametrize("how", ["head", "tail", "head+tail"])
@pytest.mark.parametrize("max_len", [1, 2, 5, 9, 10, 11])
def test_truncate_never_exceeds_max_len(how, max_len):
    kept = truncate(TOKENS, max_len, how)
    assert len(kept) == min(max_len, len(TOKENS))
    assert set(kept) <= set(TOKENS)


def test_truncate_tail_with_zero_budget_keeps_nothing():
    assert truncate(TOKENS, 0, "tail") == []


# --- Vocab ------------------------------------------------------------------------------------


def test_vocab_build_reserves_pad_and_unk_and_orders_by_frequency_then_alphabet():
    texts = [["b", "a", "c", "a"], ["c", "d", "a"], ["b", "c"]]
    # counts: a 3, c 3, b 2, d 1
    vocab = Vocab.build(texts, size=100)
    assert vocab.tokens == [PAD, UNK, "a", "c", "b", "d"]
    assert vocab.pad_id == 0 and vocab.index[PAD] == 0
    assert vocab.unk_id == 1 and vocab.index[UNK] == 1
    assert len(vocab) == 6


def test_vocab_build_caps_size_including_special_tokens():
    texts = [["x"] * 5 + ["y"] * 4 + ["z"] * 3 + ["w"] * 2]
    vocab = Vocab.build(texts, size=4)
    assert vocab.tokens == [PAD, UNK, "x", "y"]
    assert len(vocab) == 4


def test_vocab_build_min_count_drops_rare_tokens():
    vocab = Vocab.build([["a", "a", "b", "c", "c", "c"]], size=10, min_count=2)
    assert vocab.tokens == [PAD, UNK, "c", "a"]


def test_vocab_build_is_independent_of_input_order():
    texts = [["b", "a"], ["c"], ["a", "b", "c"]]
    assert Vocab.build(texts, 10).tokens == Vocab.build(list(reversed(texts)), 10).tokens


def test_vocab_rejects_token_lists_without_special_tokens():
    with pytest.raises(ValueError, match="<pad>"):
        Vocab(["a", "b"])


def test_encode_decode_round_trip_and_unknown_words():
    vocab = Vocab.build([["the", "film", "was", "good"], ["the", "film"]], size=10)
    ids = vocab.encode(["the", "film", "was", "awful"])
    assert isinstance(ids, np.ndarray)
    assert ids.dtype == np.int32
    assert ids.tolist() == [vocab.index["the"], vocab.index["film"], vocab.index["was"], 1]
    assert vocab.decode(ids.tolist()) == ["the", "film", "was", UNK]
    known = ["good", "the", "was"]
    assert vocab.decode(vocab.encode(known)) == known
    assert vocab.encode([]).tolist() == []


def test_vocab_save_load_round_trip(tmp_path):
    vocab = Vocab.build([tokenize("Don't stop — café! Ça va?")], size=50)
    path = tmp_path / "sub" / "vocab.json"
    vocab.save(path)
    assert path.exists()
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored == vocab.tokens
    assert "café" in path.read_text(encoding="utf-8")  # written as UTF-8, not escaped
    loaded = Vocab.load(path)
    assert loaded.tokens == vocab.tokens
    assert loaded.index == vocab.index
    words = ["don't", "café", "unseen"]
    assert loaded.encode(words).tolist() == vocab.encode(words).tolist()
    assert list(tmp_path.rglob("*.tmp")) == []


# --- Encoder ----------------------------------------------------------------------------------


def _encoder(max_len: int, truncation: str) -> Encoder:
    vocab = Vocab.build([["one", "two", "three", "four", "five"]], size=10)
    return Encoder(vocab, TextConfig(vocab_size=10, max_len=max_len, truncation=truncation))


def test_encoder_tokens_reports_truncation():
    encoder = _encoder(3, "head")
    assert encoder.tokens("One two three four five") == (["one", "two", "three"], True)
    assert encoder.tokens("One two three") == (["one", "two", "three"], False)
    assert encoder.tokens("") == ([], False)


def test_encoder_tokens_uses_configured_truncation():
    assert _encoder(3, "tail").tokens("one two three four five") == (
        ["three", "four", "five"],
        True,
    )
    assert _encoder(4, "head+tail").tokens("one two three four five six") == (
        ["one", "four", "five", "six"],
        True,
    )


def test_encoder_encode_and_encode_many():
    encoder = _encoder(4, "head")
    vocab = encoder.vocab
    ids = encoder.encode("One TWO mystery five six")
    assert ids.tolist() == [vocab.index["one"], vocab.index["two"], 1, vocab.index["five"]]
    many = encoder.encode_many(["one", "", "five five"])
    assert [x.tolist() for x in many] == [
        [vocab.index["one"]],
        [],
        [vocab.index["five"]] * 2,
    ]
