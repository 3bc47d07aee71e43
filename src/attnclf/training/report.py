"""The comparison as people read it: a side-by-side table, metrics.json, report.md, curves.png
and attention.html. Everything here formats and writes what the experiment computed; nothing is
measured or predicted here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..evaluation.records import ComparisonRecord, ModelMetrics
from ..runtime.files import atomic_write, write_json, write_text

if TYPE_CHECKING:
    from ..explain.explanation import Explanation

# (title, ModelMetrics field, format)
COLUMNS = [
    ("test accuracy", "test_accuracy", "{:.4f}"),
    ("test loss", "test_loss", "{:.4f}"),
    ("F1", "f1", "{:.4f}"),
    ("ROC-AUC", "roc_auc", "{:.4f}"),
    ("params", "params", "{:,}"),
    ("train s", "train_seconds", "{:.1f}"),
    ("train samples/s", "train_samples_per_s", "{:.0f}"),
    ("inference samples/s", "infer_samples_per_s", "{:.0f}"),
    ("best epoch", "best_epoch", "{}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
]


def comparison_table(models: dict[str, ModelMetrics]) -> str:
    """A Markdown table, one row per model; it reads as well in a terminal."""
    header = ["model"] + [title for title, _, _ in COLUMNS]
    rows = [
        [name] + [_cell(getattr(metrics, key), fmt) for _, key, fmt in COLUMNS]
        for name, metrics in models.items()
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), separator, *map(line, rows)])


def _cell(value: object, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def self_training_line(taught: dict) -> str:
    """The report's line on a comparison's self-training (self_training.py)."""
    if "skipped" in taught:
        return f"- self-training: skipped ({taught['skipped']})"
    teachers = ", ".join(f"{n} {w:.3f}" for n, w in taught["teacher_weights"].items())
    return (
        f"- self-training: the teachers, weighed on validation ({teachers}; validation accuracy "
        f"{taught['teacher_validation_accuracy']:.4f}), labelled {taught['kept']:,} of "
        f"{taught['offered']:,} unlabelled texts with probability >= {taught['threshold']:g} "
        f"({taught['evaluated_dropped']:,} that are validation or test texts left out) for "
        f"{', '.join(taught['students'])} to train on beside the training split"
    )


def markdown_report(record: ComparisonRecord) -> str:
    settings, data = record.settings, record.data
    training, text = settings.training, settings.text
    lines = [
        "# attnclf compare",
        "",
        comparison_table(record.models),
        "",
        "## Settings",
        "",
        f"- models: {', '.join(settings.models)}",
        f"- epochs {training['epochs']}, batch size {training['batch_size']}, "
        f"{training.get('optimizer', 'adam').capitalize()} lr {training['lr']}, seed "
        f"{training['seed']}, device {settings.device}",
        f"- vocabulary {text['vocab_size']}, max length {text['max_len']} tokens "
        f"(truncation: {text['truncation']})",
        *(
            f"- {name} trained with {', '.join(f'{k} {v}' for k, v in own.items())} instead"
            for name, own in settings.model_training.items()
        ),
        *(
            f"- {name} read text with {', '.join(f'{k} {v}' for k, v in own.items())} instead"
            for name, own in settings.model_text.items()
            if own
        ),
        *(
            f"- {name} built with {', '.join(f'{k} {v}' for k, v in own.items())}"
            for name, own in settings.model_settings.items()
            if own
        ),
        *(
            [
                f"- word2vec: {data['word2vec']['words']:,} words from "
                f"{data['word2vec']['texts']:,} training and unlabelled texts (never validation "
                f"or test) in {data['word2vec']['seconds']:.1f} s"
            ]
            if "word2vec" in data
            else []
        ),
        *([self_training_line(data["self_training"])] if "self_training" in data else []),
        *(
            [
                "- ensemble: probabilities averaged with weights chosen on the "
                f"{record.ensemble['validation_examples']:,} validation texts: "
                + ", ".join(f"{n} {w:.3f}" for n, w in record.ensemble["weights"].items())
                + "; its row's train s is the weighing (its members trained in their rows)"
            ]
            if record.ensemble is not None
            else []
        ),
        f"- environment: {json.dumps(settings.environment)}",
        f"- wall time of the whole run: {record.wall_seconds:.1f} s",
        "",
        "## Data",
        "",
        f"- source: {data['name']} ({settings.data.get('source') or 'downloaded'})",
        f"- labels: {', '.join(data['labels'])}",
        f"- train {data['train']}, validation {data['validation']} (carved from train), "
        f"test {data['test']}",
        f"- train per label: {json.dumps(data['train_per_label'])}; "
        f"test per label: {json.dumps(data['test_per_label'])}",
        f"- mean tokens per training text after truncation: {data['mean_tokens']:.1f}",
        f"- skipped while reading: {json.dumps(data['skipped']) if data['skipped'] else 'nothing'}",
        "",
        "## Per epoch",
        "",
        "| model | epoch | train loss | train acc | val loss | val acc | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, model in record.models.items():
        for h in model.history:
            lines.append(
                f"| {name} | {h['epoch']} | {h['train_loss']:.4f} | {h['train_accuracy']:.4f} | "
                f"{h.get('val_loss', float('nan')):.4f} | {h.get('val_accuracy', float('nan')):.4f}"
                f" | {h['seconds']:.1f} |"
            )
    if record.faithfulness is not None:
        lines += ["", faithfulness_section(record.faithfulness)]
    return "\n".join(lines) + "\n"


def plot_curves(models: dict[str, ModelMetrics], path: Path) -> None:
    """Loss and accuracy per epoch, training (solid) and validation (dashed), every model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for i, (name, model) in enumerate(models.items()):
        color = f"C{i}"
        history = model.history
        epochs = [h["epoch"] for h in history]
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            ax.plot(
                epochs,
                [h[f"train_{key}"] for h in history],
                "-o",
                color=color,
                label=f"{name} train",
            )
            if all(f"val_{key}" in h for h in history):
                ax.plot(
                    epochs,
                    [h[f"val_{key}"] for h in history],
                    "--s",
                    color=color,
                    label=f"{name} validation",
                )
    for ax, title in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.set_title(f"{title} per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def faithfulness_section(reports: dict[str, dict]) -> str:
    from ..explain.faithfulness import FAITHFULNESS_EXPLAINED, faithfulness_table

    lines = ["## Faithfulness of the explanations", "", FAITHFULNESS_EXPLAINED, ""]
    for name, report in reports.items():
        lines += [f"### {name} ({report['n']} test texts)", "", faithfulness_table(report), ""]
    return "\n".join(lines)


def write_comparison(
    record: ComparisonRecord,
    out: Path,
    gallery: Sequence[Sequence[Explanation]] = (),
) -> list[str]:
    """metrics.json, report.md, curves.png and, with a gallery (one row of explanations per
    text, one per model), attention.html in `out`; the names written."""
    from ..explain.html import comparison_page
    from ..explain.shell import write_html

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", record.to_json())
    write_text(out / "report.md", markdown_report(record))
    plot_curves(record.models, out / "curves.png")
    written = ["metrics.json", "report.md", "curves.png"]
    if gallery:
        page = comparison_page(
            [list(row) for row in gallery],
            list(record.settings.models),  # the trained models; an ensemble has no attention
            "attnclf compare: the same reviews, every model",
        )
        write_html(out / "attention.html", page)
        written.append("attention.html")
    return written
