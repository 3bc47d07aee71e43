"""What `attnclf train` chooses from the data for the settings the user leaves at auto (the
model, the length cut, the vocabulary, the epochs), each said in one line with why (`choose`),
and the training of what was chosen: one family, or NBSVM and an attention model weighed into an
ensemble on validation (`train_choice`). `compare` chooses nothing: its defaults are the
tutorial's.

The rules come from what docs/results/small-data.md measured (IMDB cut to sentence-length
texts, 2,000 and 10,000 of them; and the record recipe on 25,000 long reviews):

- model: NBSVM alone below 2,000 training texts, where attention models trained from scratch
  were 3-6 points below it (and an ensemble fell back to NBSVM's answer); from 2,000 on, NBSVM
  and an attention model weighed into one on validation, the best at 10,000 texts and on long
  reviews. The attention model: over n-gram convolutions (conv-attention) where 95% of the
  training texts have at most 64 tokens, as the four public sentence sets do (1.3 points over
  the self-attention model on TREC, 3 seeds); the BiLSTM's self-attention on longer texts, where
  the record recipe measured it. Pretrained vectors (`--embeddings`) lifted the attention
  models to NBSVM's level at 2,000 texts, so with them the ensemble is chosen at any size.
  Without a validation split there is nothing to weigh on: NBSVM.
- max-len: for an attention model, the 95th percentile of the training texts' token counts,
  rounded up to a multiple of 8 and at most 512 (longer batches cost time for the few texts that
  need them); NBSVM reads whole texts (up to 4,096 tokens), as the record recipe's did.
- vocab-size: 10,000 words for an attention model (its embedding table: rarer words get too
  few updates to learn); every training word (up to 200,000) for NBSVM, whose n-gram weights
  come from counts and use rare words too, as the record recipe's did.
- the short-text ensemble's conv-attention is trained as Kim (2014) trained CNN-rand: Adadelta,
  batches of 50, no weight average or clipping, up to 25 epochs (stopping after 6 without a
  better validation accuracy), the best on validation kept (presets.KIM_TRAINING): on
  six-class TREC it lifted the ensemble above CNN-rand's published figure, on the binary sets
  it moved within a fold's noise, in 1.4-2.4 times the training time.
- epochs (every other model): up to 20, stopping after 3 epochs without a better validation
  accuracy and keeping the best epoch: the same page found the best epoch on small data
  anywhere from 2 to 20 (without a validation split: the 2 of `compare`). On small data an
  epoch is a few steps, and the weights validated are a moving average over the last ~100
  (TrainConfig.ema_decay 0.99), so the wait is at least 200 steps' worth of epochs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig, TextConfig, TrainConfig
from ..data.examples import Dataset
from ..evaluation.records import ModelMetrics
from ..inference.classifier import TextScorer
from ..inference.ensemble import MEMBERS_DIR, weigh
from ..models import get_family
from ..text.tokens import tokenize
from .compare import ensemble_metrics_record
from .distributed import barrier, current
from .presets import KIM_EPOCHS, KIM_PATIENCE, KIM_TRAINING
from .run import fit_model, metrics_on_test, prepare_data, train_model

NBSVM, ENSEMBLE = "nbsvm", "ensemble"
# the attention model beside NBSVM: over n-gram convolutions on short texts, where it lifted
# TREC 1.3 points over the BiLSTM's (docs/results/small-data.md); the BiLSTM's on longer ones,
# where the record recipe measured it
SHORT_ATTENTION, LONG_ATTENTION = "conv-attention", "self-attention"
SHORT_TEXTS = 64  # tokens of the 95th-percentile training text, at most, for SHORT_ATTENTION
SMALL_DATA = 2_000  # training texts below which NBSVM alone is chosen
LENGTH_QUANTILE, LENGTH_STEP, SHORTEST, LONGEST_ATTENTION = 0.95, 8, 8, 512
LONGEST_NBSVM = 4_096
ATTENTION_VOCAB, NBSVM_VOCAB = 10_000, 200_000
MOST_EPOCHS, PATIENCE, PATIENCE_STEPS = 20, 3, 200
# what NBSVM's fit tries, the best kept (docs/results/small-data.md): by cross-validation on
# the training texts up to SELECTION_CV texts, where a validation split of a few hundred chose
# badly (TREC: C 0.1 on 545 questions, 88.8% on test, where 5 folds chose C 1, 91.4%); above,
# on the validation split, as 26 fits of n-grams of long texts would take minutes
NBSVM_SETTINGS: dict[str, Any] = {
    "losses": ("logistic", "squared-hinge"),
    "c_values": (0.1, 1.0, 10.0),
}
SELECTION_FOLDS, SELECTION_CV = 5, 20_000
LENGTH_SAMPLE = 20_000  # training texts whose tokens are counted for the length cut
Log = Callable[[str], None]


@dataclass(frozen=True)
class Requested:
    """The settings the user named (None: choose it from the data)."""

    model: str | None = None
    max_len: int | None = None
    vocab_size: int | None = None
    epochs: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class Member:
    """A model to train: its family and the text and training settings chosen for it."""

    family: str
    text: TextConfig
    training: TrainConfig
    settings: dict[str, Any] = field(default_factory=dict)  # fields of the family's Config


@dataclass
class Choice:
    """What train trains: one member, or several weighed into an ensemble (`name` "ensemble");
    and one line for each choice made, saying what and why."""

    name: str
    members: list[Member]
    lines: list[str] = field(default_factory=list)


def choose(
    dataset: Dataset, text: TextConfig, training: TrainConfig, requested: Requested
) -> Choice:
    """The model and settings for `dataset`: what `requested` names, the rest chosen by the
    rules above (`text` and `training` give every other setting)."""
    examples = dataset.training_examples()
    counts = token_counts(examples.texts, text.tokenizer, training.seed)
    validated = len(dataset.validation) > 0
    attention = attention_for(counts)
    name, why = choose_model(
        len(examples), validated, training.embeddings, requested.model, attention
    )
    families = [NBSVM, attention] if name == ENSEMBLE else [name]
    lines = [why] if why else []
    lengths = {family: length_for(family, counts, requested.max_len) for family in families}
    if requested.max_len is None:
        lines.append(length_line(lengths, counts))
    vocab = {family: requested.vocab_size or vocab_for(family) for family in families}
    if requested.vocab_size is None:
        lines.append(vocab_line(vocab))
    epochs, patience = training.epochs, 0
    kim = name == ENSEMBLE and attention == SHORT_ATTENTION and kim_applies(requested)
    neural = [family for family in families if get_family(family).fit is None]
    if requested.epochs is not None:
        epochs = requested.epochs
    elif kim:  # its epochs are Kim's, said in its own line
        pass
    elif neural and validated:
        epochs, patience = MOST_EPOCHS, patience_for(len(examples), training.batch_size)
        lines.append(epochs_line(neural, patience, len(examples), training.batch_size))
    elif neural:
        lines.append(
            f"chose epochs {epochs}: no validation split to stop on (--validation-fraction 0)"
        )
    looped = dataclasses.replace(training, epochs=epochs, patience=patience)
    # NBSVM beside an attention model: no epochs to choose, no word vectors to start from
    beside = dataclasses.replace(training, embeddings=None, freeze_embeddings=False)
    trained = {family: looped if family in neural else beside for family in families}
    if kim:
        trained[attention] = kim_training(looped, requested, validated)
        lines.append(kim_line(attention, trained[attention]))
    members = [
        Member(
            family,
            dataclasses.replace(text, max_len=lengths[family], vocab_size=vocab[family]),
            trained[family] if name == ENSEMBLE else looped if family in neural else training,
            nbsvm_settings(len(examples)) if family == NBSVM and validated else {},
        )
        for family in families
    ]
    if NBSVM in families and validated:
        lines.append(nbsvm_line(len(examples)))
    return Choice(name, members, lines)


def kim_applies(requested: Requested) -> bool:
    """Whether the short-text attention member is trained Kim's way: where the user named
    adadelta, or named neither an optimizer nor an lr (an lr alone is Adam's, the optimizer
    otherwise); a batch size or epochs named replace Kim's."""
    if requested.optimizer is None:
        return requested.lr is None
    return requested.optimizer == KIM_TRAINING["optimizer"]


