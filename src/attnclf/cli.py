"""The `attnclf` command: each sub-command parses its options, calls one library function and
prints. User mistakes come out as one `error:` line and exit status 2, never a traceback."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .config import DataConfig, TextConfig, TrainConfig, Truncation
from .errors import AttnclfError
from .seq2seq.cli import seq2seq_app

app = typer.Typer(
    help="Attention-based text classification: train, compare, evaluate and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(
    seq2seq_app,
    name="seq2seq",
    help="Translation with Bahdanau attention: train, translate (with alignments), evaluate.",
)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except AttnclfError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


# Options shared by `train` and `compare`.
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="aclImdb_v1.tar.gz, an aclImdb/ folder, a CSV/TSV/JSONL file or a folder per "
        "class; default: $ATTNCLF_DATA, else IMDB downloaded once into $ATTNCLF_HOME.",
    ),
]
EpochsOpt = Annotated[int, typer.Option(min=1, help="Passes over the training data.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Examples per training step.")]
MaxLenOpt = Annotated[int, typer.Option("--max-len", min=1, help="Tokens kept per text.")]
TruncOpt = Annotated[
    str,
    typer.Option(
        help="Which tokens a long text keeps: head, tail or head+tail (a quarter from the start, "
        "the rest from the end)."
    ),
]
VocabOpt = Annotated[
    int,
    typer.Option(
        "--vocab-size",
        min=3,
        help="Most frequent training words kept, padding and unknown included.",
    ),
]
LrOpt = Annotated[float, typer.Option(help="Adam learning rate (> 0).")]
LrScheduleOpt = Annotated[
    str,
    typer.Option("--lr-schedule", help="constant, or linear (falling to 0 at the last step)."),
]
SeedOpt = Annotated[
    int, typer.Option(help="Seed for the split, the initial weights and the order.")
]
DeviceOpt = Annotated[
    str, typer.Option(help="auto (CUDA when present, else CPU), cpu or cuda[:N].")
]
PrecisionOpt = Annotated[
    str,
    typer.Option(
        help="Arithmetic of the training steps: auto (bf16 where the hardware has it, else "
        "fp32), fp32 or bf16 (bfloat16 autocast; evaluation and saved models stay fp32)."
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Use a stratified N of train and N of test, for quick runs."),
]
TextColOpt = Annotated[
    str, typer.Option("--text-column", help="Column holding the text (CSV/TSV/JSONL).")
]
LabelColOpt = Annotated[
    str, typer.Option("--label-column", help="Column holding the label (CSV/TSV/JSONL).")
]
ValOpt = Annotated[
    float,
    typer.Option(
        "--validation-fraction", min=0.0, max=0.9, help="Share of train held out for validation."
    ),
]
ModelArg = Annotated[Path, typer.Argument(help="A model folder written by `attnclf train`.")]
FileOpt = Annotated[Path | None, typer.Option("--file", help="A file with one text a line.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
CheckpointEveryOpt = Annotated[
    int,
    typer.Option(
        "--checkpoint-every",
        min=0,
        help="Also save a checkpoint every N steps (one is always saved after each epoch).",
    ),
]


@contextmanager
def saved_on_interrupt(resume_from: Callable[[Path], Path]) -> Iterator[None]:
    """Ctrl-C during training: one line saying where the checkpoint is and how to carry on."""
    from .train import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as stop:
        if stop.checkpoint is None:
            typer.echo(f"{stop}; no checkpoint saved for this step", err=True)
        else:
            typer.echo(
                f"{stop}; checkpoint saved in {stop.checkpoint}; to carry on, run the same "
                f"command with --resume {resume_from(stop.checkpoint)}",
                err=True,
            )
        raise typer.Exit(130) from None


def _configs(
    data,
    limit,
    text_column,
    label_column,
    validation_fraction,
    seed,
    vocab_size,
    max_len,
    truncation,
    epochs,
    batch_size,
    lr,
    device,
    precision,
    lr_schedule="constant",
) -> tuple[DataConfig, TextConfig, TrainConfig]:
    if truncation not in ("head", "tail", "head+tail"):
        raise AttnclfError(f"--truncation {truncation!r} is not one of head, tail, head+tail")
    if not lr > 0:
        raise AttnclfError(f"--lr {lr} must be above 0; the default is 2e-3")
    if lr_schedule not in ("constant", "linear"):
        raise AttnclfError(f"--lr-schedule {lr_schedule!r} is not one of constant, linear")
    if precision not in ("auto", "fp32", "bf16"):
        raise AttnclfError(f"--precision {precision!r} is not one of auto, fp32, bf16")
    from .runtime import resolve_precision
    from .train import resolve_device

    resolve_precision(precision, resolve_device(device))  # bf16 without the hardware: say so now
    truncation_value: Truncation = truncation  # type: ignore[assignment]
    return (
        DataConfig(data, text_column, label_column, validation_fraction, limit=limit, seed=seed),
        TextConfig(vocab_size, max_len, truncation_value),
        TrainConfig(
            epochs,
            batch_size,
            lr,
            lr_schedule=lr_schedule,  # type: ignore[arg-type]
            seed=seed,
            device=device,
            precision=precision,
        ),
    )


@app.command()
def compare(
    data: DataOpt = None,
    out: Annotated[
        Path, typer.Option(help="Folder for metrics.json, report.md, curves.png and the models.")
    ] = Path("runs/compare"),
    models: Annotated[
        str, typer.Option(help="Comma-separated model families to compare.")
    ] = "self-attention,multihead",
    epochs: EpochsOpt = 2,
    batch_size: BatchOpt = 128,
    max_len: MaxLenOpt = 200,
    truncation: TruncOpt = "tail",
    vocab_size: VocabOpt = 10_000,
    lr: LrOpt = 2e-3,
    lr_schedule: LrScheduleOpt = "constant",
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    limit: LimitOpt = None,
    text_column: TextColOpt = "text",
    label_column: LabelColOpt = "label",
    validation_fraction: ValOpt = 0.1,
    faithfulness: Annotated[
        int,
        typer.Option(min=0, help="Test texts for the faithfulness table in report.md (0: none)."),
    ] = 200,
    checkpoint_every: CheckpointEveryOpt = 0,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Carry on an interrupted compare from the --out folder it wrote; pass the same "
            "options."
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train the named models on the same data and split, and print them side by side."""
    from .experiment import compare as run_compare
    from .report import comparison_table, write_comparison

    with user_errors(), saved_on_interrupt(lambda checkpoint: checkpoint.parent.parent):
        configs = _configs(
            data,
            limit,
            text_column,
            label_column,
            validation_fraction,
            seed,
            vocab_size,
            max_len,
            truncation,
            epochs,
            batch_size,
            lr,
            device,
            precision,
            lr_schedule,
        )
        data_config, text_config, train_config = configs
        train_config = dataclasses.replace(train_config, checkpoint_every=checkpoint_every)
        names = [name.strip() for name in models.split(",") if name.strip()]
        log = (lambda message: None) if quiet else (lambda m: typer.echo(m, err=True))
        comparison = run_compare(
            names,
            data_config,
            text_config,
            train_config,
            out=out,
            progress=not quiet,
            log=log,
            resume=resume,
        )
        written = write_comparison(comparison, out, faithfulness_sample=faithfulness, log=log)
        record = comparison.record
        typer.echo(comparison_table(record["models"]))
        typer.echo(
            f"\nwrote {', '.join(written)} and the models ({', '.join(names)}) into {out}; "
            f"trained and evaluated in {record['wall_seconds']:.1f} s"
        )


