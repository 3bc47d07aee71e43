"""One training process against several under torchrun, same command, same machine, one run.

    python benchmarks/processes.py --limit 10000 --processes 1 2 --precision fp32 auto

Runs `attnclf train` (self-attention by default) once per process count and precision, one at
a time, and prints the training samples/s (all ranks together), the test accuracy and the wall
time, as each model folder's config.json records them. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark import cpu_model  # this folder's benchmark.py

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"


def run(processes: int, precision: str, args: argparse.Namespace, out: Path) -> dict:
    train = [
        "-m", "attnclf", "train", "--model", args.model, "--data", str(args.data),
        "--epochs", str(args.epochs), "--precision", precision, "--out", str(out), "--quiet",
    ]  # fmt: skip
    if args.limit:
        train += ["--limit", str(args.limit)]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
        launcher += [str(processes)]
    start = time.perf_counter()
    done = subprocess.run(launcher + train, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    metrics = json.loads((out / "config.json").read_text())["metrics"]
    return {
        "processes": processes,
        "precision": metrics["train_arithmetic"],
        "train_samples_per_s": metrics["train_samples_per_s"],
        "test_accuracy": metrics["test_accuracy"],
        "wall_seconds": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", default="self-attention")
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--precision", nargs="+", default=["fp32", "auto"])
    args = parser.parse_args()
    print(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count(), "model": args.model}))
    print(f"{'processes':>9} {'arithmetic':>10} {'samples/s':>10} {'test acc':>9} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for precision in args.precision:
            for processes in args.processes:
                out = Path(scratch) / f"{precision}-{processes}"
                r = run(processes, precision, args, out)
                print(
                    f"{r['processes']:>9} {r['precision']:>10} {r['train_samples_per_s']:>10.0f} "
                    f"{r['test_accuracy']:>9.4f} {r['wall_seconds']:>7.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