def kim_training(looped: TrainConfig, requested: Requested, validated: bool) -> TrainConfig:
    """KIM_TRAINING over `looped`, with the lr and batch size the user named kept; epochs named
    are all trained, as for every model (`looped` has them), else Kim's with early stopping."""
    named = {"lr": requested.lr, "batch_size": requested.batch_size}
    kim = {**KIM_TRAINING, **{key: value for key, value in named.items() if value is not None}}
    if requested.epochs is None and validated:
        kim.update(epochs=KIM_EPOCHS, patience=KIM_PATIENCE)
    return dataclasses.replace(looped, **kim)


def kim_line(family: str, training: TrainConfig) -> str:
    epochs = (
        f"{training.epochs} epochs"
        if not training.patience
        else f"up to {training.epochs} epochs, stopping after {training.patience} without a "
        "better validation accuracy, the best kept"
    )
    return (
        f"chose training for {family} as Kim (2014) trained CNN-rand: optimizer adadelta at lr "
        f"{training.lr:g}, batches of {training.batch_size}, no weight average or clipping, "
        f"{epochs}; it lifted the ensemble on six-class TREC from 91.0% to 91.7% (3 seeds) and "
        "left the binary sets within a fold's noise, in 1.4-2.4 times the training time "
        "(docs/results/small-data.md); --optimizer adam trains it as the other models"
    )


