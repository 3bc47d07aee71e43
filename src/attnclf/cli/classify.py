"""`attnclf train | compare | evaluate | predict | explain | faithfulness`: each command parses
its options, calls one library function and prints. User mistakes come out as one `error:` line
and exit status 2, never a traceback."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import DEFAULT_PSEUDO_THRESHOLD, DataConfig
from ..errors import AttnclfError
from .common import (
    FAMILIES,
    FAMILY,
    DataOpt,
    DeviceOpt,
    FamilyCommand,
    FileOpt,
    LabelColOpt,
    LimitOpt,
    QuietOpt,
    RuntimeOpt,
    SeedOpt,
    TextColOpt,
    TrainingOptions,
    echo_to_stderr,
    parse_families,
    read_texts,
    saved_on_interrupt,
    user_errors,
    with_training_options,
)

if TYPE_CHECKING:
    from ..explain.explanation import Explanation

app = typer.Typer(
    help="Attention-based text classification: train, compare, evaluate and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ModelArg = Annotated[Path, typer.Argument(help="A model folder written by `attnclf train`.")]


@app.command(cls=FamilyCommand)
@with_training_options
def compare(
    out: Annotated[
        Path, typer.Option(help="Folder for metrics.json, report.md, curves.png and the models.")
    ] = Path("runs/compare"),
    models: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated model families to compare (default self-attention,multihead, "
            "or the preset's).",
            metavar=FAMILIES,
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="A named recipe: tutorial (the tutorial's two Keras models exactly, trained as "
            "Keras did with Adam 1e-3, no clipping and no weight averaging, beside attnclf's own "
            "two); best (the record: word2vec on train + unlabelled texts, NBSVM and three "
            "attention models from those vectors as teachers, two multihead students "
            "self-trained on the unlabelled texts they label, NBSVM and the students weighed "
            "into an ensemble on validation). A "
            "preset's own settings replace the run's for its models."
        ),
    ] = None,
    unlabelled: Annotated[
        Path | None,
        typer.Option(
            help="For a preset's self-trained models (best): unlabelled texts, one a line "
            "(default: the data's own, IMDB's 50,000 unlabelled reviews)."
        ),
    ] = None,
    faithfulness: Annotated[
        int,
        typer.Option(min=0, help="Test texts for the faithfulness table in report.md (0: none)."),
    ] = 200,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Carry on an interrupted compare from the --out folder it wrote; pass the same "
            "options."
        ),
    ] = None,
    quiet: QuietOpt = False,
    *,
    options: TrainingOptions,
) -> None:
    """Train the named models on the same data and split, and print them side by side."""
    from ..training.compare import compare as run_compare
    from ..training.distributed import current as current_world
    from ..training.presets import get_preset
    from ..training.report import comparison_table, write_comparison

    with user_errors(), saved_on_interrupt(lambda checkpoint: checkpoint.parent.parent):
        data_config, text_config, train_config = options.configs()
        chosen = get_preset(preset) if preset is not None else None
        if unlabelled is not None and not (chosen and chosen.students):
            raise AttnclfError(
                "--unlabelled is for a preset with self-trained models (--preset best); to "
                "self-train one model, use `attnclf train --teacher MODEL --unlabelled FILE`"
            )
        if models is None and chosen is not None:
            names = list(chosen.models)  # a preset's, which may name a family twice
        else:
            names = parse_families(models or "self-attention,multihead")
        log = echo_to_stderr(quiet)
        comparison = run_compare(
            names,
            data_config,
            text_config,
            train_config,
            out=out,
            progress=not quiet,
            log=log,
            resume=resume,
            faithfulness_sample=faithfulness,
            model_training=chosen.training if chosen else None,
            model_text=chosen.text if chosen else None,
            model_settings=chosen.model if chosen else None,
            word2vec=chosen.word2vec if chosen else None,
            vector_models=chosen.vector_models if chosen else (),
            ensemble=chosen.ensemble if chosen else False,
            model_families=chosen.families if chosen else None,
            students=chosen.students if chosen else (),
            ensemble_teachers=chosen.ensemble_teachers if chosen else None,
            unlabelled=unlabelled,
        )
        record = comparison.record
        if not current_world().is_main:
            return  # under torchrun, rank 0 writes and prints
        written = write_comparison(record, out, comparison.gallery)
        typer.echo(comparison_table(record.models))
        if record.ensemble is not None:
            weights = record.ensemble["weights"]
            typer.echo(
                "\nensemble weights (chosen on validation): "
                + ", ".join(f"{name} {w:.3f}" for name, w in weights.items())
            )
        typer.echo(
            f"\nwrote {', '.join(written)} and the models ({', '.join(record.settings.models)})"
            f" into {out}; "
            f"trained and evaluated in {record.wall_seconds:.1f} s"
        )


@app.command(cls=FamilyCommand)
@with_training_options
def train(
    model: Annotated[
        str,
        typer.Option("--model", help="Model family to train.", metavar=FAMILY),
    ] = "self-attention",
    out: Annotated[
        Path | None, typer.Option(help="Folder to save the model in (default models/MODEL).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Carry on from a checkpoint (OUT/checkpoint, or OUT) of an interrupted run; "
            "pass the same options."
        ),
    ] = None,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Self-training: a saved model or ensemble that labels unlabelled texts; those "
            "it labels with probability >= --pseudo-threshold join the training split "
            "(validation and test texts never do)."
        ),
    ] = None,
    unlabelled: Annotated[
        Path | None,
        typer.Option(
            help="With --teacher: the unlabelled texts, one a line (default: the data's own, "
            "IMDB's 50,000 unlabelled reviews)."
        ),
    ] = None,
    pseudo_threshold: Annotated[
        float,
        typer.Option(
            "--pseudo-threshold",
            help="With --teacher: the least probability of its label a teacher must give a text.",
        ),
    ] = DEFAULT_PSEUDO_THRESHOLD,
    quiet: QuietOpt = False,
    *,
    options: TrainingOptions,
) -> None:
    """Train one model, evaluate it on the test split and save it as a folder; checkpoints go to
    OUT/checkpoint."""
    from ..data.readers import load_dataset
    from ..training.compare import prepare_data, train_model
    from ..training.distributed import current as current_world
    from ..training.self_training import self_training_dataset

    with user_errors(), saved_on_interrupt(lambda checkpoint: checkpoint):
        parse_families(model)
        data_config, text_config, train_config = options.configs()
        if unlabelled is not None and teacher is None:
            raise AttnclfError("--unlabelled needs a --teacher to label its texts")
        dataset = load_dataset(data_config)
        if teacher is not None:
            dataset = self_training_dataset(
                dataset,
                data_config,
                teacher,
                unlabelled,
                pseudo_threshold,
                options.device,
                echo_to_stderr(quiet),
            )
        prepared = prepare_data(data_config, text_config, dataset)
        target = out or Path("models") / model
        _, metrics = train_model(
            model, prepared, train_config, target, progress=not quiet, resume=resume
        )
        if not current_world().is_main:
            return  # under torchrun, rank 0 writes and prints
        typer.echo(
            f"{model}: test accuracy {metrics.test_accuracy:.4f}, loss {metrics.test_loss:.4f},"
            f" F1 {metrics.f1:.4f} after {metrics.train_seconds:.1f} s of training; "
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
    from ..inference.scoring import evaluate_folder

    with user_errors():
        result = evaluate_folder(
            model, DataConfig(data, text_column, label_column, limit=limit), device
        )
        if json_output:
            typer.echo(json.dumps(result.to_json()))
            return
        metrics = result.metrics
        typer.echo(f"{model} on {result.data} ({metrics['examples']} examples)")
        for key in ("accuracy", "loss", "precision", "recall", "f1", "roc_auc"):
            typer.echo(f"  {key:<10} {metrics[key]:.4f}")
        typer.echo(
            f"  confusion  {metrics['confusion_matrix']} (rows: true "
            f"{', '.join(result.label_names)})"
        )
        typer.echo(f"  {metrics['infer_samples_per_s']:.0f} samples/s")


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
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="A CSV, TSV or JSONL file to classify row by row into --out (its rows with "
            "label, probability and probability_<label> added); unreadable rows are reported "
            "with their line numbers and skipped.",
        ),
    ] = None,
    text_column: TextColOpt = "text",
    out: Annotated[
        Path | None,
        typer.Option(help="With --data: the file to write, CSV, TSV or JSONL by its suffix."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="With --data: rows per forward pass.")
    ] = 256,
    quiet: QuietOpt = False,
    device: DeviceOpt = "auto",
    runtime: RuntimeOpt = "torch",
) -> None:
    """Label texts with a saved model (or ensemble), with the probability of that label; or
    every row of a file with --data FILE --out FILE."""
    from ..inference.ensemble import load_any as load

    with user_errors():
        if data is not None or out is not None:
            if data is None or out is None:
                raise AttnclfError("--data and --out go together: --data FILE --out FILE")
            if texts or file is not None:
                raise AttnclfError("give texts (or --file), or --data FILE, not both")
            from tqdm import tqdm

            from ..inference.batch_files import predict_file

            classifier = load(model, device, runtime)
            with tqdm(unit=" rows", disable=quiet, file=sys.stderr, delay=0.5) as bar:
                report = predict_file(
                    classifier, data, out, text_column, batch_size, on_rows=bar.update
                )
            for number, reason in report.skipped[:20]:
                typer.echo(f"{data}:{number}: skipped: {reason}", err=True)
            if len(report.skipped) > 20:
                typer.echo(f"... and {len(report.skipped) - 20} more rows skipped", err=True)
            if not report.written:
                raise AttnclfError(f"{data} has no row that could be classified; {out} is empty")
            typer.echo(
                f"wrote {report.written} predictions to {out}"
                + (f"; {len(report.skipped)} rows skipped" if report.skipped else ""),
                err=True,
            )
            return
        inputs = read_texts(texts, file)
        if not inputs:
            raise AttnclfError("no text to classify; pass texts as arguments, --file F or on stdin")
        classifier = load(model, device, runtime)
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
    from ..explain.explanation import explain as explain_texts
    from ..explain.explanation import (
        render_comparison_page,
        render_page,
        render_png,
        to_terminal,
        use_color,
        write_html,
    )
    from ..inference.ensemble import Ensemble, explain_ensemble, load_any
    from ..inference.scoring import explain_ensemble_test_examples, explain_test_examples

    with user_errors():
        classifier = load_any(model, device)
        columns: list[str] | None = None  # an ensemble: itself, then each member
        rows: list[list[Explanation]] = []
        if data is not None:
            source = DataConfig(data, text_column, label_column)
            if isinstance(classifier, Ensemble):
                columns, rows = explain_ensemble_test_examples(classifier, source, sample, seed)
            else:
                rows = [[e] for e in explain_test_examples(classifier, source, sample, seed)]
        else:
            inputs = read_texts(texts, file)
            if not inputs:
                raise AttnclfError(
                    "no text to explain; pass texts as arguments, --file F, --data PATH or stdin"
                )
            if isinstance(classifier, Ensemble):
                columns, rows = explain_ensemble(classifier, inputs)
            else:
                rows = [[e] for e in explain_texts(classifier, inputs)]
        explanations = [e for row in rows for e in row]
        if html is not None:
            title = f"attnclf explain: {model}"
            page = (
                render_comparison_page(rows, columns, title)
                if columns is not None
                else render_page(explanations, title)
            )
            write_html(html, page)
            typer.echo(f"wrote {html} ({len(rows)} texts)", err=True)
        if png is not None:
            render_png(explanations, png)
            typer.echo(f"wrote {png} ({len(rows)} texts)", err=True)
        if html is None and png is None:
            color = use_color(sys.stdout)
            width = shutil.get_terminal_size((100, 24)).columns
            for row in rows:
                for explanation in row:
                    typer.echo(to_terminal(explanation, color=color, width=width) + "\n")


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
    from ..data.readers import load_evaluation_examples
    from ..explain.faithfulness import (
        FAITHFULNESS_EXPLAINED,
        faithfulness_report,
        faithfulness_table,
    )
    from ..inference.classifier import load
    from ..inference.folder import ENSEMBLE, folder_kind
    from ..runtime.files import write_json

    with user_errors():
        if folder_kind(model) is ENSEMBLE:
            raise AttnclfError(
                f"{model} is an ensemble, which has no attention or gradients of its own; "
                f"measure each member: attnclf faithfulness {model}/members/NAME"
            )
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
