"""Anyone's data: what `attnclf train --data FILE` gives with no setting named (the model, the
length cut, the vocabulary and the epochs chosen from the data: training/defaults.py) on four
small sentence sets the sentence-classification literature reports on, beside TF-IDF + logistic
regression (scikit-learn) and attnclf's NBSVM (`--model nbsvm`), all fitted on the same folds,
and the published CNN-rand and NBSVM-bi figures.

Subj, CR and MPQA: 10-fold cross-validation (stratified, shuffled with --seed), as Kim 2014
did; TREC: its own train and test files. attnclf holds 10% of each fold's training part out for
validation, as `attnclf train` does; TF-IDF + LR fits on the whole training part. Through the
library: the configs of the command's defaults (cli.common.TrainingOptions), then
`training.defaults.choose` and `train_choice`, exactly as `attnclf train` calls them.

    python benchmarks/custom_data.py                                # all four, 10 folds
    python benchmarks/custom_data.py --sets cr --folds 2 --limit 400  # a smoke run
    python benchmarks/custom_data.py --attention self-attention       # a candidate member
    python benchmarks/custom_data.py --option optimizer=adam          # as `train --optimizer adam`

The sets are read from ../shared/data/sentences/ (`LABEL SENTENCE` a line; see its README).
Writes custom_data.json and custom_data.md into --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import cpu_isa, cpu_model  # noqa: E402

from attnclf.cli.common import AUTO_DEFAULTS, TrainingOptions
from attnclf.config import AUTO
from attnclf.data.examples import RawSplit
from attnclf.data.splits import split_rows
from attnclf.models import all_families
from attnclf.runtime.files import write_json, write_text
from attnclf.training.defaults import Requested, choose, train_choice

REPO = Path(__file__).resolve().parents[1]
SENTENCES = REPO.parent / "shared" / "data" / "sentences"
# name: (file, its own test file or None for cross-validation)
SETS = {
    "subj": ("subj.all", None),
    "cr": ("custrev.all", None),
    "mpqa": ("mpqa.all", None),
    "trec": ("TREC.train.all", "TREC.test.all"),
}
CV_FOLDS = 10
# Kim 2014, Table 2 (CNN-rand); Wang & Manning 2012 (NBSVM-bi); the data's README
PUBLISHED = {
    "subj": {"CNN-rand": 89.6, "NBSVM-bi": 93.2},
    "cr": {"CNN-rand": 79.8, "NBSVM-bi": 81.8},
    "mpqa": {"CNN-rand": 83.4, "NBSVM-bi": 86.3},
    "trec": {"CNN-rand": 91.2, "NBSVM-bi": None},
}
MODELS = ("attnclf train", "attnclf nbsvm", "tf-idf + lr")
Rows = tuple[list[str], list[str]]  # texts, labels
Log = Callable[[str], None]


def read_sentences(path: Path) -> Rows:
    """`LABEL SENTENCE` lines; a line not in UTF-8 (a few of Subj's and TREC's) as Latin-1."""
    texts, labels = [], []
    for raw in path.read_bytes().split(b"\n"):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        label, _, text = line.strip().partition(" ")
        if text.strip():
            texts.append(text.strip())
            labels.append(label)
    return texts, labels


def sample(rows: Rows, limit: int | None, seed: int) -> Rows:
    """A stratified `limit` of the rows (all of them without a limit)."""
    from sklearn.model_selection import train_test_split

    texts, labels = rows
    if not limit or limit >= len(texts):
        return rows
    kept, _ = train_test_split(
        list(range(len(texts))), train_size=limit, random_state=seed, stratify=labels
    )
    kept = sorted(kept)
    return [texts[i] for i in kept], [labels[i] for i in kept]


def folds(name: str, data: Path, count: int, limit: int | None, seed: int):
    """(train rows, test rows) of each fold to run: the first `count` of 10 stratified folds,
    or the set's own split."""
    from sklearn.model_selection import StratifiedKFold

    file, test_file = SETS[name]
    rows = sample(read_sentences(data / file), limit, seed)
    if test_file is not None:
        yield rows, sample(read_sentences(data / test_file), limit, seed)
        return
    texts, labels = rows
    split = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(split.split(texts, labels)):
        if fold >= count:
            return
        yield (
            ([texts[i] for i in train], [labels[i] for i in train]),
            ([texts[i] for i in test], [labels[i] for i in test]),
        )


