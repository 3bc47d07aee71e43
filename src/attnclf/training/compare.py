"""The experiment: read the data once, train each named model on the same split, evaluate it on
the test split, save it, measure how faithful its explanations are, and gather everything into
one typed metrics record (records.py). Writing it out is report.py's job."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..config import DEFAULT_PSEUDO_THRESHOLD, DataConfig, TextConfig, TrainConfig, to_dict
from ..data.readers import Dataset, Examples, load_dataset
from ..errors import AttnclfError
from ..evaluation.metrics import (
    EVAL_BATCH_SIZE,
    classification_metrics,
    count_parameters,
    peak_memory_mb,
    timed_predict,
)
from ..evaluation.records import ComparisonRecord, ModelMetrics, RunSettings
from ..explain.explanation import Explanation, explain
from ..inference.classifier import TextClassifier
from ..inference.scoring import gallery_indices
from ..models import all_families, get_family
from ..models.objective import output_width
from ..runtime.device import resolve_device, resolve_precision, seed_everything
from ..text.batches import EncodedTexts, padding_share
from ..text.tokens import Encoder, Vocab, build_and_encode
from .checkpoint import MANIFEST
from .distributed import barrier
from .distributed import current as current_world
from .distributed import start as start_processes
from .embeddings import Coverage, Word2VecSettings
from .self_training import teach, unlabelled_texts

if TYPE_CHECKING:
    from ..inference.ensemble import Weighing
from ..version import __version__
from .loop import fit

Log = Callable[[str], None]
# Test reviews the comparison page shows under every model, and the seeded pool they are chosen
# from (each of the gallery's four groups has plenty of members among 2,000; predicting all of
# IMDB's 25,000 test reviews again took ~7 s).
GALLERY_SAMPLE, GALLERY_CANDIDATES = 12, 2_000


@dataclass
class PreparedData:
    """A dataset with its vocabulary and every split encoded once, shared by all models."""

    dataset: Dataset
    vocab: Vocab
    text_config: TextConfig
    train: EncodedTexts
    validation: EncodedTexts
    test: EncodedTexts
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            **self.dataset.summary(),
            "vocab_size": len(self.vocab),
            "mean_tokens": float(self.train.lengths.mean()) if len(self.train) else 0.0,
            "prepare_seconds": round(self.seconds, 2),
        }


def prepare_data(
    data_config: DataConfig, text_config: TextConfig, dataset: Dataset | None = None
) -> PreparedData:
    """The dataset (read now unless given) with a vocabulary built on its training split under
    `text_config`, and every split encoded."""
    start = time.perf_counter()
    dataset = dataset if dataset is not None else load_dataset(data_config)
    # The train split (with any pseudo-labelled texts) is tokenised once, for its vocabulary and
    # its ids together.
    training = dataset.training_examples()
    vocab, train_ids = build_and_encode(training.texts, text_config)
    encoder = Encoder(vocab, text_config)

    def encode(examples: Examples) -> EncodedTexts:
        return EncodedTexts.from_sequences(encoder.encode_many(examples.texts), examples.labels)

    return PreparedData(
        dataset,
        vocab,
        text_config,
        EncodedTexts.from_sequences(train_ids, training.labels),
        encode(dataset.validation),
        encode(dataset.test),
        time.perf_counter() - start,
    )


def check_model_names(names: list[str]) -> None:
    known = all_families()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise AttnclfError(
            f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(known)}"
        )


def train_model(
    name: str,
    data: PreparedData,
    train_config: TrainConfig,
    out: str | Path | None = None,
    progress: bool = True,
    resume: Path | None = None,
    model_settings: Mapping[str, Any] | None = None,
) -> tuple[TextClassifier, ModelMetrics]:
    """Train model family `name`, evaluate it on the test split, save it into `out`. Training
    checkpoints go to `out/checkpoint`; `resume` carries on from such a checkpoint.
    `model_settings`: fields of the family's Config that replace its defaults (a preset's)."""
    out = Path(out) if out is not None else None
    family = get_family(name)
    world = start_processes(train_config.device)  # under torchrun: join the other ranks
    device = resolve_device(train_config.device)
    if world.distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())  # this rank's GPU
    seed_everything(train_config.seed)
    pretrained = load_pretrained(train_config, data) if train_config.embeddings else None
    config = family.make_config(
        vocab_size=len(data.vocab),
        num_outputs=output_width(len(data.dataset.label_names)),
        pad_id=data.vocab.pad_id,
        **{
            **dict(model_settings or {}),
            **family.from_text(data.text_config),
            # the vectors' width wins over a setting
            **(embedding_width(family, pretrained.matrix.shape[1]) if pretrained else {}),
        },
    )
    model = family.build(config, data.vocab)
    if pretrained is not None:
        use_pretrained(model, pretrained, train_config.freeze_embeddings)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    checkpoint_dir = out / "checkpoint" if out is not None else None
    if family.fit is not None:  # a family trained directly (nbsvm), not by the gradient loop
        if resume is not None:
            raise AttnclfError(
                f"{name} trains in one pass and writes no checkpoint; leave out --resume"
            )
        result = family.fit(model, data.train, data.validation, train_config)
        model.to(device)
    else:
        result = fit(
            model,
            data.train,
            data.validation,
            train_config,
            device,
            progress,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
        )
    logits, infer_per_s = timed_predict(model, data.test, EVAL_BATCH_SIZE, device)
    test = classification_metrics(logits, data.test.labels, data.dataset.label_names)
    peaks = peak_memory_mb(device)
    metrics = ModelMetrics(
        test_accuracy=test["accuracy"],
        test_loss=test["loss"],
        precision=test["precision"],
        recall=test["recall"],
        f1=test["f1"],
        roc_auc=test["roc_auc"],
        confusion_matrix=test["confusion_matrix"],
        params=count_parameters(model),
        best_epoch=result.best_epoch,
        train_seconds=round(result.train_seconds, 2),
        epoch_seconds=[round(h["seconds"], 2) for h in result.history],
        train_samples_per_s=round(result.train_samples_per_s, 1),
        train_arithmetic=resolve_precision(train_config.precision, device),
        infer_samples_per_s=round(infer_per_s, 1),
        peak_rss_mb=peaks["peak_rss_mb"],
        peak_gpu_mb=peaks.get("peak_gpu_mb"),
        history=result.history,
    )
    classifier = TextClassifier(
        name,
        model,
        data.vocab,
        data.text_config,
        data.dataset.label_names,
        metadata={
            "training": to_dict(train_config),
            "data": data.summary(),
            "metrics": metrics.to_json(with_history=False),
            **({"embeddings": pretrained.summary()} if pretrained else {}),
        },
        device=device,
    )
    if out is not None and world.is_main:  # one writer; the others wait for the folder
        classifier.save(out)
    barrier()
    return classifier, metrics


@dataclass
class Pretrained:
    """Word vectors as the vocabulary's embedding matrix."""

    source: str
    matrix: np.ndarray  # (V, D)
    coverage: Coverage

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dim": int(self.matrix.shape[1]),
            "found": self.coverage.found,
            "words": self.coverage.words,
            "token_share": self.coverage.token_share,
        }