def nbsvm_settings(examples: int) -> dict[str, Any]:
    """NBSVM's losses and Cs to choose between, and how (the rule above)."""
    folds = SELECTION_FOLDS if examples <= SELECTION_CV else 0
    return {**NBSVM_SETTINGS, "selection_folds": folds}


def nbsvm_line(examples: int) -> str:
    how = (
        f"by {SELECTION_FOLDS}-fold cross-validation on the training texts ({examples:,}, at "
        f"most {SELECTION_CV:,}: a validation split that small chooses by chance)"
        if examples <= SELECTION_CV
        else "on the validation split"
    )
    return (
        f"chose loss and C for nbsvm {how}: logistic regression or an L2-loss SVM (Wang & "
        "Manning's), C 0.1, 1 or 10; the SVM was 2-3 points better on six-class TREC "
        "(docs/results/small-data.md)"
    )


def attention_for(counts: np.ndarray) -> str:
    """The attention family weighed beside NBSVM, by the training texts' token counts."""
    return SHORT_ATTENTION if _percentile(counts) <= SHORT_TEXTS else LONG_ATTENTION


def _percentile(counts: np.ndarray) -> int:
    return math.ceil(float(np.quantile(counts, LENGTH_QUANTILE)))


def choose_model(
    examples: int,
    validated: bool,
    embeddings: str | None,
    requested: str | None,
    attention: str = LONG_ATTENTION,
) -> tuple[str, str | None]:
    """(the model, the line that says why) for `examples` training texts."""
    if requested is not None:
        return requested, None
    if not validated:
        return NBSVM, (
            "chose model nbsvm: no validation split to weigh an ensemble on "
            "(--validation-fraction 0); --model NAME trains another family"
        )
    if examples < SMALL_DATA and embeddings is None:
        return NBSVM, (
            f"chose model nbsvm: {examples:,} training texts, fewer than {SMALL_DATA:,}, where "
            "attention models trained from scratch were 3-6 points below NBSVM "
            "(docs/results/small-data.md); --model NAME trains another family"
        )
    size = "with --embeddings" if examples < SMALL_DATA else f"{SMALL_DATA:,} or more"
    which = (
        f"{attention} for texts this short (95% at most {SHORT_TEXTS} tokens)"
        if attention == SHORT_ATTENTION
        else f"{attention} for texts this long (95% over {SHORT_TEXTS} tokens)"
    )
    return ENSEMBLE, (
        f"chose model ensemble of nbsvm and {which}, weighed on validation: {examples:,} "
        f"training texts ({size}), where NBSVM and an attention model weighed together beat "
        "either alone (docs/results/small-data.md); --model NAME trains one family"
    )


