"""Small and short data: how the families hold up when a user brings a few thousand short texts
instead of IMDB's 25,000 long reviews. IMDB subsets stand in for such data: N training reviews
(and N test reviews, stratified; 10% of the training part validates), each cut to its first 30
tokens (`--max-len 30 --truncation head`: about the length of a sentence-polarity sentence).
Each family trains at the defaults (2 epochs) and with more epochs (the best validation epoch
is kept, so extra epochs cost time, not accuracy), NBSVM beside every family, and the ensemble
of all of them weighed on validation. Through the library, as `attnclf compare` runs it.

    python benchmarks/small_data.py                         # 2,000 and 10,000 reviews
    python benchmarks/small_data.py --sizes 2000 --epochs 2,8

Writes small_data.json and small_data.md into --out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import cpu_isa, cpu_model  # noqa: E402

from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.runtime.files import write_json, write_text
from attnclf.training.compare import CompareSettings, compare
from attnclf.training.embeddings import Word2VecSettings

FAMILIES = ("bilstm", "self-attention", "multihead", "structured", "transformer", "nbsvm")


def run(families, data, size, epochs, max_len, word2vec=False):
    neural = [name for name in families if name != "nbsvm"]
    result = compare(
        list(families),
        DataConfig(source=data, limit=size),
        TextConfig(max_len=max_len, truncation="head"),
        TrainConfig(epochs=epochs),
        None,
        CompareSettings(
            # vectors from the training part and IMDB's 50,000 unlabelled reviews (never test)
            word2vec=Word2VecSettings() if word2vec else None,
            vector_models=neural if word2vec else (),
            ensemble=True,
            faithfulness_sample=0,
            gallery_sample=0,
        ),
        progress=False,
        log=lambda message: print(f"  [{size}, {epochs} ep] {message}", file=sys.stderr),
    )
    return {
        name: {
            "test_accuracy": m.test_accuracy,
            "train_seconds": m.train_seconds,
            "best_epoch": m.best_epoch,
        }
        for name, m in result.record.models.items()
    }


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = [
        f"CPU: {env['cpu']} ({', '.join(env['isa']) or 'no AVX2'}); IMDB subsets, first "
        f"{result['max_len']} tokens of each review"
        + ("; neural families from word2vec" if result.get("word2vec") else "")
        + "; test accuracy (train s, best epoch)",
        "",
    ]
    for size, by_epochs in result["runs"].items():
        epochs = list(by_epochs)
        lines += [
            f"**{int(size):,} training reviews** (and as many test reviews)",
            "",
            "| model | " + " | ".join(f"{e} epochs" for e in epochs) + " |",
            "|---|" + "---|" * len(epochs),
        ]
        for name in by_epochs[epochs[0]]:
            cells = []
            for e in epochs:
                m = by_epochs[e][name]
                best = f", epoch {m['best_epoch']}" if m.get("best_epoch") else ""
                cells.append(f"{m['test_accuracy'] * 100:.2f}% ({m['train_seconds']:.0f} s{best})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/aclImdb_v1.tar.gz")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--epochs", default="2,8")
    parser.add_argument("--max-len", type=int, default=30)
    parser.add_argument(
        "--word2vec",
        action="store_true",
        help="start every neural family from word2vec trained on the training part and the "
        "unlabelled reviews (as `compare --preset best` does)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/small_data"))
    args = parser.parse_args(argv)
    if not Path(args.data).exists():
        print(f"error: no IMDB archive at {args.data}; pass --data", file=sys.stderr)
        return 2
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    result: dict = {
        "environment": {"cpu": cpu_model(), "isa": cpu_isa()},
        "max_len": args.max_len,
        "word2vec": args.word2vec,
        "runs": {},
    }
    started = time.perf_counter()
    for size in (int(s) for s in args.sizes.split(",")):
        result["runs"][str(size)] = {
            str(epochs): run(families, args.data, size, epochs, args.max_len, args.word2vec)
            for epochs in (int(e) for e in args.epochs.split(","))
        }
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "small_data.json", result)
    table = markdown(result)
    write_text(args.out / "small_data.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
