"""Text to ids as Keras 2 makes them, for models brought over from Keras (`attnclf import-keras`):
the rules of `keras.preprocessing.text.Tokenizer.texts_to_sequences` and of the word indexes that
`keras.datasets.imdb` uses, then `pad_sequences`' truncation. Padding itself is the model's
(its fixed width and side live in its config), so an encoder here returns unpadded ids.

- Tokenizer: lower-case, every character of `filters` becomes `split`, split, drop empty
  pieces (or, with `char_level`, every character is a token); a word's id is its
  `word_index` entry; with `num_words`, ids at or above it are dropped, or become the OOV
  token's id when the tokenizer has an `oov_token`; unknown words likewise.
- IMDB-style index (`imdb.get_word_index()` and `load_data(index_from=3)`): id = rank +
  `index_from`, a start id before every text, ids at or above `num_words` and unknown words
  become the OOV id.
- truncating "pre" (Keras' default) keeps the end of a long text, "post" its start: attnclf's
  `truncation` "tail" and "head".
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import TextConfig, Truncation
from ..errors import AttnclfError

PAD, START = "<pad>", "<start>"
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'  # Tokenizer's default
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass
class KerasTextRules:
    """How a Keras model's texts became ids; saved under "keras" in the folder's text config."""

    filters: str = KERAS_FILTERS
    lower: bool = True
    split: str = " "
    char_level: bool = False
    # A regular expression whose matches are the tokens, instead of filters and split (for
    # example `[a-z0-9']+`, what the tutorial anchor's prepare.py used)
    token_pattern: str | None = None
    html_breaks: bool = False  # turn "<br />" into a space first (IMDB's raw reviews have them)
    num_words: int | None = None  # ids at or above this are not kept (Tokenizer's num_words)
    oov_id: int | None = None  # what unknown and out-of-range words become; None drops them
    start_id: int | None = None  # put before every text (keras.datasets.imdb's start_char)


def truncating_to_truncation(truncating: str) -> Truncation:
    """pad_sequences' truncating side as attnclf's truncation."""
    sides: dict[str, Truncation] = {"pre": "tail", "post": "head"}
    if truncating not in sides:
        raise AttnclfError(f"--truncating {truncating!r} is not one of pre, post")
    return sides[truncating]


class KerasEncoder:
    """Keras' text -> ids, shown token by token: `tokens(text)` are the words the ids stand for
    (out-of-vocabulary words as the OOV token, the start id as <start>), one per id."""

    def __init__(self, id_to_token: Sequence[str], config: TextConfig):
        if config.keras is None:
            raise ValueError("a KerasEncoder needs the text config's keras rules")
        self.config = config
        self.rules = KerasTextRules(**config.keras)
        self.id_to_token = list(id_to_token)
        self.word_index = {
            token: i for i, token in enumerate(self.id_to_token) if i > 0 and token is not None
        }
        if self.rules.start_id is not None:
            self.word_index.pop(self.id_to_token[self.rules.start_id], None)
        self._pattern = re.compile(self.rules.token_pattern) if self.rules.token_pattern else None
        self._token_ids = {token: i for i, token in reversed(list(enumerate(self.id_to_token)))}

    def words(self, text: str) -> list[str]:
        """Tokenizer's text_to_word_sequence, or the token pattern's matches."""
        rules = self.rules
        if rules.html_breaks:
            text = _HTML_BREAK.sub(" ", text)
        if rules.lower:
            text = text.lower()
        if rules.char_level:
            return list(text)
        if self._pattern is not None:
            return self._pattern.findall(text)
        table: dict[str, str | int | None] = {c: rules.split for c in rules.filters}
        text = text.translate(str.maketrans(table))
        return [piece for piece in text.split(rules.split) if piece]

    def full_ids(self, text: str) -> list[int]:
        """Every id of `text` before truncation (texts_to_sequences, with the start id)."""
        rules, index = self.rules, self.word_index
        ids = [rules.start_id] if rules.start_id is not None else []
        for word in self.words(text):
            i = index.get(word)
            if i is not None and (rules.num_words is None or i < rules.num_words):
                ids.append(i)
            elif rules.oov_id is not None:
                ids.append(rules.oov_id)
        return ids

    def _kept(self, text: str) -> tuple[list[int], bool]:
        ids = self.full_ids(text)
        width = self.config.max_len
        if len(ids) <= width:
            return ids, False
        return (ids[-width:] if self.config.truncation == "tail" else ids[:width]), True

    def tokens(self, text: str) -> tuple[list[str], bool]:
        ids, truncated = self._kept(text)
        return [self.id_to_token[i] for i in ids], truncated

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self._kept(text)[0], dtype=np.int32)

    def encode_tokens(self, tokens: Iterable[str]) -> np.ndarray:
        """Ids of tokens that `tokens()` returned."""
        return np.fromiter((self._token_ids[token] for token in tokens), dtype=np.int32)

    def encode_many(self, texts: Iterable[str]) -> list[np.ndarray]:
        return [self.encode(text) for text in texts]


# --- word index files -----------------------------------------------------------------------


@dataclass
class WordIndex:
    """A word index file read: each id's token, and the rules that turn text into those ids."""

    id_to_token: list[str]
    rules: KerasTextRules


