"""ONNX Runtime against PyTorch for inference, same models, same machine, same run.

For each model folder: export it (attnclf export), then on IMDB's test split
- batched throughput: reviews/s over the whole split in the batches `attnclf evaluate` uses
  (length-bucketed, EVAL_BATCH_SIZE), best of --repeats passes, tokenizing excluded;
- single-review latency: p50 / p95 ms per review over --latency reviews, tokenizing excluded;
- agreement: the largest |logit difference| and the share of equal labels.

    python benchmarks/onnx_vs_torch.py runs/compare/self-attention runs/compare/multihead
    python benchmarks/onnx_vs_torch.py --train --limit 2000      # trains two quick models first

A script, not a test: it prints figures and asserts nothing. Quote the CPU it printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from benchmark import (
    cpu_model,  # this folder's benchmark.py: the script's own folder is on sys.path
)

import attnclf
from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.data.splits import load_evaluation_examples
from attnclf.evaluation.metrics import EVAL_BATCH_SIZE
from attnclf.interop.onnx_export import export_folder
from attnclf.runtime.device import resolve_precision
from attnclf.text.batches import EncodedTexts, batch_order, collate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"


def batches(data: EncodedTexts) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for index in batch_order(data.lengths, EVAL_BATCH_SIZE, shuffle=False):
        batch = collate(data, index)
        out.append((batch.ids.numpy().astype(np.int64), batch.lengths.numpy().astype(np.int64)))
    return out


def throughput(run, prepared, count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for ids, lengths in prepared:
            run(ids, lengths)
        best = min(best, time.perf_counter() - start)
    return count / best


def latency(run, singles) -> dict[str, float]:
    for ids, lengths in singles[:10]:
        run(ids, lengths)
    times = []
    for ids, lengths in singles:
        start = time.perf_counter()
        run(ids, lengths)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "p50": round(float(np.percentile(times, 50)), 3),
        "p95": round(float(np.percentile(times, 95)), 3),
        "mean": round(statistics.fmean(times), 3),
    }


def bench(folder: Path, texts: list[str], repeats: int, latency_reviews: int) -> dict:
    exported = export_folder(folder)
    classifier = attnclf.load(folder, "cpu")
    model = classifier.model.eval()
    data = classifier.encode(texts)
    prepared = batches(data)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(exported.path), options, providers=["CPUExecutionProvider"])

    @torch.inference_mode()
    def torch_run(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(ids), torch.from_numpy(lengths)).logits.numpy()

    def onnx_run(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return session.run(["logits"], {"ids": ids, "lengths": lengths})[0]

    worst, same = 0.0, 0
    for ids, lengths in prepared:
        a, b = torch_run(ids, lengths), onnx_run(ids, lengths)
        worst = max(worst, float(np.abs(a - b).max()))
        same += (
            int(((a[:, 0] > 0) == (b[:, 0] > 0)).sum())
            if a.shape[1] == 1
            else int((a.argmax(1) == b.argmax(1)).sum())
        )
    singles = [
        (row[None, :].astype(np.int64), np.array([len(row)], dtype=np.int64))
        for row in classifier.encoder.encode_many(texts[:latency_reviews])
        if len(row)
    ]
    result = {}
    for name, run in (("pytorch", torch_run), ("onnxruntime", onnx_run)):
        result[name] = {
            "reviews_per_s": round(throughput(run, prepared, len(data), repeats), 1),
            "latency_ms": latency(run, singles),
        }
    result["max_logit_difference"] = worst
    result["same_label_share"] = same / len(data)
    return result


def train_quick(limit: int, out: Path) -> list[Path]:
    from attnclf.training.run import prepare_data, train_model

    data = prepare_data(DataConfig(source=str(DATA), limit=limit), TextConfig())
    folders = []
    for name in ("self-attention", "multihead"):
        print(f"training {name} on {limit} reviews ...", flush=True)
        train_model(name, data, TrainConfig(epochs=1), out / name, progress=False)
        folders.append(out / name)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="model folders")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--train", action="store_true", help="train two quick models first")
    parser.add_argument("--limit", type=int, default=None, help="test reviews (default all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=int, default=300, help="reviews for latency")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    from attnclf.runtime.heap import tune_memory_allocator

    tune_memory_allocator()
    folders = list(args.models)
    if args.train:
        folders += train_quick(args.limit or 2000, Path(tempfile.mkdtemp()))
    if not folders:
        parser.error("give model folders, or --train")
    first = attnclf.load(folders[0], "cpu")
    examples, _ = load_evaluation_examples(
        DataConfig(source=str(args.data), limit=args.limit), first.label_names
    )
    texts = [text for text in examples.texts if text.strip()]
    env = {
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "native_bf16_training": resolve_precision("auto", torch.device("cpu")) == "bf16",
        "test_reviews": len(texts),
    }
    print(json.dumps(env))
    results = {str(folder): bench(folder, texts, args.repeats, args.latency) for folder in folders}
    print(f"\n{'model':<40} {'runtime':<12} {'reviews/s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for folder, result in results.items():
        for runtime in ("pytorch", "onnxruntime"):
            r = result[runtime]
            print(
                f"{folder:<40} {runtime:<12} {r['reviews_per_s']:>10.0f} "
                f"{r['latency_ms']['p50']:>8.2f} {r['latency_ms']['p95']:>8.2f}"
            )
        print(
            f"{'':<40} max |logit diff| {result['max_logit_difference']:.1e}, same label "
            f"{result['same_label_share']:.4%}"
        )
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "models": results}, indent=2))


if __name__ == "__main__":
    main()
