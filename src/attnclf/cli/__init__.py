"""The `attnclf` command: the classifier commands, one module a group (train.py: train,
compare; predict.py: evaluate, predict; explain.py: explain, faithfulness; then export,
import-keras, ensemble, serve), with `attnclf seq2seq` (seq2seq.py) and `attnclf embeddings`
(embeddings.py) mounted under them; the options they share live in common.py. Nothing heavy is
imported until a command runs, so `attnclf --help` is quick."""

from __future__ import annotations

import sys

import typer

from .common import FamilyCommand, user_errors
from .embeddings import embeddings_app
from .ensemble import ensemble
from .explain import explain, faithfulness
from .export import export
from .keras import import_keras
from .predict import evaluate, predict
from .seq2seq import seq2seq_app
from .serve import serve
from .train import compare, train

app = typer.Typer(
    help="Attention-based text classification: train, compare, evaluate and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command(cls=FamilyCommand)(compare)
app.command(cls=FamilyCommand)(train)
app.command()(evaluate)
app.command()(predict)
app.command()(explain)
app.command()(faithfulness)
app.command()(export)
app.command("import-keras")(import_keras)
app.command()(ensemble)

app.add_typer(
    seq2seq_app,
    name="seq2seq",
    help="Translation with Bahdanau attention: train, translate (with alignments), evaluate.",
)
app.command()(serve)
app.add_typer(embeddings_app, name="embeddings")


# commands that compute with PyTorch, which then leaves out the cores other work keeps busy
COMPUTING = {
    "train",
    "compare",
    "evaluate",
    "predict",
    "explain",
    "faithfulness",
    "ensemble",
    "seq2seq",
    "embeddings",
    "import-keras",
    "export",
}


TRAINING = {"train", "compare", "seq2seq", "embeddings"}


def main() -> None:
    from ..runtime.heap import tune_memory_allocator

    tune_memory_allocator()
    try:
        if computing(sys.argv[1:]):
            from ..runtime.threads import apply_thread_choice

            # a training run says what it chose; predictions keep their stderr for errors
            tell = (lambda line: typer.echo(line, err=True)) if sys.argv[1] in TRAINING else None
            with user_errors():
                apply_thread_choice(log=tell)
        app()
    finally:
        from ..training.distributed import stop

        stop()  # leave torchrun's process group, if this process joined one


def computing(args: list[str]) -> bool:
    """Whether the command line runs a command that computes (not --help, not serve, which
    sets its inference thread's own)."""
    return bool(args) and args[0] in COMPUTING and not {"--help", "-h"} & set(args)


__all__ = ["app", "main"]
