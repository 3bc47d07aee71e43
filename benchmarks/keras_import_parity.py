"""Does a Keras model brought over by `attnclf import-keras` predict what Keras predicted?

Takes the models that `benchmarks/benchmark.py --keras --keras-save DIR` saved (the tutorial
anchor's keras_seed.py, trained on the anchor's prepare.py data), rebuilds prepare.py's word
index from the archive (its token pattern, its ranks by training-split frequency), imports each
.h5 with that index, reads IMDB's 25,000 raw test reviews, and prints per model how many get the
same label as Keras and the largest probability difference.

    python benchmarks/keras_import_parity.py DIR [--data PATH/aclImdb_v1.tar.gz] [--npz FILE]

With --npz (prepare.py's output), the ids attnclf reads are also checked against Keras' arrays.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from attnclf import load
from attnclf.data.imdb import read_imdb_archive
from attnclf.interop.keras_import import import_keras

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "aclImdb_v1.tar.gz"
TOKEN = r"[a-z0-9']+"  # prepare.py's pattern, on lower-cased text with "<br />" as a space
VOCAB, MAXLEN = 10_000, 200


def prepare_word_index(train_texts: list[str]) -> dict[str, int]:
    """prepare.py's index as 1-based ranks (its ids are rank + 2: pad 0, start 1, oov 2)."""
    token = re.compile(TOKEN)
    counts = Counter(
        w for text in train_texts for w in token.findall(text.lower().replace("<br />", " "))
    )
    return {word: rank + 1 for rank, (word, _) in enumerate(counts.most_common(VOCAB - 3))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("saved", type=Path, help="the folder --keras-save wrote")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--npz", type=Path, default=None)
    args = parser.parse_args(argv)
    train, test = read_imdb_archive(args.data.resolve())
    # prepare.py shuffles each split with one generator, train first
    rng = np.random.default_rng(0)
    rng.permutation(len(train.texts))
    order = rng.permutation(len(test.texts))
    texts = [test.texts[i] for i in order]
    work = Path(tempfile.mkdtemp(prefix="attnclf-parity-"))
    index = work / "word_index.json"
    index.write_text(json.dumps(prepare_word_index(train.texts)))
    found = False
    for h5 in sorted(args.saved.glob("*.h5")):
        name = h5.stem
        keras = np.load(args.saved / f"{name}-test-probabilities.npy")
        if len(keras) != len(texts):
            print(f"{name}: Keras predicted {len(keras)} reviews, not the {len(texts)} of the test "
                  "split (a --limit run?); skipped")
            continue
        found = True
        out = work / name
        import_keras(
            h5, out, word_index=index, padding="post", truncating="post", index_from=2,
            token_pattern=TOKEN, labels=["negative", "positive"],
        )  # fmt: skip
        classifier = load(out, device="cpu")
        start = time.perf_counter()
        ours = np.array([s.probabilities[1] for s in classifier.infer(texts)])
        seconds = time.perf_counter() - start
        same = (ours > 0.5) == (keras > 0.5)
        line = (
            f"{name}: same label as Keras on {same.sum():,} of {len(same):,} test reviews "
            f"({same.mean():.4%}); largest probability difference {np.abs(ours - keras).max():.2e}"
            f"; attnclf predicted them in {seconds:.1f} s ({len(texts) / seconds:,.0f} reviews/s)"
        )
        if args.npz is not None:
            x_test = np.load(args.npz)["x_test"]
            ids = classifier.encoder.encode_many(texts)
            equal = sum(
                np.array_equal(row[row > 0], mine) for row, mine in zip(x_test, ids, strict=True)
            )
            line += f"; ids equal to prepare.py's on {equal:,} reviews"
        print(line, flush=True)
    if not found:
        print(f"no Keras models with full test predictions in {args.saved}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