@app.command()
def train(
    model: Annotated[
        str, typer.Option("--model", help="Model family: self-attention or multihead.")
    ] = "self-attention",
    data: DataOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder to save the model in (default models/MODEL).")
    ] = None,
    epochs: EpochsOpt = 2,
    batch_size: BatchOpt = 128,
    max_len: MaxLenOpt = 200,
    truncation: TruncOpt = "tail",
    vocab_size: VocabOpt = 10_000,
    lr: LrOpt = 2e-3,
    lr_schedule: LrScheduleOpt = "constant",
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    limit: LimitOpt = None,
    text_column: TextColOpt = "text",
    label_column: LabelColOpt = "label",
    validation_fraction: ValOpt = 0.1,
    checkpoint_every: CheckpointEveryOpt = 0,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Carry on from a checkpoint (OUT/checkpoint, or OUT) of an interrupted run; "
            "pass the same options."
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train one model, evaluate it on the test split and save it as a folder; checkpoints go to
    OUT/checkpoint."""
    from .experiment import check_model_names, prepare_data, train_model

    with user_errors(), saved_on_interrupt(lambda checkpoint: checkpoint):
        check_model_names([model])
        data_config, text_config, train_config = _configs(
            data,
            limit,
            text_column,
            label_column,
            validation_fraction,
            seed,
            vocab_size,
            max_len,
            truncation,
            epochs,
            batch_size,
            lr,
            device,
            precision,
            lr_schedule,
        )
        train_config = dataclasses.replace(train_config, checkpoint_every=checkpoint_every)
        prepared = prepare_data(data_config, text_config)
        target = out or Path("models") / model
        _, record = train_model(
            model, prepared, train_config, target, progress=not quiet, resume=resume
        )
        typer.echo(
            f"{model}: test accuracy {record['test_accuracy']:.4f}, loss {record['test_loss']:.4f},"
            f" F1 {record['f1']:.4f} after {record['train_seconds']:.1f} s of training; "
            f"saved to {target}"
        )


@app.command()
def evaluate(
    model: ModelArg,
    data: DataOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    limit: LimitOpt = None,
    text_column: TextColOpt = "text",
    label_column: LabelColOpt = "label",
    device: DeviceOpt = "auto",
) -> None:
    """Score a saved model on the test split of the data (every row of a single file)."""
    from .classifier import load
    from .data import load_evaluation_examples
    from .evaluate import EVAL_BATCH_SIZE, classification_metrics, timed_predict

    with user_errors():
        classifier = load(model, device)
        examples, name = load_evaluation_examples(
            DataConfig(data, text_column, label_column, limit=limit), classifier.label_names
        )
        encoded = classifier.encode(examples.texts)
        logits, per_s = timed_predict(classifier.model, encoded, EVAL_BATCH_SIZE, classifier.device)
        metrics = classification_metrics(logits, examples.labels, classifier.label_names)
        metrics["infer_samples_per_s"] = round(per_s, 1)
        if json_output:
            typer.echo(json.dumps({"model": str(model), "data": name, **metrics}))
            return
        typer.echo(f"{model} on {name} ({metrics['examples']} examples)")
        for key in ("accuracy", "loss", "precision", "recall", "f1", "roc_auc"):
            typer.echo(f"  {key:<10} {metrics[key]:.4f}")
        typer.echo(
            f"  confusion  {metrics['confusion_matrix']} (rows: true "
            f"{', '.join(classifier.label_names)})"
        )
        typer.echo(f"  {per_s:.0f} samples/s")


@app.command()
def predict(
    model: ModelArg,
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to classify; none: read --file or stdin.")
    ] = None,
    file: FileOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per text.")] = False,
    attention: Annotated[
        bool, typer.Option(help="With --json, include tokens and attention weights.")
    ] = False,
    device: DeviceOpt = "auto",
) -> None:
    """Label texts with a saved model, with the probability of that label."""
    from .classifier import load

    with user_errors():
        inputs = _read_texts(texts, file)
        if not inputs:
            raise AttnclfError("no text to classify; pass texts as arguments, --file F or on stdin")
        classifier = load(model, device)
        for prediction in classifier.predict(inputs):
            if json_output:
                typer.echo(
                    json.dumps(prediction.to_dict(with_attention=attention), ensure_ascii=False)
                )
            else:
                note = " (truncated)" if prediction.truncated else ""
                shown = (
                    prediction.text if len(prediction.text) <= 70 else prediction.text[:67] + "..."
                )
                typer.echo(f"{prediction.label}\t{prediction.probability:.4f}\t{shown}{note}")


def _read_texts(texts: list[str] | None, file: Path | None, stdin: bool = True) -> list[str]:
    """Texts from the arguments, then --file (one a line), else stdin when it is not a terminal."""
    inputs = list(texts or [])
    if file is not None:
        if not file.is_file():
            raise AttnclfError(f"no such file: {file}; --file takes a text file, one text a line")
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        inputs += [line for line in lines if line.strip()]
    if not inputs and stdin and not sys.stdin.isatty():
        inputs = [line for line in sys.stdin.read().splitlines() if line.strip()]
    return inputs


@app.command()
def explain(
    model: ModelArg,
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to explain; none: --file, --data or stdin.")
    ] = None,
    file: FileOpt = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Explain test examples of this data source.")
    ] = None,
    sample: Annotated[
        int, typer.Option(min=1, help="With --data: how many test examples, right and wrong.")
    ] = 24,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write one self-contained page.")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG heatmap.")] = None,
    text_column: TextColOpt = "text",
    label_column: LabelColOpt = "label",
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
) -> None:
    """Show the attention on every word: coloured in the terminal, or as HTML or PNG."""
    from .classifier import load
    from .explain import explain as explain_texts
    from .explain import render_page, render_png, to_terminal, use_color, write_html

    with user_errors():
        classifier = load(model, device)
        if data is not None:
            explanations = _gallery(classifier, data, sample, text_column, label_column, seed)
        else:
            inputs = _read_texts(texts, file)
            if not inputs:
                raise AttnclfError(
                    "no text to explain; pass texts as arguments, --file F, --data PATH or stdin"
                )
            explanations = explain_texts(classifier, inputs)
        if html is not None:
            write_html(html, render_page(explanations, f"attnclf explain: {model}"))
            typer.echo(f"wrote {html} ({len(explanations)} texts)", err=True)
        if png is not None:
            render_png(explanations, png)
            typer.echo(f"wrote {png} ({len(explanations)} texts)", err=True)
        if html is None and png is None:
            color = use_color(sys.stdout)
            width = shutil.get_terminal_size((100, 24)).columns
            for explanation in explanations:
                typer.echo(to_terminal(explanation, color=color, width=width) + "\n")


def _gallery(classifier, data: str, sample: int, text_column: str, label_column: str, seed: int):
    """`sample` test examples spread over right and wrong, confident and unsure."""
    import numpy as np

    from .data import load_evaluation_examples
    from .evaluate import EVAL_BATCH_SIZE, predict_logits, probabilities
    from .explain import explain as explain_texts
    from .explain import sample_for_gallery

    pool_size = max(sample * 50, 2000)
    examples, _ = load_evaluation_examples(
        DataConfig(data, text_column, label_column, limit=pool_size, seed=seed),
        classifier.label_names,
    )
    logits = predict_logits(
        classifier.model, classifier.encode(examples.texts), EVAL_BATCH_SIZE, classifier.device
    )
    probs = probabilities(logits)  # (N, K)
    p_true = probs[np.arange(len(examples)), examples.labels]
    right = probs.argmax(axis=1) == examples.labels
    chosen = sample_for_gallery(p_true, right, sample, seed)
    return explain_texts(
        classifier,
        [examples.texts[i] for i in chosen],
        [classifier.label_names[examples.labels[i]] for i in chosen],
    )


@app.command()
def faithfulness(
    model: ModelArg,
    data: DataOpt = None,
    sample: Annotated[int, typer.Option(min=1, help="Test examples to measure on.")] = 500,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also write the JSON report to this file.")
    ] = None,
    ig_steps: Annotated[int, typer.Option(min=2, help="Integrated-gradients steps.")] = 32,
    text_column: TextColOpt = "text",
    label_column: LabelColOpt = "label",
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
) -> None:
    """How faithful is each explanation: ERASER comprehensiveness and sufficiency of attention,
    gradient x input, integrated gradients and random, and their rank agreement."""
    from .classifier import load
    from .data import load_evaluation_examples
    from .faithfulness import FAITHFULNESS_EXPLAINED, faithfulness_report, faithfulness_table
    from .files import write_json

    with user_errors():
        classifier = load(model, device)
        examples, name = load_evaluation_examples(
            DataConfig(data, text_column, label_column, limit=sample, seed=seed),
            classifier.label_names,
        )
        texts = [text for text in examples.texts if text.strip()]
        report = faithfulness_report(classifier, texts, seed=seed, ig_steps=ig_steps)
        report["model"], report["data"] = str(model), name
        if out is not None:
            write_json(out, report)
        if json_output:
            typer.echo(json.dumps(report))
            return
        typer.echo(f"{model} on {len(texts)} test texts of {name}\n")
        typer.echo(faithfulness_table(report))
        typer.echo("\n" + FAITHFULNESS_EXPLAINED)


def main() -> None:
    from .runtime import tune_memory_allocator

    tune_memory_allocator()
    app()
