"""The tutorial's claim, tested on IMDB: does attention raise accuracy? Every family side by side,
at the tutorial's settings (2 epochs, vocabulary 10,000, 200 tokens, random embeddings) over
several seeds, and at its best settings (word2vec on the training and unlabelled reviews, 800
tokens and a vocabulary of 50,000 for the neural families, 3 epochs; NBSVM on whole reviews)
with one seed. Each seed is one `compare` run (the seed draws the split and the initial
weights), through the library, as `attnclf compare` runs it.

Per family: test accuracy (mean and spread over the seeds), training seconds, inference
reviews/s, parameters and the faithfulness AOPC (comprehensiveness and sufficiency of the
attention weights; of word-attention's signed attention, the bilstm's gradient x input or
NBSVM's token scores; and of integrated gradients on the same model, on `--faithfulness-sample`
test reviews of every seed, mean ± sd over the seeds), with the CPU it ran on. Writes
attention_helps.json and attention_helps.md into --out.

    python benchmarks/attention_helps.py                       # everything (over an hour)
    python benchmarks/attention_helps.py --seeds 0 --skip-best # one seed, tutorial settings
    python benchmarks/attention_helps.py --save-best runs/best-families  # keep those models
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import cpu_isa, cpu_model  # noqa: E402

from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.runtime.files import write_json, write_text
from attnclf.training.compare import CompareSettings, compare
from attnclf.training.embeddings import Word2VecSettings
from attnclf.training.presets import BEST_NBSVM_TEXT, BEST_NEURAL_TEXT, BEST_NEURAL_TRAINING

FAMILIES = (
    "bilstm",
    "self-attention",
    "multihead",
    "structured",
    "transformer",
    "word-attention",
    "nbsvm",
)
ATTENTION = {"self-attention", "multihead", "structured", "transformer", "word-attention"}
WITHOUT_VECTORS = {"nbsvm"}  # a linear model on n-grams: no embedding layer


def faithfulness_of(report: dict | None) -> dict:
    """AOPC of the family's attention weights; of its signed attention (word-attention), or,
    for a family without attention, of gradient x input (which on NBSVM's binary presence
    features is its token score); and of integrated gradients on the same model, the
    yardstick."""
    if not report:
        return {}
    methods = report.get("methods", {})
    found: dict = {}
    kinds = {
        "attention": "attention",
        "signed_attention": "signed",
        "integrated_gradients": "ig",
    }
    if "attention" not in methods:
        kinds["gradient_x_input"] = "signed"
    for method, key in kinds.items():
        if method in methods:
            found[f"{key}_comprehensiveness"] = methods[method]["aopc_comprehensiveness"]
            found[f"{key}_sufficiency"] = methods[method]["aopc_sufficiency"]
            if key == "signed":
                found["signed_method"] = method
    return found


def run(families, data, seed, text=None, training=None, word2vec=None, faithfulness=200, out=None):
    """One compare run; per family its figures. `out`: keep the run's model folders there."""
    neural = [f for f in families if f not in WITHOUT_VECTORS]
    result = compare(
        list(families),
        DataConfig(source=data, seed=seed),
        TextConfig(),
        TrainConfig(seed=seed),
        out,
        CompareSettings(
            model_training=training or {},
            model_text=text or {},
            word2vec=word2vec,
            vector_models=neural if word2vec is not None else (),
            faithfulness_sample=faithfulness,
            gallery_sample=0,
        ),
        progress=False,
        log=lambda message: print(f"  [{seed}] {message}", file=sys.stderr, flush=True),
    )
    record = result.record
    faith = record.faithfulness or {}
    return {
        name: {
            "test_accuracy": metrics.test_accuracy,
            "train_seconds": metrics.train_seconds,
            "infer_samples_per_s": metrics.infer_samples_per_s,
            "params": metrics.params,
            "peak_rss_mb": metrics.peak_rss_mb,
            **faithfulness_of(faith.get(name)),
        }
        for name, metrics in record.models.items()
    }, record.wall_seconds