# --- the three contestants --------------------------------------------------------------------


def attnclf_train(
    train: Rows,
    test: Rows,
    seed: int,
    model: str,
    log: Log,
    extra: tuple[str, ...] = (),
    attention: str | None = None,
    named: dict[str, str] | None = None,
) -> dict:
    """What `attnclf train --seed SEED [--model MODEL]` does on data with its own test split;
    `extra`: families weighed into the default's ensemble beside its own, and `attention`: a
    family in place of its attention member (candidate defaults, trained with the attention
    member's settings); `named`: options as typed on the command line (`{"optimizer": "adam"}`
    for `--optimizer adam`)."""
    options = TrainingOptions(**{**AUTO_DEFAULTS, **typed(named or {})}, seed=seed)
    data_config, text_config, train_config = options.configs(auto=True)
    requested: Requested = options.requested(model)
    started = time.perf_counter()
    dataset = split_rows(RawSplit(*train), RawSplit(*test), "fold", data_config, {}, where="fold")
    choice = choose(dataset, text_config, train_config, requested)
    if attention and choice.name == "ensemble":
        chosen = choice.members[-1]
        choice.members[-1] = dataclasses.replace(chosen, family=attention)
        choice.lines.append(f"(benchmark) {attention} in place of {chosen.family}")
    if extra and choice.name == "ensemble":
        member = choice.members[-1]
        choice.members += [dataclasses.replace(member, family=family) for family in extra]
        choice.lines.append(f"(benchmark) weighed in beside them: {', '.join(extra)}")
    for line in choice.lines:
        log(line)
    _, metrics = train_choice(choice, dataset, data_config, None, progress=False, log=log)
    return {
        "accuracy": metrics.test_accuracy,
        "seconds": time.perf_counter() - started,
        "model": choice.name,
        "choices": choice.lines,
    }


def typed(named: dict[str, str]) -> dict:
    """--option NAME=VALUE pairs as TrainingOptions values (an int, float or bool field's value
    read as one)."""
    fields = {field.name: field for field in dataclasses.fields(TrainingOptions)}
    values: dict = {}
    for name, value in named.items():
        default = fields[name].default
        if isinstance(default, bool):
            values[name] = value.lower() in ("1", "true", "yes")
        elif isinstance(default, (int, float)):
            values[name] = type(default)(value)
        else:
            values[name] = value
    return values


def tfidf_lr(train: Rows, test: Rows, seed: int) -> dict:
    """TF-IDF of word 1- and 2-grams (sublinear tf) and logistic regression at its defaults."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(max_iter=2_000, random_state=seed),
    )
    model.fit(*train)
    accuracy = float((model.predict(test[0]) == test[1]).mean())
    return {"accuracy": accuracy, "seconds": time.perf_counter() - started}


def run_set(
    name: str,
    data: Path,
    count: int,
    limit: int | None,
    seed: int,
    extra: tuple[str, ...] = (),
    attention: str | None = None,
    named: dict[str, str] | None = None,
) -> dict:
    per_fold: list[dict] = []
    for fold, (train, test) in enumerate(folds(name, data, count, limit, seed), start=1):

        def log(message: str, fold: int = fold) -> None:
            print(f"  [{name} fold {fold}] {message}", file=sys.stderr, flush=True)

        log(f"{len(train[0])} training and {len(test[0])} test sentences")
        result = {
            "attnclf train": attnclf_train(train, test, seed, AUTO, log, extra, attention, named),
            "attnclf nbsvm": attnclf_train(train, test, seed, "nbsvm", lambda message: None),
            "tf-idf + lr": tfidf_lr(train, test, seed),
        }
        log(", ".join(f"{model} {r['accuracy'] * 100:.2f}%" for model, r in result.items()))
        per_fold.append(result)
    return {"folds": per_fold, "summary": summary(per_fold)}


def summary(per_fold: list[dict]) -> dict:
    """Per model: mean and sd of the folds' accuracy (%), and mean seconds a fold."""
    out = {}
    for model in MODELS:
        accuracies = [fold[model]["accuracy"] * 100 for fold in per_fold]
        out[model] = {
            "mean": statistics.fmean(accuracies),
            "sd": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
            "seconds": statistics.fmean(fold[model]["seconds"] for fold in per_fold),
            "folds": len(accuracies),
        }
    chosen = sorted({fold["attnclf train"]["model"] for fold in per_fold})
    out["attnclf train"]["chose"] = chosen
    return out