def load_pretrained(train_config: TrainConfig, data: PreparedData) -> Pretrained:
    from .embeddings import embedding_matrix, load_vectors

    assert train_config.embeddings is not None
    vectors = load_vectors(train_config.embeddings)
    counts = np.bincount(data.train.ids, minlength=len(data.vocab))  # (V,)
    matrix, coverage = embedding_matrix(vectors, data.vocab, train_config.seed, counts)
    if world_is_main():
        print(f"embeddings {train_config.embeddings}: {coverage.describe()}", file=sys.stderr)
    return Pretrained(train_config.embeddings, matrix, coverage)


def embedding_width(family: Any, width: int) -> dict[str, int]:
    """The Config field that takes the vectors' width."""
    fields = {f.name for f in dataclasses.fields(family.config)}
    for name in ("embedding_dim", "d_model"):
        if name in fields:
            return {name: width}
    raise AttnclfError(
        f"model {family.name} has no embedding width to set, so it cannot take --embeddings"
    )


def use_pretrained(model: torch.nn.Module, pretrained: Pretrained, freeze: bool) -> None:
    from ..models.outputs import input_embeddings

    layer = input_embeddings(model)
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != pretrained.matrix.shape:
        raise AttnclfError(
            f"the model's embedding layer does not take a {pretrained.matrix.shape} matrix, so "
            "it cannot start from --embeddings"
        )
    with torch.no_grad():
        weight.copy_(torch.from_numpy(pretrained.matrix))
    weight.requires_grad_(not freeze)


