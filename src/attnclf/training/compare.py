"""The comparison: read the data once, train each named model on the same split (run.py), evaluate
it on the test split, save it, measure how faithful its explanations are, and gather everything
into one typed metrics record (records.py). Writing it out is report.py's job."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..config import DEFAULT_PSEUDO_THRESHOLD, DataConfig, TextConfig, TrainConfig, to_dict
from ..data.examples import Dataset
from ..errors import AttnclfError
from ..evaluation.metrics import peak_memory_mb, record_fields
from ..evaluation.records import ComparisonRecord, ModelMetrics, RunSettings
from ..explain.explanation import Explanation, explain
from ..explain.gallery import gallery_indices
from ..inference.classifier import TextClassifier
from ..models.registry import check_model_names
from ..runtime.device import resolve_device
from ..runtime.machine import cpu_description
from ..text.batches import padding_share
from ..version import __version__
from .checkpoint import MANIFEST
from .distributed import current as current_world
from .distributed import start as start_processes
from .embeddings import Word2VecSettings
from .run import PreparedData, prepare_data, train_model
from .self_training import teach, unlabelled_texts

if TYPE_CHECKING:
    from ..inference.ensemble import Weighing

Log = Callable[[str], None]
# Test reviews the comparison page shows under every model, and the seeded pool they are chosen
# from (each of the gallery's four groups has plenty of members among 2,000; predicting all of
# IMDB's 25,000 test reviews again took ~7 s).
GALLERY_SAMPLE, GALLERY_CANDIDATES = 12, 2_000
ENSEMBLE_NAME = "ensemble"


@dataclass(frozen=True)
class CompareSettings:
    """What a comparison does beyond training every model with the run's configs (a preset's
    recipe, presets.py, fills most of it).

    `model_training` and `model_text` give, per model, TrainConfig and TextConfig fields that
    replace the run's for that model, and `model_settings` fields of its family's Config.
    `model_families` names the family of a model whose name is not a family's (a second
    multihead, "multihead-2", trained with another seed, say). `word2vec`: first train word
    vectors on the training split (and IMDB's unlabelled reviews; never validation or test) for
    the `vector_models` to start from. `students`: models that train after the others (the
    teachers), on the training split plus the data's unlabelled texts that the teachers, weighed
    into one on validation, label with probability >= `pseudo_threshold` (self-training,
    self_training.py): the texts of the file `unlabelled`, one a line, else the data's own
    (IMDB's; none: no students). `ensemble`: at the end, weigh the models into one on the
    validation split (ensemble.py); with students, it holds them and the `ensemble_teachers`
    (None: every teacher). On the same test texts for every model, measure the faithfulness of
    its explanations (`faithfulness_sample` texts, 0: not) and explain `gallery_sample` of them."""

    model_training: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model_text: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model_families: Mapping[str, str] = field(default_factory=dict)
    word2vec: Word2VecSettings | None = None
    vector_models: Sequence[str] = ()
    students: Sequence[str] = ()
    pseudo_threshold: float = DEFAULT_PSEUDO_THRESHOLD
    unlabelled: Path | None = None
    ensemble: bool = False
    ensemble_teachers: Sequence[str] | None = None
    faithfulness_sample: int = 0
    gallery_sample: int = GALLERY_SAMPLE


@dataclass
class Comparison:
    """What `compare` produced: the metrics record, the trained classifiers, their data, and
    the same test texts explained by every model (one row per text, one column per model)."""

    record: ComparisonRecord
    classifiers: dict[str, TextClassifier]
    data: PreparedData
    gallery: list[list[Explanation]] = field(default_factory=list)


def compare(
    names: list[str],
    data_config: DataConfig,
    text_config: TextConfig,
    train_config: TrainConfig,
    out: str | Path | None,
    settings: CompareSettings | None = None,
    progress: bool = True,
    log: Log = print,
    resume: str | Path | None = None,
) -> Comparison:
    """Train every named model on the same data and split, and evaluate each on the test split,
    as `settings` say (CompareSettings); save each into `out/NAME`. `resume`, an earlier run's
    `out`, carries each model on from its checkpoint there."""
    settings = settings if settings is not None else CompareSettings()
    students = settings.students
    teachers = [name for name in names if name not in students]
    if students and (not teachers or set(students) - set(names)):
        raise AttnclfError(
            f"students {', '.join(students)} need teachers among the models {', '.join(names)}"
        )
    families = {name: settings.model_families.get(name, name) for name in names}
    check_model_names(list(families.values()))
    if not start_processes(train_config.device).is_main:
        log = _silent  # under torchrun, rank 0 alone speaks
    out = Path(out) if out is not None else None
    resume = Path(resume) if resume is not None else None
    if resume is not None and not resume.is_dir():
        raise AttnclfError(f"--resume {resume} is not a folder written by `attnclf compare`")
    start = time.perf_counter()
    data = prepare_data(data_config, text_config)
    summary = data.summary()
    log(f"data: {data.dataset.describe()} (prepared in {data.seconds:.1f} s)")
    summary["train_padding_share"] = round(padding_share(data.train, train_config.batch_size), 4)
    model_training = {name: dict(values) for name, values in settings.model_training.items()}
    if settings.word2vec is not None:
        summary["word2vec"] = train_run_vectors(data_config, settings.word2vec, out, log)
        for name in settings.vector_models:
            model_training.setdefault(name, {})["embeddings"] = summary["word2vec"]["path"]
    plan = TrainingPlan(
        data_config,
        text_config,
        train_config,
        families,
        model_training,
        {name: dict(values) for name, values in settings.model_text.items()},
        settings.model_settings,
        resolve_device(train_config.device),
        out,
        resume,
        progress,
        log,
    )
    prepared = {to_key(text_config): data}
    trained = {name: train_named(name, data.dataset, prepared, plan) for name in teachers}
    texts = unlabelled_texts(data_config, settings.unlabelled) if students else []
    if students and not texts:
        log(
            f"{data_config.source} has no unlabelled texts to self-train on (give some with "
            f"--unlabelled FILE); {', '.join(students)} left out"
        )
        summary["self_training"] = {"skipped": "no unlabelled texts"}
        names, students = teachers, ()
    elif students:
        taught, summary["self_training"] = self_train(
            students, trained, texts, data, settings, plan
        )
        trained.update(taught)
    if settings.word2vec is not None and out is None:  # the vectors were a temporary file; the
        shutil.rmtree(Path(summary["word2vec"]["path"]).parent, ignore_errors=True)  # models keep
    models = {name: model.metrics for name, model in trained.items()}
    classifiers = {name: model.classifier for name, model in trained.items()}
    weighing = None
    if settings.ensemble and current_world().is_main:
        members = ensemble_members(names, teachers, students, settings.ensemble_teachers)
        weighing = weigh_ensemble(
            {name: classifiers[name] for name in members}, data.dataset, out, log
        )
        models[ENSEMBLE_NAME] = ensemble_metrics_record(weighing, models)
    record = ComparisonRecord(
        settings=RunSettings(
            models=list(names),
            data=to_dict(data_config),
            text=to_dict(text_config),
            training=to_dict(train_config),
            model_training=plan.model_training,
            model_text=plan.model_text,
            model_settings={name: dict(v) for name, v in settings.model_settings.items()},
            device=str(plan.device),
            environment=environment(),
        ),
        data=summary,
        models=models,
        wall_seconds=round(time.perf_counter() - start, 2),
        ensemble=weighing.to_json() if weighing is not None else None,
    )
    # the gallery picks its texts by the first model's answers, on that model's encoding
    comparison = Comparison(record, classifiers, trained[names[0]].data)
    main = current_world().is_main  # the views are rank 0's to make and write
    if settings.faithfulness_sample and len(data.test) and main:
        record.faithfulness = measure_faithfulness(comparison, settings.faithfulness_sample, log)
    if settings.gallery_sample and len(data.test) and main:
        comparison.gallery = explain_side_by_side(comparison, settings.gallery_sample)
    return comparison


@dataclass
class TrainingPlan:
    """What every model of a comparison trains with: the run's configs with the model's own
    settings over them, where it is saved and where it resumes from."""

    data_config: DataConfig
    text_config: TextConfig
    train_config: TrainConfig
    families: dict[str, str]  # the family of every model
    model_training: dict[str, dict[str, Any]]  # the word vectors' path included
    model_text: dict[str, dict[str, Any]]
    model_settings: Mapping[str, Mapping[str, Any]]
    device: torch.device
    out: Path | None
    resume: Path | None  # an earlier comparison's folder
    progress: bool
    log: Log

    def training(self, name: str) -> TrainConfig:
        own = self.model_training.get(name)
        return dataclasses.replace(self.train_config, **own) if own else self.train_config

    def text(self, name: str) -> TextConfig:
        return dataclasses.replace(self.text_config, **self.model_text.get(name, {}))

    def checkpoint(self, name: str) -> Path | None:
        """The checkpoint `name` carries on from, if the resumed comparison left one."""
        folder = self.resume / name / "checkpoint" if self.resume is not None else None
        return folder if folder and (folder / MANIFEST).exists() else None


@dataclass
class TrainedModel:
    classifier: TextClassifier
    metrics: ModelMetrics
    data: PreparedData  # what it trained on


def train_named(
    name: str, dataset: Dataset, prepared: dict[str, PreparedData], plan: TrainingPlan
) -> TrainedModel:
    """Train model `name` of the plan on `dataset`, encoded as its text settings say: taken from
    `prepared` (by text settings), or prepared now and added to it."""
    plan.log(f"training {name} on {plan.device}")
    own = plan.model_training.get(name)
    if own:
        plan.log(f"{name} trains with {', '.join(f'{k}={v}' for k, v in own.items())}")
    text_config = plan.text(name)
    key = to_key(text_config)
    if key not in prepared:
        if name in plan.model_text:
            settings = ", ".join(f"{k}={v}" for k, v in plan.model_text[name].items())
            plan.log(f"{name} reads text with {settings}")
        prepared[key] = prepare_data(plan.data_config, text_config, dataset)
    classifier, metrics = train_model(
        plan.families[name],
        prepared[key],
        plan.training(name),
        plan.out / name if plan.out else None,
        plan.progress,
        resume=plan.checkpoint(name),
        model_settings=plan.model_settings.get(name),
    )
    plan.log(f"{name}: test accuracy {metrics.test_accuracy:.4f} in {metrics.train_seconds:.1f} s")
    return TrainedModel(classifier, metrics, prepared[key])


def self_train(
    students: Sequence[str],
    teachers: Mapping[str, TrainedModel],
    texts: list[str],
    data: PreparedData,
    settings: CompareSettings,
    plan: TrainingPlan,
) -> tuple[dict[str, TrainedModel], dict[str, Any]]:
    """The students, trained on the training split plus the unlabelled `texts` the teachers,
    weighed into one on validation, label confidently; and what the teaching did."""
    classifiers = {name: teacher.classifier for name, teacher in teachers.items()}
    teaching = teach(classifiers, texts, data.dataset, settings.pseudo_threshold, plan.log)
    prepared: dict[str, PreparedData] = {}  # their vocabulary has the new texts'
    taught = {name: train_named(name, teaching.dataset, prepared, plan) for name in students}
    return taught, {**teaching.to_json(), "students": list(students)}


def to_key(text_config: TextConfig) -> str:
    return json.dumps(to_dict(text_config), sort_keys=True)


def environment() -> dict[str, Any]:
    return {
        "attnclf": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_description(),
        "threads": torch.get_num_threads(),
    }


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


def ensemble_members(
    names: Sequence[str],
    teachers: Sequence[str],
    students: Sequence[str],
    ensemble_teachers: Sequence[str] | None,
) -> list[str]:
    """The models the final ensemble weighs: all, but with students only the teachers named
    in `ensemble_teachers` (None: every teacher)."""
    return [
        name
        for name in names
        if not (
            students
            and ensemble_teachers is not None
            and name in teachers
            and name not in ensemble_teachers
        )
    ]


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
        **record_fields(test),
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