def read_word_index(
    path: str | Path,
    vocab_size: int,
    index_from: int = 3,
    start_id: int | None = 1,
    oov_id: int | None = 2,
    token_pattern: str | None = None,
) -> WordIndex:
    """A Keras `Tokenizer.to_json()` file (every rule read from it), or a plain {word: rank}
    JSON as `imdb.get_word_index()` gives (id = rank + index_from, with `start_id` and
    `oov_id`), gzipped or not; `vocab_size` is the Embedding's input_dim, which bounds the
    ids."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (OSError, ValueError, UnicodeDecodeError, EOFError) as error:
        raise AttnclfError(f"--word-index {path} cannot be read as JSON ({error})") from None
    if isinstance(data, dict) and data.get("class_name") == "Tokenizer":
        return _from_tokenizer(path, data.get("config", {}), vocab_size)
    if isinstance(data, dict) and data and all(isinstance(v, int) for v in data.values()):
        return _from_ranks(data, vocab_size, index_from, start_id, oov_id, token_pattern)
    raise AttnclfError(
        f"--word-index {path} is neither a Keras Tokenizer.to_json() file nor a "
        "{word: index} JSON object such as imdb.get_word_index() writes"
    )


def _tokens_by_id(words: dict[str, int], vocab_size: int, reserved: dict[int, str]) -> list[str]:
    tokens = [f"<unused {i}>" for i in range(vocab_size)]
    tokens[0] = PAD
    for word, i in words.items():
        if 0 < i < vocab_size:
            tokens[i] = word
    for i, name in reserved.items():
        if 0 <= i < vocab_size:
            tokens[i] = name
    return tokens


def _from_tokenizer(path: Path, config: dict[str, Any], vocab_size: int) -> WordIndex:
    try:
        index = config["word_index"]
        words = json.loads(index) if isinstance(index, str) else dict(index)
    except (KeyError, ValueError, TypeError):
        raise AttnclfError(f"--word-index {path}: the Tokenizer JSON has no word_index") from None
    oov_token = config.get("oov_token")
    num_words = config.get("num_words")
    oov_id = words.get(oov_token) if oov_token is not None else None
    rules = KerasTextRules(
        filters=config.get("filters", KERAS_FILTERS),
        lower=bool(config.get("lower", True)),
        split=config.get("split", " "),
        char_level=bool(config.get("char_level", False)),
        num_words=min(num_words, vocab_size) if num_words else vocab_size,
        oov_id=oov_id,
    )
    return WordIndex(_tokens_by_id(words, vocab_size, {}), rules)


def _from_ranks(
    ranks: dict[str, int],
    vocab_size: int,
    index_from: int,
    start_id: int | None,
    oov_id: int | None,
    token_pattern: str | None,
) -> WordIndex:
    words = {word: rank + index_from for word, rank in ranks.items()}
    reserved = {i: name for i, name in ((start_id, START), (oov_id, "<oov>")) if i is not None}
    rules = KerasTextRules(
        token_pattern=token_pattern,
        html_breaks=True,
        num_words=vocab_size,
        oov_id=oov_id,
        start_id=start_id,
    )
    return WordIndex(_tokens_by_id(words, vocab_size, reserved), rules)
