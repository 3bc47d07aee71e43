"""Which coefficient for the structured model's redundancy penalty (Lin et al. 2017)? Trains
the `structured` family with each coefficient of --penalties side by side in one `compare` run
per seed (same split, same data, the tutorial's settings: 2 epochs, vocabulary 10,000, 200
tokens, random embeddings) and prints test accuracy per coefficient, mean and spread over the
seeds, with how far apart the hops look at the end: the mean ||A A^T - I||_F^2 of the trained
model on 2,000 test reviews (0 when the r hops attend to r disjoint single tokens).

    python benchmarks/structured_penalty.py                       # 0, 0.1, 1 over seeds 0-2
    python benchmarks/structured_penalty.py --penalties 0,1 --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import cpu_isa, cpu_model  # noqa: E402

from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.models.families.structured import redundancy_penalty
from attnclf.text.batches import iterate_batches
from attnclf.training.compare import CompareSettings, compare


def name_of(penalty: float) -> str:
    return f"structured-penalty-{penalty:g}"


@torch.inference_mode()
def mean_redundancy(model: torch.nn.Module, data, sample: int = 2_000) -> float:
    """Mean ||A A^T - I||_F^2 over the first `sample` texts of `data`."""
    model.eval()
    total, count = 0.0, 0
    for batch in iterate_batches(data, 256):
        if count >= sample:
            break
        hops = model(batch.ids, batch.lengths).head_attention  # (B, r, T)
        total += float(redundancy_penalty(hops.float()).sum())
        count += len(batch.lengths)
    return total / max(count, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/aclImdb_v1.tar.gz")
    parser.add_argument("--penalties", default="0,0.1,1", help="coefficients, comma-separated")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    penalties = [float(p) for p in args.penalties.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [name_of(p) for p in penalties]
    print(f"CPU: {cpu_model()} ({', '.join(cpu_isa())}), {torch.get_num_threads()} threads")
    start = time.perf_counter()
    accuracy: dict[float, list[float]] = {p: [] for p in penalties}
    redundancy: dict[float, list[float]] = {p: [] for p in penalties}
    seconds: dict[float, list[float]] = {p: [] for p in penalties}
    for seed in seeds:
        result = compare(
            names,
            DataConfig(source=args.data, seed=seed),
            TextConfig(),
            TrainConfig(seed=seed),
            None,
            CompareSettings(
                model_settings={name_of(p): {"penalty": p} for p in penalties},
                model_families={name: "structured" for name in names},
                gallery_sample=0,
            ),
            progress=False,
            log=lambda message, seed=seed: print(f"  [{seed}] {message}", file=sys.stderr),
        )
        for penalty in penalties:
            metrics = result.record.models[name_of(penalty)]
            model = result.classifiers[name_of(penalty)].model
            accuracy[penalty].append(metrics.test_accuracy * 100)
            seconds[penalty].append(metrics.train_seconds)
            redundancy[penalty].append(mean_redundancy(model, result.data.test))
            print(
                f"seed {seed} penalty {penalty:g}: test {accuracy[penalty][-1]:.2f}%, "
                f"||AA^T - I||^2 {redundancy[penalty][-1]:.2f}, train {seconds[penalty][-1]:.0f} s",
                flush=True,
            )
    print(f"\n{time.perf_counter() - start:.0f} s in all\n")
    print("| penalty | test accuracy (mean ± sd) | per seed | ||AA^T - I||^2 on test | train s |")
    print("| --- | --- | --- | --- | --- |")
    for penalty in penalties:
        values = accuracy[penalty]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"| {penalty:g} | {statistics.mean(values):.2f}% ± {spread:.2f} | "
            + " / ".join(f"{v:.2f}" for v in values)
            + f" | {statistics.mean(redundancy[penalty]):.2f} | "
            f"{statistics.mean(seconds[penalty]):.0f} |"
        )


if __name__ == "__main__":
    main()