# --- the table --------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    env = result["environment"]
    limited = f", {result['limit']} sentences a set" if result["limit"] else ""
    lines = [
        f"CPU: {env['cpu']} ({', '.join(env['isa']) or 'no AVX2'}); test accuracy %, mean +- sd "
        f"over the folds (seconds a fold: training and testing); seed {result['seed']}{limited}",
        "",
        "| set | folds | attnclf train (default) | attnclf nbsvm | TF-IDF + LR | CNN-rand "
        "(Kim 2014) | NBSVM-bi (Wang & Manning 2012) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, run in result["sets"].items():
        figures = run["summary"]
        cells = []
        for model in MODELS:
            f = figures[model]
            cells.append(f"{f['mean']:.2f} +- {f['sd']:.2f} ({f['seconds']:.1f} s)")
        cells[0] += f", chose {', '.join(figures['attnclf train']['chose'])}"
        published = [
            f"{value:.1f}" if value is not None else "-" for value in PUBLISHED[name].values()
        ]
        count = figures[MODELS[0]]["folds"]
        split = "own split" if SETS[name][1] else f"{count} of {CV_FOLDS}"
        lines.append(f"| {name} | {split} | " + " | ".join(cells + published) + " |")
    return "\n".join(lines) + "\n"


def sets_found(data: Path, names: list[str]) -> bool:
    """Whether every named set's file is in `data`; if not, says which and what to pass."""
    missing = [SETS[name][0] for name in names if not (data / SETS[name][0]).exists()]
    if missing:
        print(
            f"error: {', '.join(missing)} not in {data}; pass --data with the folder of the "
            "sentence sets (../shared/data/sentences/ from the repository root)",
            file=sys.stderr,
        )
    return not missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SENTENCES, help="the sentences folder")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ",".join(SETS))
    parser.add_argument(
        "--folds", type=int, default=CV_FOLDS, help=f"how many of the {CV_FOLDS} folds to run"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="a stratified N sentences of each set (smoke runs)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--extra-members",
        default="",
        help="comma-separated families to weigh into the default ensemble (a candidate default)",
    )
    parser.add_argument(
        "--attention",
        default=None,
        help="a family in place of the default ensemble's attention member (a candidate default)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a `train` option for the default, as typed (optimizer=adam for --optimizer adam)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/custom_data"))
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = [name for name in names if name not in SETS]
    if unknown or not 1 <= args.folds <= CV_FOLDS:
        print(
            f"error: --sets takes {', '.join(SETS)} (not {', '.join(unknown)}); --folds 1 to "
            f"{CV_FOLDS}",
            file=sys.stderr,
        )
        return 2
    extra = tuple(f.strip() for f in args.extra_members.split(",") if f.strip())
    families = [args.attention, *extra] if args.attention else list(extra)
    strangers = [family for family in families if family not in all_families()]
    if strangers:
        print(
            f"error: no model family {', '.join(strangers)}; --attention and --extra-members "
            f"take {', '.join(all_families())}",
            file=sys.stderr,
        )
        return 2
    known = {field.name for field in dataclasses.fields(TrainingOptions)}
    named = dict(option.partition("=")[::2] for option in args.option)
    wrong = [name for name in named if name not in known or name == "seed"]
    if wrong or any(not value for value in named.values()):
        print(
            f"error: --option takes NAME=VALUE with NAME a `train` option other than seed "
            f"(underscores for dashes: max_len), not {', '.join(args.option)}",
            file=sys.stderr,
        )
        return 2
    try:
        typed(named)
    except ValueError as error:
        print(f"error: --option {', '.join(args.option)}: {error}", file=sys.stderr)
        return 2
    if not sets_found(args.data, names):
        return 2
    result: dict = {
        "environment": {"cpu": cpu_model(), "isa": cpu_isa()},
        "seed": args.seed,
        "extra_members": args.extra_members,
        "attention": args.attention,
        "options": named,
        "limit": args.limit,
        "published": PUBLISHED,
        "sets": {},
    }
    started = time.perf_counter()
    for name in names:
        result["sets"][name] = run_set(
            name, args.data, args.folds, args.limit, args.seed, extra, args.attention, named
        )
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "custom_data.json", result)
    table = markdown(result)
    write_text(args.out / "custom_data.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
