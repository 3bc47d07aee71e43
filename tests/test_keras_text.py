"""Text to ids as Keras makes them: the expected ids below were printed once by Keras 2.15's own
Tokenizer (fit_on_texts on TEXTS, then texts_to_sequences) in the anchor's Keras venv."""

from __future__ import annotations

import json

import pytest

from attnclf.config import TextConfig
from attnclf.errors import AttnclfError
from attnclf.text.keras_text import KerasEncoder, read_word_index, truncating_to_truncation

TEXTS = [
    "The film was GREAT, great!! <br />Really great.",
    "Awful; the plot... was awful",
    "Tab\tsep and new\nline words",
    "unknown great the film",
]
WITH_OOV = {
    "<OOV>": 1, "great": 2, "the": 3, "was": 4, "awful": 5, "film": 6, "br": 7, "really": 8,
    "plot": 9, "tab": 10, "sep": 11, "and": 12, "new": 13, "line": 14, "words": 15,
}  # fmt: skip
WITHOUT_OOV = {word: i - 1 for word, i in WITH_OOV.items() if word != "<OOV>"}
KERAS_IDS = {
    "<OOV>": [[3, 1, 4, 2, 2, 1, 1, 2], [5, 3, 1, 4, 5], [1, 1, 1, 1, 1, 1], [1, 2, 3, 1]],
    None: [[2, 5, 3, 1, 1, 1], [4, 2, 3, 4], [], [1, 2, 5]],
}


def tokenizer_json(path, oov_token):
    words = WITH_OOV if oov_token else WITHOUT_OOV
    config = {
        "num_words": 6,
        "filters": '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n',
        "lower": True,
        "split": " ",
        "char_level": False,
        "oov_token": oov_token,
        "word_index": json.dumps(words),
    }
    path.write_text(json.dumps({"class_name": "Tokenizer", "config": config}))
    return path


def encoder(path, vocab_size=50, max_len=100, truncation="tail", **options):
    read = read_word_index(path, vocab_size, **options)
    config = TextConfig(max_len=max_len, truncation=truncation, tokenizer="keras")
    config.keras = vars(read.rules)
    return KerasEncoder(read.id_to_token, config)


@pytest.mark.parametrize("oov_token", ["<OOV>", None])
def test_ids_are_what_keras_tokenizer_gives(tmp_path, oov_token):
    keras = encoder(tokenizer_json(tmp_path / "tok.json", oov_token))
    assert [keras.encode(text).tolist() for text in TEXTS] == KERAS_IDS[oov_token]


def test_tokens_name_what_each_id_stands_for(tmp_path):
    keras = encoder(tokenizer_json(tmp_path / "tok.json", "<OOV>"))
    tokens, truncated = keras.tokens("Unknown great film")
    assert tokens == ["<OOV>", "great", "<OOV>"] and not truncated  # film is id 6 >= num_words
    assert keras.encode_tokens(tokens).tolist() == [1, 2, 1]


def test_truncating_pre_keeps_the_end_and_post_the_start(tmp_path):
    path = tokenizer_json(tmp_path / "tok.json", "<OOV>")
    assert truncating_to_truncation("pre") == "tail" and truncating_to_truncation("post") == "head"
    text = "the was great awful the"
    assert encoder(path, max_len=3, truncation="tail").encode(text).tolist() == [2, 5, 3]
    assert encoder(path, max_len=3, truncation="head").encode(text).tolist() == [3, 4, 2]
    assert encoder(path, max_len=3).tokens(text)[1] is True
    with pytest.raises(AttnclfError, match="pre, post"):
        truncating_to_truncation("middle")


def test_an_imdb_word_index_adds_start_and_oov_ids(tmp_path):
    path = tmp_path / "imdb_word_index.json"
    path.write_text(json.dumps({"the": 1, "film": 2, "great": 3, "rare": 40}))
    keras = encoder(path, vocab_size=10)  # index_from 3, start 1, oov 2, as keras.datasets.imdb
    assert keras.encode("The film<br />was GREAT, rare").tolist() == [1, 4, 5, 2, 6, 2]
    assert keras.tokens("the film")[0] == ["<start>", "the", "film"]
    # the tutorial anchor's prepare.py: its own token pattern and ranks from 0
    pattern = encoder(path, vocab_size=10, index_from=2, token_pattern=r"[a-z0-9']+")
    assert pattern.encode("the film's great").tolist() == [1, 3, 2, 5]


def test_a_file_that_is_no_word_index_is_one_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(AttnclfError, match="neither a Keras Tokenizer"):
        read_word_index(path, 10)
    path.write_text("{not json")
    with pytest.raises(AttnclfError, match="cannot be read as JSON"):
        read_word_index(path, 10)
