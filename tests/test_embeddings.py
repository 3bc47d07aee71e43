"""Pretrained word vectors: reading GloVe and word2vec files, the embedding matrix and its
coverage, training word2vec on training texts only, and models that start from vectors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_cli

import attnclf
import attnclf.data.splits
from attnclf.config import DataConfig
from attnclf.errors import AttnclfError
from attnclf.text.tokens import Vocab
from attnclf.training.embeddings import (
    Word2VecSettings,
    dataset_vectors,
    embedding_matrix,
    load_vectors,
    train_word2vec,
)

WORDS = {"good": [0.5, 1.0, -1.0], "Bad": [-0.5, 2.0, 0.25], "film": [0.0, 0.125, 3.0]}


def write_glove(path: Path) -> Path:
    path.write_text(
        "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in WORDS.items()), encoding="utf-8"
    )
    return path


def write_word2vec(path: Path, binary: bool) -> Path:
    from gensim.models import KeyedVectors

    vectors = KeyedVectors(vector_size=3)
    vectors.add_vectors(list(WORDS), np.array(list(WORDS.values()), dtype=np.float32))
    vectors.save_word2vec_format(str(path), binary=binary)
    return path


@pytest.mark.parametrize("kind", ["glove", "word2vec-text", "word2vec-binary"])
def test_every_vector_format_reads_the_same(tmp_path, kind):
    path = {
        "glove": lambda: write_glove(tmp_path / "v.txt"),
        "word2vec-text": lambda: write_word2vec(tmp_path / "v.w2v.txt", binary=False),
        "word2vec-binary": lambda: write_word2vec(tmp_path / "v.bin", binary=True),
    }[kind]()
    vectors = load_vectors(path)
    assert vectors.vector_size == 3 and len(vectors) == 3
    for word, values in WORDS.items():
        np.testing.assert_allclose(vectors[word], values, rtol=1e-6)


def test_the_matrix_takes_known_words_lower_cases_and_leaves_padding_zero(tmp_path):
    vectors = load_vectors(write_glove(tmp_path / "v.txt"))
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "plot"])
    counts = [0, 5, 10, 3, 2]
    matrix, coverage = embedding_matrix(vectors, vocab, seed=0, token_counts=counts)
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0.0)
    np.testing.assert_allclose(matrix[2], WORDS["good"])
    np.testing.assert_allclose(matrix[3], WORDS["Bad"])  # found under its capitalised key
    assert coverage.found == 2 and coverage.words == 3
    assert coverage.token_share == pytest.approx(13 / 20)
    # the word without a vector starts random, with the vectors' spread
    assert np.abs(matrix[4]).max() > 0
    assert "2 of 3 vocabulary words" in coverage.describe()


def test_a_file_that_is_not_vectors_is_one_line(tmp_path, sentiment_csv):
    bad = tmp_path / "notes.txt"
    bad.write_text("these are words\nnot numbers at all\n", encoding="utf-8")
    with pytest.raises(AttnclfError, match="not a GloVe or word2vec file"):
        load_vectors(bad)
    result = run_cli(
        "train", "--data", sentiment_csv, "--embeddings", bad, "--out", tmp_path / "m", "-q"
    )
    assert_one_line_error(result, "--embeddings", "not a GloVe or word2vec file")
    result = run_cli(
        "train", "--data", sentiment_csv, "--freeze-embeddings", "--out", tmp_path / "m", "-q"
    )
    assert_one_line_error(result, "--freeze-embeddings needs --embeddings")


def make_imdb_folder(root: Path) -> dict[str, list[str]]:
    """A tiny aclImdb/ folder whose every review names its split, so a leak shows."""
    texts: dict[str, list[str]] = {"train": [], "test": [], "unsup": []}
    for split, folders in (("train", ("pos", "neg", "unsup")), ("test", ("pos", "neg"))):
        for folder in folders:
            (root / "aclImdb" / split / folder).mkdir(parents=True)
            for i in range(30 if folder != "unsup" else 10):
                word = "good" if folder == "pos" else "bad" if folder == "neg" else "meh"
                where = "unsup" if folder == "unsup" else split
                text = f"{where}{i}{folder} a {word} film {where}marker"
                (root / "aclImdb" / split / folder / f"{i}_1.txt").write_text(text)
                texts[where].append(text)
    (root / "aclImdb" / "imdb.vocab").write_text("good\nbad\n")
    return texts


def test_word2vec_never_reads_validation_or_test_texts(tmp_path, monkeypatch):
    texts = make_imdb_folder(tmp_path)
    seen: list[str] = []

    def capture(texts_in, out, settings=None, on_epoch=None):
        seen.extend(texts_in)
        return train_word2vec(texts_in, out, settings, on_epoch)

    monkeypatch.setattr("attnclf.training.embeddings.train_word2vec", capture)
    config = DataConfig(source=str(tmp_path / "aclImdb"), validation_fraction=0.2, seed=3)
    trained = dataset_vectors(
        config, tmp_path / "v.bin", Word2VecSettings(dim=8, epochs=1, min_count=1), log=print
    )
    dataset = attnclf.data.splits.load_dataset(config)
    assert set(seen) == set(dataset.train.texts) | set(texts["unsup"])
    assert not set(seen) & set(dataset.validation.texts)
    assert not set(seen) & set(texts["test"])
    assert len(dataset.validation) == 12 and trained.texts == 48 + 10
    vectors = load_vectors(trained.path)
    assert "unsupmarker" in vectors.key_to_index and "testmarker" not in vectors.key_to_index


def test_the_cli_trains_vectors_a_model_then_uses(tmp_path, sentiment_csv):
    vectors = tmp_path / "vectors.txt"
    result = run_cli(
        "embeddings", "train", "--data", sentiment_csv, "--out", vectors, "--dim", 12,
        "--epochs", 2, "--min-count", 1, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "x 12 from" in result.stdout
    keyed = load_vectors(vectors)
    model_dir = tmp_path / "model"
    result = run_cli(
        "train", "--model", "self-attention", "--data", sentiment_csv,
        "--embeddings", vectors, "--freeze-embeddings",
        "--epochs", 1, "--out", model_dir, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "have a vector" in result.stderr
    vectors.unlink()  # the folder keeps what it trained with
    classifier = attnclf.load(model_dir, device="cpu")
    weight = classifier.model.input_embeddings().weight
    assert weight.shape[1] == 12
    word = "wonderful"
    row = classifier.vocab.index[word]
    torch.testing.assert_close(weight[row], torch.tensor(keyed[word]))  # frozen: unchanged
    assert classifier.predict("a wonderful film")[0].label in ("pos", "neg")


def test_a_compare_without_a_folder_leaves_no_vectors_behind(tmp_path, monkeypatch):
    from attnclf.config import TextConfig, TrainConfig
    from attnclf.training.compare import CompareSettings, compare

    make_imdb_folder(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where mkdtemp puts its folders
    result = compare(
        ["self-attention"],
        DataConfig(source=str(tmp_path / "aclImdb"), validation_fraction=0.2),
        TextConfig(vocab_size=50, max_len=12),
        TrainConfig(epochs=1, batch_size=16),
        out=None,
        progress=False,
        log=lambda message: None,
        settings=CompareSettings(
            gallery_sample=0,
            word2vec=Word2VecSettings(dim=8, epochs=1, min_count=1),
            vector_models=["self-attention"],
        ),
    )
    assert result.record.data["word2vec"]["texts"] == 48 + 10
    assert result.record.models["self-attention"].test_accuracy >= 0
    assert list(scratch.iterdir()) == []  # the models keep their vectors; the file is gone
