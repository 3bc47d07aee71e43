"""The comparison as people read it: a side-by-side table, report.md and curves.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .files import atomic_write, write_json, write_text

if TYPE_CHECKING:
    from .experiment import Comparison

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


def comparison_table(models: dict[str, dict]) -> str:
    """A Markdown table, one row per model; it reads as well in a terminal."""
    header = ["model"] + [title for title, _, _ in COLUMNS]
    rows = [
        [name] + [fmt.format(record[key]) if key in record else "-" for _, key, fmt in COLUMNS]
        for name, record in models.items()
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), separator, *map(line, rows)])


def markdown_report(record: dict) -> str:
    settings, data = record["settings"], record["data"]
    training, text = settings["training"], settings["text"]
    lines = [
        "# attnclf compare",
        "",
        comparison_table(record["models"]),
        "",
        "## Settings",
        "",
        f"- models: {', '.join(settings['models'])}",
        f"- epochs {training['epochs']}, batch size {training['batch_size']}, Adam lr "
        f"{training['lr']}, seed {training['seed']}, device {settings['device']}",
        f"- vocabulary {text['vocab_size']}, max length {text['max_len']} tokens "
        f"(truncation: {text['truncation']})",
        f"- environment: {json.dumps(settings['environment'])}",
        f"- wall time of the whole run: {record['wall_seconds']:.1f} s",
        "",
        "## Data",
        "",
        f"- source: {data['name']} ({settings['data'].get('source') or 'downloaded'})",
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
    for name, model in record["models"].items():
        for h in model["history"]:
            lines.append(
                f"| {name} | {h['epoch']} | {h['train_loss']:.4f} | {h['train_accuracy']:.4f} | "
                f"{h.get('val_loss', float('nan')):.4f} | {h.get('val_accuracy', float('nan')):.4f}"
                f" | {h['seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def plot_curves(models: dict[str, dict], path: Path) -> None:
    """Loss and accuracy per epoch, training (solid) and validation (dashed), every model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for i, (name, model) in enumerate(models.items()):
        color = f"C{i}"
        epochs = [h["epoch"] for h in model["history"]]
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            ax.plot(
                epochs,
                [h[f"train_{key}"] for h in model["history"]],
                "-o",
                color=color,
                label=f"{name} train",
            )
            if all(f"val_{key}" in h for h in model["history"]):
                ax.plot(
                    epochs,
                    [h[f"val_{key}"] for h in model["history"]],
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


GALLERY_CANDIDATES = 2_000


def attention_comparison_page(comparison: Comparison, sample: int = 12, seed: int = 0) -> str:
    """The same test reviews under every compared model, side by side; the reviews are chosen
    by the first model's answers, spread over right and wrong, confident and unsure."""
    from .evaluate import EVAL_BATCH_SIZE, predict_logits, probabilities
    from .explain import explain, render_comparison_page, sample_for_gallery

    label_names = comparison.data.dataset.label_names
    texts = comparison.data.dataset.test.texts
    # Chosen among a seeded sample of candidates: each of the four groups has plenty of members
    # there, and predicting all of IMDB's 25,000 test reviews again took ~7 s.
    candidates = np.sort(
        np.random.default_rng(seed).permutation(len(texts))[:GALLERY_CANDIDATES]
    )  # (n,)
    test = comparison.data.test.select(candidates)
    first = next(iter(comparison.classifiers.values()))
    probs = probabilities(
        predict_logits(first.model, test, EVAL_BATCH_SIZE, first.device)
    )  # (n, K)
    p_true = probs[np.arange(len(test)), test.labels]
    chosen = [
        int(candidates[i])
        for i in sample_for_gallery(p_true, probs.argmax(1) == test.labels, sample, seed)
        if texts[candidates[i]].strip()
    ]
    truths = [label_names[comparison.data.test.labels[i]] for i in chosen]
    columns = [
        explain(classifier, [texts[i] for i in chosen], truths)
        for classifier in comparison.classifiers.values()
    ]
    rows = [list(row) for row in zip(*columns, strict=True)]
    return render_comparison_page(
        rows, list(comparison.classifiers), "attnclf compare: the same reviews, every model"
    )


def measure_faithfulness(comparison: Comparison, sample: int, log=print) -> dict[str, dict]:
    """The faithfulness report of every model on the same `sample` test texts."""
    from .faithfulness import faithfulness_report

    texts = comparison.data.dataset.test.texts
    chosen = np.random.default_rng(0).permutation(len(texts))[:sample]
    chosen = [int(i) for i in np.sort(chosen) if texts[i].strip()]
    reports = {}
    for name, classifier in comparison.classifiers.items():
        log(f"faithfulness of {name} on {len(chosen)} test texts")
        reports[name] = faithfulness_report(classifier, [texts[i] for i in chosen])
    return reports


def faithfulness_section(reports: dict[str, dict]) -> str:
    from .faithfulness import FAITHFULNESS_EXPLAINED, faithfulness_table

    lines = ["## Faithfulness of the explanations", "", FAITHFULNESS_EXPLAINED, ""]
    for name, report in reports.items():
        lines += [f"### {name} ({report['n']} test texts)", "", faithfulness_table(report), ""]
    return "\n".join(lines)


def write_comparison(
    comparison: Comparison, out: Path, faithfulness_sample: int = 0, log=print
) -> list[str]:
    """metrics.json, report.md, curves.png and attention.html in `out`; the names written."""
    from .explain import write_html

    record = comparison.record
    out.mkdir(parents=True, exist_ok=True)
    if faithfulness_sample and len(comparison.data.test):
        record["faithfulness"] = measure_faithfulness(comparison, faithfulness_sample, log)
    write_json(out / "metrics.json", record)
    report = markdown_report(record)
    if "faithfulness" in record:
        report += "\n" + faithfulness_section(record["faithfulness"])
    write_text(out / "report.md", report)
    plot_curves(record["models"], out / "curves.png")
    written = ["metrics.json", "report.md", "curves.png"]
    if len(comparison.data.test):
        write_html(out / "attention.html", attention_comparison_page(comparison))
        written.append("attention.html")
    return written
