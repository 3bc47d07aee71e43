"""The tutorial's claim, tested: does attention help the encoder-decoder, and where?

Trains the same Bahdanau encoder-decoder twice per task, with additive attention and with none
(the decoder sees one fixed-length vector, the encoder's final states), on the same pairs with
the same seed, and scores held-out pairs by source length:

- dates:   generated human-readable dates -> ISO (attnclf seq2seq train --task dates defaults);
           sources are 6-37 characters.
- reverse: random lower-case strings of 4-60 letters -> the same string reversed; long
           sources, where a fixed-length vector has to hold every letter at once.

Writes into --out: seq2seq_attention_vs_none.json (every figure and setting),
seq2seq_attention_vs_none.md (a table per task) and seq2seq_attention_vs_none.png (exact match
by source length). Run on one core with one thread, as the README's figures were:

    taskset -c 1 env OMP_NUM_THREADS=1 python benchmarks/seq2seq_attention_vs_none.py
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import string
import time
from pathlib import Path

import torch

from attnclf.runtime.files import atomic_write, write_json, write_text
from attnclf.seq2seq.data import dates_data, held_out_dates, prepare_pairs
from attnclf.seq2seq.evaluate import accuracy_by_length, evaluate_pairs, token_matches
from attnclf.seq2seq.model import Seq2SeqConfig
from attnclf.seq2seq.train import Seq2SeqTrainConfig, train_translator

KINDS = ("additive", "none")
NAME = "seq2seq_attention_vs_none"


def reverse_pairs(count: int, seed: int, shortest: int = 4, longest: int = 60):
    rng = random.Random(f"reverse-{seed}")
    pairs = []
    for _ in range(count):
        text = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(shortest, longest)))
        pairs.append((text, text[::-1]))
    return pairs


def task_data(task: str, args: argparse.Namespace):
    """(training data, test pairs, source-length bin edges) for `task`."""
    if task == "dates":
        data = dates_data(args.dates_train_size, args.validation_size, seed=args.seed)
        test = held_out_dates(args.test_size, data.description)
        return data, test, list(range(5, 45, 5))
    if task == "reverse":
        train = reverse_pairs(args.reverse_train_size, seed=args.seed)
        validation = reverse_pairs(args.validation_size, seed=args.seed + 1000)
        test = reverse_pairs(args.test_size, seed=args.seed + 2000)
        data = prepare_pairs(train, validation, "char", description={"task": "reverse"})
        return data, test, list(range(0, 71, 10))
    raise SystemExit(f"unknown task {task!r}; use dates, reverse")


def run_task(task: str, args: argparse.Namespace) -> dict:
    data, test, edges = task_data(task, args)
    epochs = args.dates_epochs if task == "dates" else args.reverse_epochs
    record: dict = {"test_pairs": len(test), "epochs": epochs, "models": {}}
    record["train_pairs"] = len(data.train)
    for kind in KINDS:
        model_config = Seq2SeqConfig(
            embedding_dim=args.embedding,
            hidden_size=args.hidden,
            decoder_size=2 * args.hidden,
            attention_size=args.hidden,
            attention=kind,  # type: ignore[arg-type]
        )
        train_config = Seq2SeqTrainConfig(epochs=epochs, seed=args.seed, device=args.device)
        print(f"{task}, attention {kind}: training on {len(data.train)} pairs", flush=True)
        translator, result = train_translator(
            data, model_config, train_config, progress=False, log=print
        )
        metrics, translations = evaluate_pairs(translator, test)
        lengths = [len(t.source_tokens) for t in translations]
        references = [translator.tokenize(target) for _, target in test]
        outputs = [t.output_tokens for t in translations]
        correct = [o == r for o, r in zip(outputs, references, strict=True)]
        matches = [token_matches(o, r) for o, r in zip(outputs, references, strict=True)]
        rows = accuracy_by_length(lengths, correct, edges, matches)
        record["models"][kind] = {
            "train_seconds": round(result.train_seconds, 1),
            "best_epoch": result.best_epoch,
            "history": result.history,
            "parameters": sum(p.numel() for p in translator.model.parameters()),
            "test": {k: metrics[k] for k in ("exact_match", "token_accuracy", "bleu")},
            "by_length": rows,
        }
        print(
            f"{task}, attention {kind}: test exact match {metrics['exact_match']:.4f}, token "
            f"accuracy {metrics['token_accuracy']:.4f} after {result.train_seconds:.0f} s",
            flush=True,
        )
    return record


def markdown(results: dict) -> str:
    lines = []
    for task, record in results["tasks"].items():
        models = record["models"]
        lines += [
            f"### {task} ({record['train_pairs']} training pairs, {record['epochs']} epochs, "
            f"{record['test_pairs']} test pairs)",
            "",
            "| source length | pairs | exact match, attention | exact match, none "
            "| token accuracy, attention | token accuracy, none |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for with_attention, without in zip(
            models["additive"]["by_length"], models["none"]["by_length"], strict=True
        ):
            lines.append(
                f"| {with_attention['lengths']} | {with_attention['examples']} "
                f"| {with_attention['exact_match']:.3f} | {without['exact_match']:.3f} "
                f"| {with_attention['token_accuracy']:.3f} | {without['token_accuracy']:.3f} |"
            )
        a, n = models["additive"], models["none"]
        lines += [
            f"| all | {record['test_pairs']} | {a['test']['exact_match']:.4f} "
            f"| {n['test']['exact_match']:.4f} | {a['test']['token_accuracy']:.4f} "
            f"| {n['test']['token_accuracy']:.4f} |",
            "",
            f"Training time: {a['train_seconds']:.0f} s with attention, {n['train_seconds']:.0f} s "
            "without. Validation exact match after each epoch:",
            "",
            f"- attention: {_by_epoch(a)}",
            f"- none: {_by_epoch(n)}",
            "",
        ]
    return "\n".join(lines)


def _by_epoch(model: dict) -> str:
    return ", ".join(f"{r['validation_exact_match']:.3f}" for r in model["history"])


def plot(results: dict, path: Path) -> None:
    """Top: held-out exact match by source length. Bottom: validation exact match by epoch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tasks = results["tasks"]
    fig = Figure(figsize=(4.8 * len(tasks), 6.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(tasks), squeeze=False)
    styles = {"additive": ("#b33000", "o", "additive attention"), "none": ("#57606a", "s", "none")}
    for column, (task, record) in enumerate(tasks.items()):
        by_length, by_epoch = axes[0, column], axes[1, column]
        for kind, (color, marker, label) in styles.items():
            model = record["models"][kind]
            rows = model["by_length"]
            centres = [(row["low"] + row["high"]) / 2 for row in rows]
            exact = [row["exact_match"] for row in rows]
            by_length.plot(centres, exact, color=color, marker=marker, label=label)
            epochs = [r["epoch"] for r in model["history"]]
            scores = [r["validation_exact_match"] for r in model["history"]]
            by_epoch.plot(epochs, scores, color=color, marker=marker, label=label)
        by_length.set_title(f"{task}: {record['test_pairs']} held-out pairs", fontsize=10)
        by_length.set_xlabel("source length (characters)")
        by_epoch.set_title(f"{task}: validation after each epoch", fontsize=10)
        by_epoch.set_xlabel("epoch")
        for ax in (by_length, by_epoch):
            ax.set_ylabel("exact match")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(color="#eaeef2")
            ax.legend(fontsize=8, loc="lower left")
    fig.set_layout_engine("constrained")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/seq2seq"), help="Output folder.")
    parser.add_argument("--tasks", default="dates,reverse", help="Comma-separated tasks.")
    parser.add_argument("--dates-train-size", type=int, default=30_000)
    parser.add_argument("--dates-epochs", type=int, default=8)
    parser.add_argument("--reverse-train-size", type=int, default=30_000)
    parser.add_argument("--reverse-epochs", type=int, default=8)
    parser.add_argument("--validation-size", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=64, help="Encoder width per direction.")
    parser.add_argument("--embedding", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--from-json", type=Path, help="Only redraw the table and plot from this results file."
    )
    args = parser.parse_args()
    if args.from_json is not None:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
        return write_results(results, args.out)
    started = time.perf_counter()
    results = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(),
        },
        "tasks": {},
    }
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        results["tasks"][task] = run_task(task, args)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_results(results, args.out)


def write_results(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{NAME}.json", results)
    table = markdown(results)
    write_text(out / f"{NAME}.md", table)
    plot(results, out / f"{NAME}.png")
    print("\n" + table)
    print(f"wrote {NAME}.json, .md and .png into {out} ({results['wall_seconds']:.0f} s of runs)")


if __name__ == "__main__":
    main()