def aopc_cell(runs: list[dict], comprehensiveness: str, sufficiency: str) -> str:
    """ "compr. / suff." as mean ± sd over the seeds that measured them; "-" where none did."""
    measured = [r for r in runs if comprehensiveness in r]
    if not measured:
        return "-"

    def spread(key: str) -> str:
        values = [r[key] for r in measured]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3f} ± {sd:.3f}"

    return f"{spread(comprehensiveness)} / {spread(sufficiency)}"


def markdown(result: dict) -> str:
    env = result["environment"]
    seeds = result["seeds"]
    lines = [
        f"CPU: {env['cpu']} ({', '.join(env['isa']) or 'no AVX2'}), {env['threads']} threads; "
        f"tutorial settings over seeds {', '.join(map(str, seeds))}; best settings seed 0.",
        "",
        "| family | attention | tutorial: test acc (mean ± sd) | train s | reviews/s | params "
        "| attention weights: AOPC compr. / suff. | signed attention or token scores: compr. / "
        "suff. | integrated gradients: compr. / suff. | best: test acc | train s | reviews/s "
        "| params |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    named = {"gradient_x_input": "gradient x input", "signed_attention": "signed attention"}
    for family in result["families"]:
        runs = [result["tutorial"][str(s)][family] for s in seeds]
        accuracy = [r["test_accuracy"] * 100 for r in runs]
        spread = statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0
        first = runs[0]
        weights = aopc_cell(runs, "attention_comprehensiveness", "attention_sufficiency")
        signed = aopc_cell(runs, "signed_comprehensiveness", "signed_sufficiency")
        if "signed_method" in first:
            what = named[first["signed_method"]]
            signed += f" ({'token scores' if family == 'nbsvm' else what})"
        gradients = aopc_cell(runs, "ig_comprehensiveness", "ig_sufficiency")
        best = result.get("best", {}).get(family)
        best_cells = (
            [
                f"{best['test_accuracy'] * 100:.2f}%",
                f"{best['train_seconds']:.0f}",
                f"{best['infer_samples_per_s']:.0f}",
                f"{best['params']:,}",
            ]
            if best
            else ["-"] * 4
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    family,
                    "yes" if family in ATTENTION else "no",
                    f"{statistics.mean(accuracy):.2f}% ± {spread:.2f}",
                    f"{statistics.mean(r['train_seconds'] for r in runs):.0f}",
                    f"{statistics.mean(r['infer_samples_per_s'] for r in runs):.0f}",
                    f"{first['params']:,}",
                    weights,
                    signed,
                    gradients,
                    *best_cells,
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/aclImdb_v1.tar.gz")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--skip-best", action="store_true", help="Only the tutorial settings.")
    parser.add_argument(
        "--faithfulness-sample",
        type=int,
        default=200,
        help="Test reviews the faithfulness is measured on, for every seed (0: none).",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/attention_helps"))
    parser.add_argument(
        "--save-best",
        type=Path,
        help="Also save the best-settings run (its model folders, report) here, for example "
        "to try them together with `attnclf ensemble`.",
    )
    args = parser.parse_args(argv)
    if not Path(args.data).exists():
        print(f"error: no IMDB archive at {args.data}; pass --data", file=sys.stderr)
        return 2
    import torch

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    result: dict = {
        "environment": {
            "cpu": cpu_model(),
            "isa": cpu_isa(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "families": families,
        "seeds": seeds,
        "tutorial": {},
    }
    started = time.perf_counter()
    for seed in seeds:
        figures, wall = run(families, args.data, seed, faithfulness=args.faithfulness_sample)
        result["tutorial"][str(seed)] = figures
        print(f"seed {seed}: {wall:.0f} s", file=sys.stderr, flush=True)
    if not args.skip_best:
        neural = [f for f in families if f not in WITHOUT_VECTORS]
        text = {"nbsvm": BEST_NBSVM_TEXT, **{f: BEST_NEURAL_TEXT for f in neural}}
        training = {f: BEST_NEURAL_TRAINING for f in neural}
        figures, wall = run(
            families, args.data, 0, text, training, Word2VecSettings(), out=args.save_best
        )
        result["best"] = figures
        print(f"best settings: {wall:.0f} s", file=sys.stderr, flush=True)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "attention_helps.json", result)
    table = markdown(result)
    write_text(args.out / "attention_helps.md", table)
    print(table)
    print(json.dumps({"wall_seconds": result["wall_seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