def world_is_main() -> bool:
    return current_world().is_main


def environment() -> dict[str, Any]:
    return {
        "attnclf": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
    }


def compare(
    names: list[str],
    data_config: DataConfig,
    text_config: TextConfig,
    train_config: TrainConfig,
    out: str | Path | None,
    progress: bool = True,
    log: Log = print,
    resume: str | Path | None = None,
    faithfulness_sample: int = 0,
    gallery_sample: int = GALLERY_SAMPLE,
    model_training: Mapping[str, Mapping[str, Any]] | None = None,
    model_text: Mapping[str, Mapping[str, Any]] | None = None,
    model_settings: Mapping[str, Mapping[str, Any]] | None = None,
    word2vec: Word2VecSettings | None = None,
    vector_models: Sequence[str] = (),
    ensemble: bool = False,
    model_families: Mapping[str, str] | None = None,
    students: Sequence[str] = (),
    ensemble_teachers: Sequence[str] | None = None,
    pseudo_threshold: float = DEFAULT_PSEUDO_THRESHOLD,
    unlabelled: Path | None = None,
) -> Comparison:
    """Train every named model on the same data and split, and evaluate each on the test split;
    then, on the same test texts for every model, measure the faithfulness of its explanations
    (`faithfulness_sample` texts, 0: not) and explain `gallery_sample` of them. `resume`, an
    earlier run's `out`, carries each model on from its checkpoint there. `model_training` and
    `model_text` give, per model, TrainConfig and TextConfig fields that replace the run's for
    that model (a preset's), and `model_settings` fields of its family's Config. `word2vec`:
    first train word vectors on the training split (and IMDB's unlabelled reviews; never
    validation or test) for the `vector_models` to start from.
    `ensemble`: at the end, weigh all models into one on the validation split (ensemble.py).
    `model_families` names the family of a model whose name is not a family's (a second
    multihead, "multihead-2", trained with another seed, say).
    `students`: models among `names` that train after the others (the teachers), on the training
    split plus the data's unlabelled texts that the teachers, weighed into one on validation,
    label with probability >= `pseudo_threshold` (self-training, pseudo_labels.py): the texts of
    the file `unlabelled`, one a line, else the data's own (IMDB's; none: no students). With
    students, the final ensemble holds them and the `ensemble_teachers` (None: every teacher)."""
    families_of = {name: (model_families or {}).get(name, name) for name in names}
    teachers = [name for name in names if name not in students]
    if students and (not teachers or set(students) - set(names)):
        raise AttnclfError(
            f"students {', '.join(students)} need teachers among the models {', '.join(names)}"
        )
    check_model_names(list(families_of.values()))
    own_training = {name: dict(values) for name, values in (model_training or {}).items()}
    own_text = {name: dict(values) for name, values in (model_text or {}).items()}
    if not start_processes(train_config.device).is_main:
        log = _silent  # under torchrun, rank 0 alone speaks
    out = Path(out) if out is not None else None
    resume = Path(resume) if resume is not None else None
    if resume is not None and not resume.is_dir():
        raise AttnclfError(f"--resume {resume} is not a folder written by `attnclf compare`")
    start = time.perf_counter()
    data = prepare_data(data_config, text_config)
    summary = data.summary()
    log(
        f"data: {summary['name']}, {summary['train']} train / {summary['validation']} validation"
        f" / {summary['test']} test, labels {', '.join(summary['labels'])}"
        f" (prepared in {data.seconds:.1f} s)"
    )
    summary["train_padding_share"] = round(padding_share(data.train, train_config.batch_size), 4)
    prepared = {to_key(text_config): data}
    data_of: dict[str, PreparedData] = {}  # the data each model trained on
    if word2vec is not None:
        vectors = train_run_vectors(data_config, word2vec, out, log)
        summary["word2vec"] = vectors
        for name in vector_models:
            own_training.setdefault(name, {})["embeddings"] = vectors["path"]
    models: dict[str, ModelMetrics] = {}
    classifiers: dict[str, TextClassifier] = {}
    device = resolve_device(train_config.device)

    def train_named(name: str, dataset: Dataset, prepared: dict[str, PreparedData]) -> None:
        log(f"training {name} on {device}")
        checkpoint = resume / name / "checkpoint" if resume is not None else None
        own = own_training.get(name)
        if own:
            log(f"{name} trains with {', '.join(f'{k}={v}' for k, v in own.items())}")
        model_text_config = dataclasses.replace(text_config, **own_text.get(name, {}))
        key = to_key(model_text_config)
        if key not in prepared:
            if name in own_text:
                settings = ", ".join(f"{k}={v}" for k, v in own_text[name].items())
                log(f"{name} reads text with {settings}")
            prepared[key] = prepare_data(data_config, model_text_config, dataset)
        data_of[name] = prepared[key]
        classifiers[name], models[name] = train_model(
            families_of[name],
            prepared[key],
            dataclasses.replace(train_config, **own) if own else train_config,
            out / name if out else None,
            progress,
            resume=checkpoint if checkpoint and (checkpoint / MANIFEST).exists() else None,
            model_settings=(model_settings or {}).get(name),
        )
        log(
            f"{name}: test accuracy {models[name].test_accuracy:.4f} "
            f"in {models[name].train_seconds:.1f} s"
        )

    for name in teachers:
        train_named(name, data.dataset, prepared)
    texts = unlabelled_texts(data_config, unlabelled) if students else []
    if students and not texts:
        log(
            f"{data_config.source} has no unlabelled texts to self-train on (give some with "
            f"--unlabelled FILE); {', '.join(students)} left out"
        )
        summary["self_training"] = {"skipped": "no unlabelled texts"}
        names, students = teachers, ()
    elif students:
        teaching = teach(
            {name: classifiers[name] for name in teachers},
            texts,
            data.dataset,
            pseudo_threshold,
            log,
        )
        summary["self_training"] = {**teaching.to_json(), "students": list(students)}
        taught_prepared: dict[str, PreparedData] = {}  # their vocabulary has the new texts'
        for name in students:
            train_named(name, teaching.dataset, taught_prepared)
    if word2vec is not None and out is None:  # the vectors were a temporary file; the models
        shutil.rmtree(Path(summary["word2vec"]["path"]).parent, ignore_errors=True)  # keep theirs
    weighing = None
    if ensemble and current_world().is_main:
        members = {
            name: classifiers[name]
            for name in names
            if not (
                students
                and ensemble_teachers is not None
                and name in teachers
                and name not in ensemble_teachers
            )
        }
        weighing = weigh_ensemble(members, data.dataset, out, log)
        models[ENSEMBLE_NAME] = ensemble_metrics_record(weighing, models)
    record = ComparisonRecord(
        settings=RunSettings(
            models=list(names),
            data=to_dict(data_config),
            text=to_dict(text_config),
            training=to_dict(train_config),
            model_training=own_training,
            model_text=own_text,
            model_settings={name: dict(v) for name, v in (model_settings or {}).items()},
            device=str(device),
            environment=environment(),
        ),
        data=summary,
        models=models,
        wall_seconds=round(time.perf_counter() - start, 2),
        ensemble=weighing.to_json() if weighing is not None else None,
    )
    # the gallery picks its texts by the first model's answers, on that model's encoding
    first_data = data_of[names[0]]
    comparison = Comparison(record, classifiers, first_data)
    main = current_world().is_main  # the views are rank 0's to make and write
    if faithfulness_sample and len(data.test) and main:
        record.faithfulness = measure_faithfulness(comparison, faithfulness_sample, log)
    if gallery_sample and len(data.test) and main:
        comparison.gallery = explain_side_by_side(comparison, gallery_sample)
    return comparison


