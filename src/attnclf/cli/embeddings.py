"""`attnclf embeddings train`: word2vec vectors from a dataset's training texts (and IMDB's
unlabelled reviews), for `attnclf train --embeddings`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DataOpt, LabelColOpt, LimitOpt, QuietOpt, SeedOpt, TextColOpt, user_errors

embeddings_app = typer.Typer(
    help="Word vectors: train word2vec for --embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@embeddings_app.command("train")
def train_vectors(
    out: Annotated[
        Path,
        typer.Option(help="Where to save the vectors: word2vec binary, or text for a .txt name."),
    ],
    data: DataOpt = None,
    dim: Annotated[int, typer.Option(min=1, help="Width of each vector.")] = 100,
    window: Annotated[int, typer.Option(min=1, help="Words either side that predict.")] = 5,
    min_count: Annotated[
        int, typer.Option("--min-count", min=1, help="Rarer words get no vector.")
    ] = 2,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the texts.")] = 5,
    skip_gram: Annotated[
        bool, typer.Option("--skip-gram", help="Skip-gram instead of CBOW (slower).")
    ] = False,
    unlabelled: Annotated[
        bool,
        typer.Option(help="Also read IMDB's 50,000 unlabelled reviews when --data is IMDB."),
    ] = True,
    validation_fraction: Annotated[
        float,
        typer.Option(
            "--validation-fraction",
            min=0.0,
            max=0.9,
            help="The share of train that `attnclf train` will hold out (with the same --seed): "
            "those texts are left out here too.",
        ),
    ] = 0.1,
    limit: LimitOpt = None,
    text_column: TextColOpt = "text",
    label_column: LabelColOpt = "label",
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Train word2vec (gensim, every core) on the training split only: validation and test
    texts never reach it."""
    from tqdm.auto import tqdm

    from ..config import DataConfig
    from ..runtime.files import check_writable
    from ..training.embeddings import Word2VecSettings, dataset_vectors

    with user_errors():
        check_writable(out, "--out", folder=False)
        config = DataConfig(
            source=str(data) if data is not None else None,
            text_column=text_column,
            label_column=label_column,
            validation_fraction=validation_fraction,
            limit=limit,
            seed=seed,
        )
        settings = Word2VecSettings(
            dim=dim,
            window=window,
            min_count=min_count,
            epochs=epochs,
            skip_gram=skip_gram,
            seed=seed,
        )
        bar = tqdm(total=epochs, desc="word2vec", unit="epoch", disable=quiet)

        def on_epoch(done: int, total: int) -> None:
            bar.update(1)

        def log(message: str) -> None:
            if not quiet:
                typer.echo(message, err=True)

        trained = dataset_vectors(
            config, out, settings, unlabelled=unlabelled, on_epoch=on_epoch, log=log
        )
        bar.close()
        typer.echo(
            f"wrote {trained.path}: {trained.words:,} words x {dim} from {trained.texts:,} texts "
            f"({trained.tokens:,} tokens) in {trained.seconds:.1f} s"
        )
