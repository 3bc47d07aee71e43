"""`attnclf seq2seq`: train a Bahdanau encoder-decoder on generated dates or a file of pairs,
translate with it (and draw the alignments), evaluate it. Each command parses its options,
calls the library and prints; user mistakes come out as one `error:` line, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import AttnclfError
from .common import DeviceOpt, FileOpt, read_texts, user_errors

seq2seq_app = typer.Typer(
    help="Translation with the attention of Bahdanau et al. 2014: train on generated dates or "
    "a source<TAB>target file, translate with alignments, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ModelArg = Annotated[
    Path, typer.Argument(help="A model folder written by `attnclf seq2seq train`.")
]
TaskOpt = Annotated[
    str | None, typer.Option(help="A built-in task: dates (generated, no download).")
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="A UTF-8 file of source<TAB>target lines (such as Tatoeba pairs); further columns "
        "are ignored, blank lines skipped.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Seed for the data, the initial weights and order.")]
BeamOpt = Annotated[int, typer.Option(min=1, help="Beam width; 1 is greedy decoding.")]


def _task_or_data(task: str | None, data: Path | None) -> None:
    from ..seq2seq.data import TASKS

    if (task is None) == (data is None):
        raise AttnclfError("give one of --task dates or --data PAIRS.tsv")
    if task is not None and task not in TASKS:
        raise AttnclfError(f"--task {task!r} is not one of {', '.join(TASKS)}")


@seq2seq_app.command()
def train(
    task: TaskOpt = None,
    data: DataOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to save the model in (default models/dates or models/seq2seq)."),
    ] = None,
    tokens: Annotated[
        str | None,
        typer.Option(help="char or word tokens (default: char for dates, word for a file)."),
    ] = None,
    lowercase: Annotated[
        bool | None,
        typer.Option(
            "--lowercase/--keep-case", help="Lower-case text (default: words yes, chars no)."
        ),
    ] = None,
    attention: Annotated[
        str,
        typer.Option(
            help="additive (Bahdanau), multiplicative (Luong) or none (a fixed-length vector)."
        ),
    ] = "additive",
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training pairs.")] = 8,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Pairs per training step.")
    ] = 64,
    lr: Annotated[float, typer.Option(help="Adam's learning rate at the start (> 0).")] = 2e-3,
    hidden: Annotated[
        int,
        typer.Option(min=1, help="Encoder width per direction; the decoder is twice as wide."),
    ] = 64,
    embedding: Annotated[int, typer.Option(min=1, help="Token embedding width.")] = 32,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Dropout rate.")] = 0.0,
    train_size: Annotated[
        int, typer.Option("--train-size", min=1, help="Generated training pairs (--task).")
    ] = 30_000,
    validation_size: Annotated[
        int,
        typer.Option(
            "--validation-size",
            min=0,
            help="Held-out pairs scored after every epoch: generated ones for --task; for "
            "--data at most a tenth of the file.",
        ),
    ] = 2000,
    max_len: Annotated[
        int,
        typer.Option("--max-len", min=1, help="--data: skip pairs with more tokens on a side."),
    ] = 100,
    vocab_size: Annotated[
        int, typer.Option("--vocab-size", min=5, help="Most frequent tokens kept per side.")
    ] = 20_000,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train an encoder-decoder and save it as a folder; Ctrl-C keeps the model so far."""
    from ..runtime.files import check_writable
    from ..seq2seq.data import TokenKind, dates_data, file_data
    from ..seq2seq.model import ATTENTION_KINDS, Seq2SeqConfig
    from ..seq2seq.train import Seq2SeqTrainConfig, train_translator

    with user_errors():
        _task_or_data(task, data)
        if out is not None:
            check_writable(out, "--out", folder=True)
        if tokens is not None and tokens not in ("char", "word"):
            raise AttnclfError(f"--tokens {tokens!r} is not one of char, word")
        if attention not in ATTENTION_KINDS:
            raise AttnclfError(
                f"--attention {attention!r} is not one of {', '.join(ATTENTION_KINDS)}"
            )
        if not lr > 0:
            raise AttnclfError(f"--lr {lr} must be above 0")
        kind: TokenKind | None = tokens  # type: ignore[assignment]  # checked above
        if data is None:
            pairs = dates_data(train_size, validation_size, seed, kind, lowercase, vocab_size)
        else:
            pairs = file_data(data, validation_size, seed, kind, lowercase, vocab_size, max_len)
        model_config = Seq2SeqConfig(
            embedding_dim=embedding,
            hidden_size=hidden,
            decoder_size=2 * hidden,
            attention_size=hidden,
            attention=attention,  # type: ignore[arg-type]
            dropout=dropout,
        )
        train_config = Seq2SeqTrainConfig(epochs, batch_size, lr, seed=seed, device=device)
        log = (lambda message: None) if quiet else (lambda m: typer.echo(m, err=True))
        described = pairs.description
        log(
            f"{described['train_pairs']} training and {described['validation_pairs']} validation "
            f"pairs; {len(pairs.source_vocab)} source and {len(pairs.target_vocab)} target "
            f"{pairs.tokens.kind} tokens"
        )
        translator, result = train_translator(
            pairs, model_config, train_config, progress=not quiet, log=log
        )
        target = out or Path("models") / (task or "seq2seq")
        translator.save(target)
        score = translator.metadata["metrics"]["validation_exact_match"]
        if score is not None:
            scored = f"validation exact match {score:.4f} (epoch {result.best_epoch})"
        elif len(pairs.validation):
            scored = "no epoch finished, so not validated"
        else:
            scored = "no validation pairs"
        if result.interrupted:
            typer.echo(
                f"interrupted at {result.interrupted}; saved the model so far to {target} "
                f"({scored})",
                err=True,
            )
            raise typer.Exit(130)
        typer.echo(f"{scored}, {result.train_seconds:.1f} s of training; saved to {target}")


