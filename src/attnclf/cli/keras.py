"""`attnclf import-keras MODEL.h5 --out DIR`: a Keras 2 model of the tutorial's kind as an
attnclf model folder (h5py alone, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import user_errors


def import_keras(
    model: Annotated[Path, typer.Argument(help="A Keras 2 .h5 file saved by model.save().")],
    out: Annotated[Path, typer.Option(help="The attnclf model folder to write.")],
    word_index: Annotated[
        Path | None,
        typer.Option(
            "--word-index",
            help="How texts became ids: a Keras Tokenizer.to_json() file, or a {word: rank} "
            "JSON as imdb.get_word_index() gives (see --index-from). Without it a text is read "
            "as its ids separated by spaces.",
        ),
    ] = None,
    max_len: Annotated[
        int | None,
        typer.Option(
            "--max-len", min=1, help="The length texts were padded to (default: the file's)."
        ),
    ] = None,
    padding: Annotated[
        str, typer.Option(help="pad_sequences' padding side: pre (Keras' default) or post.")
    ] = "pre",
    truncating: Annotated[
        str, typer.Option(help="pad_sequences' truncating side: pre (Keras' default) or post.")
    ] = "pre",
    labels: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated label names in the order of the outputs (one sigmoid output: "
            "the 0 label, then the 1 label); default 0,1."
        ),
    ] = None,
    index_from: Annotated[
        int,
        typer.Option(
            "--index-from",
            help="For a {word: rank} index: id = rank + this (keras.datasets.imdb's 3, with "
            "start id 1 and out-of-vocabulary id 2).",
        ),
    ] = 3,
    token_pattern: Annotated[
        str | None,
        typer.Option(
            "--token-pattern",
            help="For a {word: rank} index: a regular expression whose matches are the words "
            "(default: Keras' Tokenizer rules).",
        ),
    ] = None,
) -> None:
    """Bring a Keras model (Embedding, (Bi)LSTM, SeqSelfAttention or MultiHeadAttention,
    Flatten, Dense) over: predict, explain, evaluate and serve then work on it."""
    from ..interop.keras_import import import_keras as run_import
    from ..models.families.tutorial import TutorialConfig
    from ..runtime.files import check_writable

    with user_errors():
        check_writable(out, "--out", folder=True)
        classifier = run_import(
            model,
            out,
            word_index=word_index,
            max_len=max_len,
            padding=padding,
            truncating=truncating,
            labels=[label.strip() for label in labels.split(",")] if labels else None,
            index_from=index_from,
            token_pattern=token_pattern,
        )
        config = classifier.model.config
        assert isinstance(config, TutorialConfig)
        labels_read = ", ".join(classifier.label_names)
        typer.echo(
            f"wrote {out}: {classifier.architecture}, {config.max_len} tokens padded "
            f"{config.padding}, masking {config.masking}, labels {labels_read}"
        )
