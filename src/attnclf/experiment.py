"""The experiment: read the data once, train each named model on the same split, evaluate it on
the test split, save it, and gather everything into one metrics record."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import __version__
from .batches import EncodedTexts, padding_share
from .checkpoint import MANIFEST
from .classifier import TextClassifier
from .config import DataConfig, TextConfig, TrainConfig, to_dict
from .data import Dataset, Examples, load_dataset
from .errors import AttnclfError
from .evaluate import (
    EVAL_BATCH_SIZE,
    classification_metrics,
    count_parameters,
    peak_memory_mb,
    timed_predict,
)
from .models import FAMILIES, build_model, model_config
from .runtime import resolve_precision
from .text import Encoder, Vocab, build_and_encode
from .train import fit, resolve_device, seed_everything

DEFAULT_MODELS = ("self-attention", "multihead")


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

    def summary(self) -> dict:
        return {
            **self.dataset.summary(),
            "vocab_size": len(self.vocab),
            "mean_tokens": float(self.train.lengths.mean()) if len(self.train) else 0.0,
            "prepare_seconds": round(self.seconds, 2),
        }


def prepare_data(data_config: DataConfig, text_config: TextConfig) -> PreparedData:
    start = time.perf_counter()
    dataset = load_dataset(data_config)
    # The train split is tokenised once, for its vocabulary and its ids together.
    vocab, train_ids = build_and_encode(dataset.train.texts, text_config)
    encoder = Encoder(vocab, text_config)

    def encode(examples: Examples) -> EncodedTexts:
        return EncodedTexts.from_sequences(encoder.encode_many(examples.texts), examples.labels)

    return PreparedData(
        dataset,
        vocab,
        text_config,
        EncodedTexts.from_sequences(train_ids, dataset.train.labels),
        encode(dataset.validation),
        encode(dataset.test),
        time.perf_counter() - start,
    )


def check_model_names(names: list[str]) -> None:
    unknown = [name for name in names if name not in FAMILIES]
    if unknown or not names:
        raise AttnclfError(
            f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(FAMILIES)}"
        )


def train_model(
    name: str,
    data: PreparedData,
    train_config: TrainConfig,
    out: Path | None = None,
    progress: bool = True,
    resume: Path | None = None,
) -> tuple[TextClassifier, dict]:
    """Train model family `name`, evaluate it on the test split, save it into `out`. Training
    checkpoints go to `out/checkpoint`; `resume` carries on from such a checkpoint."""
    device = resolve_device(train_config.device)
    seed_everything(train_config.seed)
    num_labels = len(data.dataset.label_names)
    config = model_config(
        name,
        vocab_size=len(data.vocab),
        num_outputs=1 if num_labels == 2 else num_labels,
        pad_id=data.vocab.pad_id,
    )
    model = build_model(name, config)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    checkpoint_dir = out / "checkpoint" if out is not None else None
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
    record = {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "precision": test["precision"],
        "recall": test["recall"],
        "f1": test["f1"],
        "roc_auc": test["roc_auc"],
        "confusion_matrix": test["confusion_matrix"],
        "params": count_parameters(model),
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.train_seconds, 2),
        "epoch_seconds": [round(h["seconds"], 2) for h in result.history],
        "train_samples_per_s": round(result.train_samples_per_s, 1),
        "train_arithmetic": resolve_precision(train_config.precision, device),
        "infer_samples_per_s": round(infer_per_s, 1),
        **peak_memory_mb(device),
        "history": result.history,
    }
    classifier = TextClassifier(
        name,
        model,
        data.vocab,
        data.text_config,
        data.dataset.label_names,
        metadata={
            "training": to_dict(train_config),
            "data": data.summary(),
            "metrics": {k: v for k, v in record.items() if k != "history"},
        },
        device=device,
    )
    if out is not None:
        classifier.save(out)
    return classifier, record


def environment() -> dict:
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
    out: Path | None,
    progress: bool = True,
    log=print,
    resume: Path | None = None,
) -> Comparison:
    """Train every named model on the same data and split, and evaluate each on the test split.
    `resume`, an earlier run's `out`, carries each model on from its checkpoint there."""
    check_model_names(names)
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
    models, classifiers = {}, {}
    for name in names:
        log(f"training {name} on {resolve_device(train_config.device)}")
        checkpoint = resume / name / "checkpoint" if resume is not None else None
        classifiers[name], models[name] = train_model(
            name,
            data,
            train_config,
            out / name if out else None,
            progress,
            resume=checkpoint if checkpoint and (checkpoint / MANIFEST).exists() else None,
        )
        log(
            f"{name}: test accuracy {models[name]['test_accuracy']:.4f} "
            f"in {models[name]['train_seconds']:.1f} s"
        )
    record = {
        "settings": {
            "models": names,
            "data": to_dict(data_config),
            "text": to_dict(text_config),
            "training": to_dict(train_config),
            "device": str(resolve_device(train_config.device)),
            "environment": environment(),
        },
        "data": summary,
        "models": models,
        "wall_seconds": round(time.perf_counter() - start, 2),
    }
    return Comparison(record, classifiers, data)


@dataclass
class Comparison:
    """What `compare` produced: the metrics record, the trained classifiers and their data."""

    record: dict
    classifiers: dict[str, TextClassifier]
    data: PreparedData