def _read_texts(texts: list[str] | None, file: Path | None) -> list[str]:
    """Texts from arguments, --file or stdin, as the classifier commands read them; at least one."""
    inputs = read_texts(texts, file)
    if not inputs:
        raise AttnclfError("no text to translate; pass texts as arguments, --file F or on stdin")
    return inputs


@seq2seq_app.command()
def translate(
    model: ModelArg,
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to translate; none: read --file or stdin.")
    ] = None,
    file: FileOpt = None,
    beam: BeamOpt = 1,
    png: Annotated[
        Path | None, typer.Option("--png", help="Write the alignments as a PNG heatmap.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the alignments as one HTML page.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object per text, alignment included.")
    ] = False,
    device: DeviceOpt = "auto",
) -> None:
    """Translate texts, one output a line; --png/--html draw where each output token looked."""
    from ..seq2seq.alignment import render_html, render_png, write_html
    from ..seq2seq.translator import load

    with user_errors():
        inputs = _read_texts(texts, file)
        translator = load(model, device)
        translations = translator.translate(inputs, beam=beam)
        if html is not None:
            write_html(html, render_html(translations, f"attnclf seq2seq: {model}"))
            typer.echo(f"wrote {html} ({len(translations)} alignments)", err=True)
        if png is not None:
            render_png(translations, png)
            typer.echo(f"wrote {png} ({len(translations)} alignments)", err=True)
        for translation in translations:
            if json_output:
                typer.echo(json.dumps(translation.to_dict(), ensure_ascii=False))
            else:
                typer.echo(translation.output)


@seq2seq_app.command()
def evaluate(
    model: ModelArg,
    data: DataOpt = None,
    task: TaskOpt = None,
    size: Annotated[
        int,
        typer.Option(
            min=1,
            help="--task: how many generated pairs, none of them among the model's training "
            "or validation pairs.",
        ),
    ] = 2000,
    limit: Annotated[
        int | None, typer.Option(min=1, help="--data: score only the first N pairs.")
    ] = None,
    beam: BeamOpt = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    seed: Annotated[
        int, typer.Option(help="--task with a model not trained on it: the data's seed.")
    ] = 0,
    device: DeviceOpt = "auto",
) -> None:
    """Score a model: exact match, token accuracy and BLEU (sacrebleu)."""
    from ..seq2seq.data import held_out_dates
    from ..seq2seq.evaluate import evaluate_pairs
    from ..seq2seq.pairs import read_pairs
    from ..seq2seq.translator import load

    with user_errors():
        _task_or_data(task, data)
        translator = load(model, device)
        if task is not None:
            pairs = held_out_dates(size, translator.metadata.get("data"), seed)
            name = f"{size} held-out generated dates"
        else:
            pairs = read_pairs(data).pairs[:limit]  # type: ignore[arg-type]
            name = str(data)
        metrics, _ = evaluate_pairs(translator, pairs, beam=beam)
        if json_output:
            typer.echo(json.dumps({"model": str(model), "data": name, **metrics}))
            return
        decoding = "greedy" if beam == 1 else f"beam {beam}"
        typer.echo(f"{model} on {name} ({metrics['examples']} pairs, {decoding})")
        typer.echo(f"  exact match     {metrics['exact_match']:.4f}")
        typer.echo(f"  token accuracy  {metrics['token_accuracy']:.4f}")
        typer.echo(f"  BLEU            {metrics['bleu']:.2f}  ({metrics['bleu_signature']})")
        typer.echo(f"  {metrics['sources_per_s']:.0f} sources/s")
