"""Pairs of texts for translation: the "source<TAB>target" reader, tokens (characters or words),
the vocabularies with <pad>, <unk>, <s> and </s>, and padded batches of pairs.

Tokens are characters (whitespace runs become one space) or words and punctuation marks
(lower-cased by default); the choice is saved with the model, so it reads text as it was
trained to. Output tokens are joined back with "" (characters) or " " (words).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..errors import AttnclfError
from ..text.batches import batch_order
from ..text.tokens import PAD, UNK, Vocab

TokenKind = Literal["char", "word"]
BOS, EOS = "<s>", "</s>"
SPECIALS = [PAD, UNK, BOS, EOS]  # ids 0, 1, 2, 3 in both vocabularies
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)

_WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")


@dataclass
class TokenConfig:
    """How text becomes tokens, and how long an output may grow; saved with every model."""

    kind: TokenKind = "char"
    lowercase: bool = False
    max_output_len: int = 100  # decoding stops here if no </s> came


def default_lowercase(kind: TokenKind) -> bool:
    """Words are lower-cased unless asked otherwise (fewer, better-trained words); characters
    keep their case, which dates and names need."""
    return kind == "word"


def tokenize(text: str, config: TokenConfig) -> list[str]:
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if config.lowercase:
        text = text.lower()
    return list(text) if config.kind == "char" else _WORD.findall(text)


def detokenize(tokens: Sequence[str], config: TokenConfig) -> str:
    return ("" if config.kind == "char" else " ").join(tokens)


def build_vocab(sequences: Iterable[list[str]], size: int, min_count: int = 1) -> Vocab:
    """The `size - 4` most frequent tokens after the four specials (ties alphabetical)."""
    base = Vocab.build(sequences, max(size - 2, 2), min_count)
    words = [t for t in base.tokens[2:] if t not in (BOS, EOS)][: max(size - 4, 0)]
    return Vocab(SPECIALS + words)


def check_vocab(vocab: Vocab, where: str) -> Vocab:
    if vocab.tokens[:4] != SPECIALS:
        raise AttnclfError(f"{where}: a vocabulary starts with {', '.join(SPECIALS)}")
    return vocab


# --- files ----------------------------------------------------------------------------------


@dataclass
class PairFile:
    pairs: list[tuple[str, str]]
    blank_lines: int  # skipped
    extra_columns: int  # lines with more than two columns; the rest was ignored


def read_pairs(path: str | Path) -> PairFile:
    """Pairs from a UTF-8 file of `source<TAB>target` lines (a BOM is fine). Columns after the
    second (Tatoeba's attribution) are ignored, blank lines skipped and counted; a line without
    a tab, or with an empty side, is an error naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise AttnclfError(
            f"no such file: {path}; --data takes a UTF-8 text file of source<TAB>target lines"
        )
    pairs: list[tuple[str, str]] = []
    blank = extra = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise AttnclfError(
                    f"{path}:{number}: not UTF-8 text ({error.reason} at byte {error.start}); "
                    "save the file as UTF-8"
                ) from None
            line = line.rstrip("\r\n")
            if not line.strip():
                blank += 1
                continue
            columns = line.split("\t")
            if len(columns) < 2:
                raise AttnclfError(
                    f"{path}:{number}: no tab in {_clip(line)!r}; each line is "
                    "source<TAB>target (further columns are ignored)"
                )
            source, target = columns[0].strip(), columns[1].strip()
            for side, text in (("source", source), ("target", target)):
                if not text:
                    raise AttnclfError(f"{path}:{number}: the {side} (column) is empty")
            extra += len(columns) > 2
            pairs.append((source, target))
    if not pairs:
        raise AttnclfError(f"{path} holds no source<TAB>target lines")
    return PairFile(pairs, blank, extra)


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# --- ids and batches ------------------------------------------------------------------------


@dataclass
class EncodedPairs:
    sources: list[np.ndarray]  # (S_n,) int64 ids each
    targets: list[np.ndarray]  # (L_n,) int64 ids each, ending with </s>

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def source_lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.sources), dtype=np.int64, count=len(self))


def encode_pairs(
    tokenized: Sequence[tuple[list[str], list[str]]], source_vocab: Vocab, target_vocab: Vocab
) -> EncodedPairs:
    sources = [source_vocab.encode(s).astype(np.int64) for s, _ in tokenized]
    targets = [np.append(target_vocab.encode(t).astype(np.int64), EOS_ID) for _, t in tokenized]
    return EncodedPairs(sources, targets)


@dataclass
class PairBatch:
    source: torch.Tensor  # (B, S) padded with 0 at the end of each row
    source_lengths: torch.Tensor  # (B,)
    target_in: torch.Tensor  # (B, L) <s> y_1 ... y_n, then padding
    target_out: torch.Tensor  # (B, L) y_1 ... y_n </s>, then padding
    index: np.ndarray  # (B,) positions in the EncodedPairs

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(
            self.source.to(device),
            self.source_lengths.to(device),
            self.target_in.to(device),
            self.target_out.to(device),
            self.index,
        )


def pad(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids padded with 0 at the end, and (B,) lengths."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    ids = np.full((len(sequences), max(int(lengths.max()), 1)), PAD_ID, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def collate_pairs(data: EncodedPairs, index: np.ndarray) -> PairBatch:
    source, source_lengths = pad([data.sources[i] for i in index])
    target_out, _ = pad([data.targets[i] for i in index])
    bos = torch.full((len(index), 1), BOS_ID, dtype=torch.long)
    target_in = torch.cat([bos, target_out[:, :-1]], dim=1)  # (B, L)
    return PairBatch(source, source_lengths, target_in, target_out, index)


def pair_batches(
    data: EncodedPairs,
    batch_size: int,
    shuffle: bool = False,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Index arrays of pairs with similar source lengths (see attnclf.text.batches.batch_order)."""
    return batch_order(data.source_lengths, batch_size, shuffle, rng)