ENSEMBLE_NAME = "ensemble"


def to_key(text_config: TextConfig) -> str:
    return json.dumps(to_dict(text_config), sort_keys=True)


def train_run_vectors(
    data_config: DataConfig, settings: Word2VecSettings, out: Path | None, log: Log
) -> dict[str, Any]:
    """word2vec for a comparison, saved into `out/vectors` (a temporary folder without `out`);
    what it read and how long it took."""
    from .embeddings import dataset_vectors

    folder = out / "vectors" if out is not None else Path(tempfile.mkdtemp(prefix="attnclf-"))
    trained = dataset_vectors(data_config, folder / "word2vec.bin", settings, log=log)
    log(
        f"word2vec: {trained.words:,} words x {settings.dim} from {trained.texts:,} texts in "
        f"{trained.seconds:.1f} s"
    )
    return {
        "path": str(trained.path),
        "words": trained.words,
        "texts": trained.texts,
        "seconds": round(trained.seconds, 2),
        "settings": dataclasses.asdict(settings),
    }


def weigh_ensemble(
    classifiers: Mapping[str, TextClassifier], dataset: Dataset, out: Path | None, log: Log
) -> Weighing:
    """The compared models weighed into one on the validation split, saved as `out/ensemble`."""
    from ..inference.ensemble import weigh

    log(f"weighing {', '.join(classifiers)} into an ensemble on the validation split")
    ensemble, weighing = weigh(list(classifiers.items()), dataset, log=log)
    log(f"ensemble: {ensemble.describe()}, test accuracy {weighing.test_accuracy['ensemble']:.4f}")
    if out is not None:
        ensemble.save(out / ENSEMBLE_NAME)
    return weighing


