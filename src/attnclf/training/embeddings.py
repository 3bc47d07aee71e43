"""Pretrained word vectors: read GloVe and word2vec files (gensim's KeyedVectors), turn them into
an embedding matrix for a vocabulary, start a model's embedding layer from it (`Pretrained`), and
train word2vec on a dataset's training texts plus IMDB's unlabelled reviews (never its validation
or test texts).

A word of the vocabulary found in the vectors (as is, lower-cased, capitalised or upper-cased:
attnclf's words are lower-case, some vectors' are not) gets its vector; the
others get random vectors with the vectors' own spread (Kim 2014's choice), padding gets zeros.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import DataConfig, TrainConfig
from ..errors import AttnclfError
from ..runtime.files import atomic_write
from ..text.tokens import Vocab, tokenize

if TYPE_CHECKING:
    import torch
    from gensim.models import KeyedVectors

    from ..text.batches import EncodedTexts


@dataclass
class Coverage:
    """How much of a vocabulary the vectors cover."""

    found: int  # vocabulary words with a vector (padding and unknown not counted)
    words: int  # vocabulary words in all
    token_share: float | None  # share of the training tokens whose word has a vector

    @property
    def share(self) -> float:
        return self.found / self.words if self.words else 0.0

    def describe(self) -> str:
        tokens = f", {self.token_share:.1%} of training tokens" if self.token_share else ""
        return (
            f"{self.found:,} of {self.words:,} vocabulary words ({self.share:.1%}{tokens}) have "
            "a vector; the others start random with the vectors' spread"
        )


def _is_binary(path: Path) -> bool:
    """A word2vec binary file: a text header "N D", then bytes that are not text."""
    with path.open("rb") as handle:
        handle.readline()
        sample = handle.read(1 << 16)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start < len(sample) - 4  # a cut multibyte character at the end is text
    return b"\x00" in sample


def _has_header(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


def load_vectors(path: str | Path) -> KeyedVectors:
    """Word vectors from a word2vec binary or text file (with its "N D" header) or a GloVe text
    file (no header)."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise AttnclfError(
            f"--embeddings {path} is not a file; give GloVe (.txt) or word2vec (text or binary) "
            "vectors, or make some with `attnclf embeddings train`"
        )
    try:
        if _has_header(path):
            return KeyedVectors.load_word2vec_format(str(path), binary=_is_binary(path))
        return KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=True)
    except (ValueError, UnicodeDecodeError, EOFError, IndexError) as error:
        raise AttnclfError(
            f"--embeddings {path} is not a GloVe or word2vec file ({error}); give one word and "
            "its numbers per line (GloVe, word2vec text) or a word2vec binary file"
        ) from None


def embedding_matrix(
    vectors: KeyedVectors,
    vocab: Vocab,
    seed: int = 0,
    token_counts: Sequence[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, Coverage]:
    """(len(vocab), D) float32: each vocabulary word's vector, random ones for words without,
    zeros for padding. `token_counts[i]`, how often word i occurs in training, gives the
    share of training tokens covered."""
    known = np.asarray(vectors.vectors, dtype=np.float32)  # (N, D)
    spread = float(known.std()) if known.size else 0.1
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, spread, (len(vocab), vectors.vector_size)).astype(np.float32)
    matrix[vocab.pad_id] = 0.0
    found = np.zeros(len(vocab), dtype=bool)
    for i, word in enumerate(vocab.tokens):
        if i in (vocab.pad_id, vocab.unk_id):
            continue
        for candidate in (word, word.lower(), word.capitalize(), word.upper()):
            index = vectors.key_to_index.get(candidate)
            if index is not None:
                matrix[i] = known[index]
                found[i] = True
                break
    words = len(vocab) - 2
    share = None
    if token_counts is not None:
        counts = np.asarray(token_counts, dtype=np.float64)
        total = counts.sum()
        share = float(counts[found].sum() / total) if total else None
    return matrix, Coverage(int(found.sum()), words, share)


# --- a model's embedding layer from the vectors ----------------------------------------------


@dataclass
class Pretrained:
    """Word vectors as the vocabulary's embedding matrix."""

    source: str
    matrix: np.ndarray  # (V, D)
    coverage: Coverage

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dim": int(self.matrix.shape[1]),
            "found": self.coverage.found,
            "words": self.coverage.words,
            "token_share": self.coverage.token_share,
        }


def load_pretrained(train_config: TrainConfig, vocab: Vocab, train: EncodedTexts) -> Pretrained:
    """The vectors of `--embeddings` as `vocab`'s embedding matrix (its coverage of the training
    split `train` said on stderr)."""
    from .distributed import current

    assert train_config.embeddings is not None
    vectors = load_vectors(train_config.embeddings)
    counts = np.bincount(train.ids, minlength=len(vocab))  # (V,)
    matrix, coverage = embedding_matrix(vectors, vocab, train_config.seed, counts)
    if current().is_main:
        print(f"embeddings {train_config.embeddings}: {coverage.describe()}", file=sys.stderr)
    return Pretrained(train_config.embeddings, matrix, coverage)