def patience_for(examples: int, batch_size: int) -> int:
    """Epochs without a better validation accuracy before training stops: PATIENCE, or as many
    as make PATIENCE_STEPS steps; 0 (never stop) where that is all the epochs."""
    steps = max(-(-examples // batch_size), 1)  # an epoch's
    patience = max(PATIENCE, -(-PATIENCE_STEPS // steps))
    return patience if patience < MOST_EPOCHS else 0


def epochs_line(families: list[str], patience: int, examples: int, batch_size: int) -> str:
    steps = max(-(-examples // batch_size), 1)
    why = "on small data the best epoch was anywhere from 2 to 20 (docs/results/small-data.md)"
    if not patience:
        return (
            f"chose epochs {MOST_EPOCHS} for {', '.join(families)}, the best on validation kept: "
            f"{why}; an epoch is {steps} steps here, too few to stop early on (the weight "
            f"average needs {PATIENCE_STEPS} to show a change)"
        )
    return (
        f"chose epochs up to {MOST_EPOCHS} for {', '.join(families)}, stopping after {patience} "
        f"({patience * steps:,} steps) without a better validation accuracy, the best kept: "
        f"{why}"
    )


def token_counts(texts: Sequence[str], tokenizer: str, seed: int) -> np.ndarray:
    """(N,) the tokens of each training text (of a seeded sample of LENGTH_SAMPLE of them)."""
    if len(texts) > LENGTH_SAMPLE:
        chosen = np.random.default_rng(seed).choice(len(texts), LENGTH_SAMPLE, replace=False)
        texts = [texts[i] for i in chosen]
    return np.array([len(tokenize(text, tokenizer)) for text in texts] or [0])


def length_for(family: str, counts: np.ndarray, requested: int | None) -> int:
    """The tokens `family` keeps of a text: `requested`, else the rule above."""
    if requested is not None:
        return requested
    if family == NBSVM:
        return _rounded(float(counts.max()), LONGEST_NBSVM)
    return _rounded(float(np.quantile(counts, LENGTH_QUANTILE)), LONGEST_ATTENTION)


def _rounded(tokens: float, most: int) -> int:
    return min(max(math.ceil(tokens / LENGTH_STEP) * LENGTH_STEP, SHORTEST), most)


def length_line(lengths: dict[str, int], counts: np.ndarray) -> str:
    percentile = _percentile(counts)
    parts = []
    for family, length in lengths.items():
        if family == NBSVM:
            capped = ", the most it reads" if length == LONGEST_NBSVM else ""
            parts.append(f"{length} for nbsvm (the longest text{capped})")
        else:
            capped = f", at most {LONGEST_ATTENTION}" if length == LONGEST_ATTENTION else ""
            parts.append(f"{length} for {family} (95% of the texts{capped})")
    return (
        f"chose max-len {' and '.join(parts)}: 95% of the training texts have at most "
        f"{percentile:,} tokens, the longest {int(counts.max()):,}; rounded up to a multiple of "
        f"{LENGTH_STEP}"
    )


def vocab_for(family: str) -> int:
    return NBSVM_VOCAB if family == NBSVM else ATTENTION_VOCAB


def vocab_line(vocab: dict[str, int]) -> str:
    parts = [
        f"up to {size:,} for nbsvm (every training word: its n-gram weights use rare words too)"
        if family == NBSVM
        else f"{size:,} for {family} (the most frequent words: rarer ones get too few updates)"
        for family, size in vocab.items()
    ]
    return f"chose vocab-size {' and '.join(parts)}"


# --- training what was chosen -----------------------------------------------------------------


def train_choice(
    choice: Choice,
    dataset: Dataset,
    data_config: DataConfig,
    out: Path | None,
    *,
    progress: bool = True,
    resume: Path | None = None,
    log_dir: str | Path | None = None,
    log: Log = print,
) -> tuple[TextScorer, ModelMetrics]:
    """Train what `choice` holds on `dataset`, test it and save it into `out`: one model
    folder, or an ensemble's, with each member's folder (and the attention model's checkpoints)
    under `out/members/`. `resume` and `log_dir` go to the model trained by the gradient loop."""
    if len(choice.members) == 1:
        member = choice.members[0]
        data = prepare_data(data_config, member.text, dataset)
        classifier, metrics = train_model(
            member.family,
            data,
            member.training,
            out,
            progress,
            resume,
            member.settings,
            log_dir=log_dir,
        )
        say_epochs(member, metrics, log)
        say_fit(member, metrics, log)
        return classifier, metrics
    classifiers, members = [], {}
    for member in choice.members:
        log(f"training {member.family}")
        looped = get_family(member.family).fit is None  # trained by the gradient loop
        folder = out / MEMBERS_DIR / member.family if out is not None else None
        data = prepare_data(data_config, member.text, dataset)
        trained = fit_model(
            member.family,
            data,
            member.training,
            progress,
            resume if looped else None,
            member.settings,
            checkpoint_dir=folder / "checkpoint" if folder is not None and looped else None,
            log_dir=log_dir if looped else None,
        )
        metrics = metrics_on_test(trained, data, member.training)
        log(f"{member.family}: test accuracy {metrics.test_accuracy:.4f}")
        say_epochs(member, metrics, log)
        say_fit(member, metrics, log)
        classifiers.append((member.family, trained.classifier(data, member.training, metrics)))
        members[member.family] = metrics
    ensemble, weighing = weigh(classifiers, dataset, log=log)
    log(f"ensemble weights (chosen on validation): {ensemble.describe()}")
    if out is not None and current().is_main:  # one writer; the others wait for the folder
        ensemble.save(out)
    barrier()
    record = ensemble_metrics_record(weighing, members)
    # train's one model is the ensemble: its training is its members' and the weighing
    seconds = sum(m.train_seconds for m in members.values()) + record.train_seconds
    return ensemble, dataclasses.replace(record, train_seconds=round(seconds, 2))


def say_epochs(member: Member, metrics: ModelMetrics, log: Log) -> None:
    """Where early stopping stopped, and the epoch kept."""
    if member.training.patience and metrics.history:
        log(
            f"{member.family}: trained {len(metrics.history)} epochs, kept epoch "
            f"{metrics.best_epoch} (the best on validation)"
        )


def say_fit(member: Member, metrics: ModelMetrics, log: Log) -> None:
    """Which of several losses and Cs an NBSVM fit kept."""
    if "losses" not in member.settings or not metrics.history:
        return
    record = metrics.history[-1]
    if "objective" in record and "C" in record:
        scaled = ""
        if record.get("temperature", 1.0) != 1.0:
            scaled = f", its margins scaled by {record['temperature']:.3g} into probabilities"
        kept = f"{record['objective']} at C {record['C']:g}"
        where = record.get("selection", "validation")
        how = "on validation" if where == "validation" else f"of {where}"
        log(f"{member.family}: kept {kept} (the best {how}){scaled}")