def ensemble_metrics_record(
    weighing: Weighing, members: Mapping[str, ModelMetrics]
) -> ModelMetrics:
    """The ensemble's row: its test figures, its members' parameters, the seconds weighing took
    (its members' training is in their own rows), and the speed of scoring the test split."""
    test = weighing.test_metrics
    return ModelMetrics(
        test_accuracy=test["accuracy"],
        test_loss=test["loss"],
        precision=test["precision"],
        recall=test["recall"],
        f1=test["f1"],
        roc_auc=test["roc_auc"],
        confusion_matrix=test["confusion_matrix"],
        params=sum(members[name].params for name in weighing.names),
        best_epoch=None,
        train_seconds=round(weighing.seconds, 2),
        epoch_seconds=[],
        train_samples_per_s=None,
        train_arithmetic="fp32",
        infer_samples_per_s=round(weighing.test_examples / max(weighing.test_seconds, 1e-9), 1),
        peak_rss_mb=peak_memory_mb()["peak_rss_mb"],
    )


def _silent(message: str) -> None:
    pass


@dataclass
class Comparison:
    """What `compare` produced: the metrics record, the trained classifiers, their data, and
    the same test texts explained by every model (one row per text, one column per model)."""

    record: ComparisonRecord
    classifiers: dict[str, TextClassifier]
    data: PreparedData
    gallery: list[list[Explanation]] = field(default_factory=list)


def measure_faithfulness(comparison: Comparison, sample: int, log: Log = print) -> dict[str, dict]:
    """The faithfulness report of every model on the same `sample` test texts."""
    from ..explain.faithfulness import faithfulness_report

    texts = comparison.data.dataset.test.texts
    chosen = np.random.default_rng(0).permutation(len(texts))[:sample]
    kept = [int(i) for i in np.sort(chosen) if texts[i].strip()]
    reports = {}
    for name, classifier in comparison.classifiers.items():
        log(f"faithfulness of {name} on {len(kept)} test texts")
        reports[name] = faithfulness_report(classifier, [texts[i] for i in kept])
    return reports


def explain_side_by_side(
    comparison: Comparison, sample: int = GALLERY_SAMPLE, seed: int = 0
) -> list[list[Explanation]]:
    """The same test texts under every compared model; they are chosen by the first model's
    answers, spread over right and wrong, confident and unsure, among a seeded pool."""
    label_names = comparison.data.dataset.label_names
    texts = comparison.data.dataset.test.texts
    candidates = np.sort(
        np.random.default_rng(seed).permutation(len(texts))[:GALLERY_CANDIDATES]
    )  # (n,)
    first = next(iter(comparison.classifiers.values()))
    picked = gallery_indices(first, comparison.data.test.select(candidates), sample, seed)
    chosen = [int(candidates[i]) for i in picked if texts[candidates[i]].strip()]
    truths = [label_names[comparison.data.test.labels[i]] for i in chosen]
    columns = [
        explain(classifier, [texts[i] for i in chosen], truths)
        for classifier in comparison.classifiers.values()
    ]
    return [list(row) for row in zip(*columns, strict=True)]
