"""`attnclf evaluate | predict`: score a saved model on a test split, or label texts (or every
row of a file) with it. Each command parses its options, calls one library function and prints;
user mistakes come out as one `error:` line and exit status 2, never a traceback."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..config import DataConfig
from ..errors import AttnclfError
from .common import (
    DataOpt,
    DeviceOpt,
    FileOpt,
    LabelColOpt,
    LimitOpt,
    ModelArg,
    QuietOpt,
    RuntimeOpt,
    TextColOpt,
    read_texts,
    user_errors,
)

if TYPE_CHECKING:
    from ..inference.classifier import TextScorer


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
    from ..inference.loading import load_any as load

    with user_errors():
        if data is not None or out is not None:
            if data is None or out is None:
                raise AttnclfError("--data and --out go together: --data FILE --out FILE")
            if texts or file is not None:
                raise AttnclfError("give texts (or --file), or --data FILE, not both")
            from tqdm import tqdm

            from ..inference.batch_files import predict_file
            from ..runtime.files import check_writable

            check_writable(out, "--out", folder=False)  # now, not after every row is classified
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
        _print_predictions(load(model, device, runtime), inputs, json_output, attention)


NO_WORDS = "no words to classify"


def _print_predictions(
    classifier: TextScorer, inputs: list[str], json_output: bool, attention: bool
) -> None:
    """One row per text, in order: a text with no words gets a row without a label that says
    so (`TextClassifier.predict` refuses the whole batch), and stderr counts them."""
    from ..inference.classifier import prediction_of

    scored = classifier.infer(inputs)
    missing = [number for number, found in enumerate(scored, start=1) if found is None]
    if len(missing) == len(inputs):
        raise AttnclfError(
            f"{NO_WORDS} in any of the {len(inputs)} texts (the first: {inputs[0]!r}); a "
            "text needs at least one word"
        )
    for text, found in zip(inputs, scored, strict=True):
        if json_output:
            row = (
                prediction_of(text, found, classifier.label_names).to_dict(attention)
                if found is not None
                else _unclassified(text, attention)
            )
            typer.echo(_json_line(row))
        elif found is not None:
            prediction = prediction_of(text, found, classifier.label_names)
            note = " (truncated)" if prediction.truncated else ""
            typer.echo(f"{prediction.label}\t{prediction.probability:.4f}\t{_shown(text)}{note}")
        else:
            typer.echo(f"\t\t{_shown(text)} ({NO_WORDS})")
    if missing:
        listed = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        typer.echo(
            f"{len(missing)} of {len(inputs)} texts have {NO_WORDS} and no label: "
            f"text{'s' if len(missing) > 1 else ''} {listed}",
            err=True,
        )


def _unclassified(text: str, with_attention: bool) -> dict[str, Any]:
    """The JSON row of a text with no words: a prediction's keys, empty, and why."""
    row: dict[str, Any] = {
        "text": text,
        "label": None,
        "probability": None,
        "probabilities": None,
        "truncated": False,
    }
    if with_attention:
        row["tokens"] = []
        row |= dict.fromkeys(("attention", "head_attention", "token_attention", "token_scores"))
    return row | {"error": NO_WORDS}


# Line breaks to str.splitlines (and to JavaScript before ES2019) that JSON leaves unescaped.
_JSON_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
# Every character str.splitlines ends a line at: a row of the table is one line.
_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def _json_line(row: dict[str, Any]) -> str:
    """One JSON object on one line, however the line is split: N texts in, N lines out."""
    return json.dumps(row, ensure_ascii=False).translate(_JSON_BREAKS)


def _shown(text: str) -> str:
    text = _BREAKS.sub(" ", text)
    return text if len(text) <= 70 else text[:67] + "..."
