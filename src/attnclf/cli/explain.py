"""`attnclf explain | faithfulness`: show a saved model's attention on every word (terminal, HTML
or PNG), or measure how faithful each kind of explanation is. Each command parses its options,
calls one library function and prints; user mistakes come out as one `error:` line and exit
status 2, never a traceback."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import DataConfig
from ..errors import AttnclfError
from .common import (
    DataOpt,
    DeviceOpt,
    FileOpt,
    LabelColOpt,
    ModelArg,
    TextColOpt,
    read_texts,
    user_errors,
)

if TYPE_CHECKING:
    from ..explain.explanation import Explanation

# no weights are initialised here: the seed splits --data as train did and draws the sample
SampleSeedOpt = Annotated[
    int, typer.Option(help="Seed for the split of --data and the test texts drawn from it.")
]


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
    seed: SampleSeedOpt = 0,
    device: DeviceOpt = "auto",
) -> None:
    """Show the attention on every word: coloured in the terminal, or as HTML or PNG."""
    from ..explain.ensemble import explain_ensemble
    from ..explain.explanation import explain as explain_texts
    from ..explain.gallery import explain_ensemble_test_examples, explain_test_examples
    from ..explain.html import comparison_page, explanations_page
    from ..explain.png import render_png
    from ..explain.shell import write_html
    from ..explain.terminal import to_terminal, use_color
    from ..inference.ensemble import Ensemble
    from ..inference.loading import load_any
    from ..runtime.files import check_writable

    with user_errors():
        for target, option in ((html, "--html"), (png, "--png")):
            if target is not None:
                check_writable(target, option, folder=False)
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
                comparison_page(rows, columns, title)
                if columns is not None
                else explanations_page(explanations, title)
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
    seed: SampleSeedOpt = 0,
    device: DeviceOpt = "auto",
) -> None:
    """How faithful is each explanation: ERASER comprehensiveness and sufficiency of attention,
    gradient x input, integrated gradients and random, and their rank agreement."""
    from ..data.splits import load_evaluation_examples
    from ..explain.faithfulness import (
        FAITHFULNESS_EXPLAINED,
        faithfulness_report,
        faithfulness_table,
    )
    from ..inference.classifier import TextClassifier
    from ..inference.folder import ENSEMBLE, folder_kind
    from ..inference.scoring import trained_split
    from ..runtime.files import check_writable, write_json

    with user_errors():
        if out is not None:
            check_writable(out, "--out", folder=False)
        if folder_kind(model) is ENSEMBLE:
            raise AttnclfError(
                f"{model} is an ensemble, which has no attention or gradients of its own; "
                f"measure each member: attnclf faithfulness {model}/members/NAME"
            )
        classifier = TextClassifier.load(model, device)
        examples, name = load_evaluation_examples(
            DataConfig(data, text_column, label_column, limit=sample, seed=seed),
            classifier.label_names,
            trained_split(classifier.metadata),
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