def use_pretrained(model: torch.nn.Module, pretrained: Pretrained, freeze: bool) -> None:
    """Copy the vectors into the model's input embedding layer; `freeze`: keep them fixed."""
    import torch

    from ..models.outputs import input_embeddings

    layer = input_embeddings(model)
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != pretrained.matrix.shape:
        raise AttnclfError(
            f"the model's embedding layer does not take a {pretrained.matrix.shape} matrix, so "
            "it cannot start from --embeddings"
        )
    with torch.no_grad():
        weight.copy_(torch.from_numpy(pretrained.matrix))
    weight.requires_grad_(not freeze)


# --- training word2vec -------------------------------------------------------------------------


@dataclass
class Word2VecSettings:
    """gensim's Word2Vec settings, with its defaults but min_count."""

    dim: int = 100
    window: int = 5
    min_count: int = 2
    epochs: int = 5
    skip_gram: bool = False  # CBOW by default: several times faster, as good for this use
    seed: int = 0
    workers: int = 0  # 0: every core


@dataclass
class TrainedVectors:
    words: int
    texts: int
    tokens: int
    seconds: float
    path: Path


def train_word2vec(
    texts: Sequence[str],
    out: str | Path,
    settings: Word2VecSettings | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> TrainedVectors:
    """Train word2vec on `texts` (tokenised as attnclf tokenises, so the words match its
    vocabularies) and save it in word2vec's format: text for a .txt path, else binary."""
    import os

    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec

    chosen = settings or Word2VecSettings()
    out = Path(out)
    start = time.perf_counter()

    class EpochEnd(CallbackAny2Vec):
        def __init__(self) -> None:
            self.epoch = 0

        def on_epoch_end(self, model: Any) -> None:
            self.epoch += 1
            if on_epoch is not None:
                on_epoch(self.epoch, chosen.epochs)

    model = Word2Vec(
        vector_size=chosen.dim,
        window=chosen.window,
        min_count=chosen.min_count,
        sg=1 if chosen.skip_gram else 0,
        seed=chosen.seed,
        workers=chosen.workers or os.cpu_count() or 1,
    )
    # gensim's corpus_file mode: the texts tokenised once into a file of one text a line, which
    # its C code reads on every thread; iterating Python lists took ~3x longer on 2 cores
    with tempfile.TemporaryDirectory(prefix="attnclf-w2v-") as folder:
        corpus = Path(folder) / "corpus.txt"
        with corpus.open("w", encoding="utf-8") as handle:
            for text in texts:
                tokens = tokenize(text)
                if tokens:
                    handle.write(" ".join(tokens) + "\n")
        model.build_vocab(corpus_file=str(corpus))
        if not len(model.wv):
            raise AttnclfError(
                f"no word occurs {chosen.min_count} times in the {len(texts)} texts; lower "
                "--min-count or give more text"
            )
        model.train(
            corpus_file=str(corpus),
            total_words=model.corpus_total_words,
            epochs=chosen.epochs,
            callbacks=[EpochEnd()],
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    binary = out.suffix != ".txt"
    atomic_write(out, lambda tmp: model.wv.save_word2vec_format(str(tmp), binary=binary))
    return TrainedVectors(
        len(model.wv), len(texts), int(model.corpus_total_words), time.perf_counter() - start, out
    )


def dataset_vectors(
    data_config: DataConfig,
    out: str | Path,
    settings: Word2VecSettings | None = None,
    unlabelled: bool = True,
    on_epoch: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] = print,
) -> TrainedVectors:
    """word2vec on what a model trained with `data_config` trains on: its training split, with
    the same validation texts carved off (same seed and fraction), plus, for IMDB, the 50,000
    unlabelled reviews. Validation and test texts never reach it."""
    from ..data.imdb import read_unlabelled
    from ..data.readers import resolve_source
    from ..data.splits import load_dataset

    dataset = load_dataset(data_config)
    extra = read_unlabelled(resolve_source(data_config)) if unlabelled else []
    log(
        f"word2vec on {len(dataset.train):,} training texts + {len(extra):,} unlabelled "
        f"({len(dataset.validation):,} validation and {len(dataset.test):,} test texts left out)"
    )
    return train_word2vec(training_texts(dataset.train.texts, extra), out, settings, on_epoch)


def training_texts(train: Sequence[str], unlabelled: Sequence[str]) -> list[str]:
    """The texts word2vec reads."""
    return [*train, *unlabelled]
