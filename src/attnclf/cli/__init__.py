"""The `attnclf` command: the classifier commands (classify.py) with `attnclf seq2seq`
(seq2seq.py) mounted under them; the options they share live in common.py. Nothing heavy is
imported until a command runs, so `attnclf --help` is quick."""

from __future__ import annotations

from .classify import app
from .embeddings import embeddings_app
from .ensemble import ensemble
from .export import export
from .keras import import_keras
from .seq2seq import seq2seq_app
from .serve import serve

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


def main() -> None:
    from ..runtime.heap import tune_memory_allocator

    tune_memory_allocator()
    try:
        app()
    finally:
        from ..training.distributed import stop

        stop()  # leave torchrun's process group, if this process joined one


__all__ = ["app", "main"]
