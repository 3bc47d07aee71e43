"""Training data for a translation model: generated dates or a file of pairs, split into train
and validation, tokenized, with vocabularies built from the training pairs alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AttnclfError
from ..text.tokens import Vocab
from .dates import date_pairs, date_splits
from .pairs import (
    EncodedPairs,
    TokenConfig,
    TokenKind,
    build_vocab,
    default_lowercase,
    encode_pairs,
    read_pairs,
    tokenize,
)

TASKS = ("dates",)
DEFAULT_TOKENS: dict[str, TokenKind] = {"dates": "char", "file": "word"}


@dataclass
class PairData:
    tokens: TokenConfig
    source_vocab: Vocab
    target_vocab: Vocab
    train: EncodedPairs
    validation: EncodedPairs
    description: dict = field(default_factory=dict)  # saved with the model as "data"


def prepare_pairs(
    train: Sequence[tuple[str, str]],
    validation: Sequence[tuple[str, str]],
    kind: TokenKind,
    lowercase: bool | None = None,
    vocab_size: int = 20_000,
    max_len: int | None = None,
    description: dict | None = None,
) -> PairData:
    """Tokenize, drop pairs with more than `max_len` tokens on a side (counted in the
    description), build both vocabularies from `train` and encode."""
    if kind not in ("char", "word"):
        raise AttnclfError(f"--tokens {kind!r} is not one of char, word")
    lowercase = default_lowercase(kind) if lowercase is None else lowercase
    config = TokenConfig(kind, lowercase)
    description = dict(description or {})

    def tokenized(pairs: Sequence[tuple[str, str]], name: str) -> list[tuple[list[str], list[str]]]:
        out = [(tokenize(s, config), tokenize(t, config)) for s, t in pairs]
        kept = [p for p in out if max_len is None or max(len(p[0]), len(p[1])) <= max_len]
        description[f"{name}_pairs"] = len(kept)
        if len(kept) < len(out):
            description[f"{name}_skipped_longer_than_{max_len}"] = len(out) - len(kept)
        return kept

    train_tokens = tokenized(train, "train")
    validation_tokens = tokenized(validation, "validation")
    if not train_tokens:
        raise AttnclfError(
            f"no training pairs are left with at most {max_len} tokens a side; raise --max-len"
        )
    source_vocab = build_vocab((s for s, _ in train_tokens), vocab_size)
    target_vocab = build_vocab((t for _, t in train_tokens), vocab_size)
    longest = max(len(t) for _, t in train_tokens)
    config.max_output_len = max(2 * longest, longest + 10)
    return PairData(
        config,
        source_vocab,
        target_vocab,
        encode_pairs(train_tokens, source_vocab, target_vocab),
        encode_pairs(validation_tokens, source_vocab, target_vocab),
        {**description, "tokens": kind, "lowercase": lowercase},
    )


def dates_data(
    train_size: int,
    validation_size: int,
    seed: int = 0,
    kind: TokenKind | None = None,
    lowercase: bool | None = None,
    vocab_size: int = 20_000,
) -> PairData:
    train, validation, _ = date_splits(train_size, validation_size, seed=seed)
    description = {
        "task": "dates",
        "seed": seed,
        "train_size": train_size,
        "validation_size": validation_size,
    }
    return prepare_pairs(
        train, validation, kind or DEFAULT_TOKENS["dates"], lowercase, vocab_size, None, description
    )


def held_out_dates(count: int, trained: dict | None, seed: int = 0) -> list[tuple[str, str]]:
    """`count` generated dates that a model trained on the dates task (its saved description
    `trained`) never saw: the part of its stream after its train and validation pairs."""
    if trained and trained.get("task") == "dates":
        skip = int(trained["train_size"]) + int(trained["validation_size"])
        return date_pairs(count, int(trained["seed"]), skip=skip)
    return date_pairs(count, seed)


def file_data(
    path: str | Path,
    validation_size: int = 2000,
    seed: int = 0,
    kind: TokenKind | None = None,
    lowercase: bool | None = None,
    vocab_size: int = 20_000,
    max_len: int | None = 100,
) -> PairData:
    """Pairs from a `source<TAB>target` file: a shuffled tenth of them, at most
    `validation_size`, held out for validation (none from a file of fewer than 10 pairs)."""
    pair_file = read_pairs(path)
    pairs = pair_file.pairs
    order = np.random.default_rng(seed).permutation(len(pairs))
    held = min(validation_size, len(pairs) // 10)
    validation = [pairs[i] for i in order[:held]]
    train = [pairs[i] for i in order[held:]]
    description = {
        "task": "file",
        "source": str(path),
        "seed": seed,
        "pairs": len(pairs),
        "blank_lines": pair_file.blank_lines,
        "lines_with_extra_columns": pair_file.extra_columns,
    }
    return prepare_pairs(
        train,
        validation,
        kind or DEFAULT_TOKENS["file"],
        lowercase,
        vocab_size,
        max_len,
        description,
    )
