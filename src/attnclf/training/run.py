"""Training one model: `prepare_data` reads a dataset once (a file, or rows already in memory:
texts and labels as two lists, a pandas DataFrame, a Hugging Face `datasets.Dataset`), builds the
vocabulary on its training split and encodes every split; `train_model` builds a family's model
for that data, fits it (`fit_model`), evaluates it on the test split and saves it as a model
folder."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import DataConfig, TextConfig, TrainConfig, to_dict
from ..data.examples import Dataset, Examples
from ..data.memory import InMemoryRows, rows_dataset
from ..data.splits import load_dataset
from ..errors import AttnclfError
from ..evaluation.metrics import (
    EVAL_BATCH_SIZE,
    classification_metrics,
    count_parameters,
    peak_memory_mb,
    record_fields,
    timed_predict,
)
from ..evaluation.records import ModelMetrics
from ..inference.classifier import TextClassifier
from ..models import get_family
from ..models.objective import output_width
from ..runtime.device import resolve_device, resolve_precision, seed_everything
from ..text.batches import EncodedTexts
from ..text.tokens import Encoder, Vocab, build_and_encode
from .distributed import barrier, current
from .distributed import start as start_processes
from .embeddings import Pretrained, load_pretrained, use_pretrained
from .logs import ATTENTION_TEXTS, TensorBoardLogger
from .loop import fit


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
    data: DataConfig | InMemoryRows,
    text_config: TextConfig,
    dataset: Dataset | None = None,
    *,
    data_config: DataConfig | None = None,
) -> PreparedData:
    """The dataset with a vocabulary built on its training split under `text_config`, and every
    split encoded. `data` is a DataConfig naming a file (read now unless `dataset` is given), or
    the rows themselves, in memory:

        prepare_data((texts, labels), TextConfig())
        prepare_data(frame, TextConfig(), data_config=DataConfig(text_column="review"))

    Rows in memory (`InMemoryRows`) are read by `data_config`'s text_column and label_column and
    split by its fractions, limit and seed, as the same rows in a CSV file would be."""
    start = time.perf_counter()
    if dataset is None and isinstance(data, DataConfig):
        dataset = load_dataset(data)
    elif dataset is None:
        dataset = rows_dataset(data, data_config or DataConfig())
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


# --- training ---------------------------------------------------------------------------------


@dataclass
class Trained:
    """A model fitted on prepared data, before it is tested or saved."""

    name: str
    model: nn.Module
    result: Any  # loop.FitResult, or what the family's own fit reports (nbsvm.DirectFit)
    device: torch.device
    pretrained: Pretrained | None

    def classifier(
        self, data: PreparedData, train_config: TrainConfig, metrics: ModelMetrics | None = None
    ) -> TextClassifier:
        """The model as a TextClassifier whose folder says how it was trained (and tested)."""
        return TextClassifier(
            self.name,
            self.model,
            data.vocab,
            data.text_config,
            data.dataset.label_names,
            metadata={
                "training": to_dict(train_config),
                "data": data.summary(),
                **({"metrics": metrics.to_json(with_history=False)} if metrics is not None else {}),
                **({"embeddings": self.pretrained.summary()} if self.pretrained else {}),
            },
            device=self.device,
        )


def train_model(
    name: str,
    data: PreparedData,
    train_config: TrainConfig,
    out: str | Path | None = None,
    progress: bool = True,
    resume: Path | None = None,
    model_settings: Mapping[str, Any] | None = None,
    log_dir: str | Path | None = None,
) -> tuple[TextClassifier, ModelMetrics]:
    """Train model family `name`, evaluate it on the test split, save it into `out`. Training
    checkpoints go to `out/checkpoint`; `resume` carries on from such a checkpoint.
    `model_settings`: fields of the family's Config that replace its defaults (a preset's).
    `log_dir`: a folder for TensorBoard logs (logs.py)."""
    out = Path(out) if out is not None else None
    checkpoint_dir = out / "checkpoint" if out is not None else None
    trained = fit_model(
        name, data, train_config, progress, resume, model_settings, checkpoint_dir, log_dir
    )
    metrics = metrics_on_test(trained, data, train_config)
    classifier = trained.classifier(data, train_config, metrics)
    if out is not None and current().is_main:  # one writer; the others wait for the folder
        classifier.save(out)
    barrier()
    return classifier, metrics


def fit_model(
    name: str,
    data: PreparedData,
    train_config: TrainConfig,
    progress: bool = True,
    resume: Path | None = None,
    model_settings: Mapping[str, Any] | None = None,
    checkpoint_dir: Path | None = None,
    log_dir: str | Path | None = None,
) -> Trained:
    """Build family `name`'s model for `data` and train it: by the gradient loop (fit), or by
    the family's own fit (nbsvm). Arguments as train_model's."""
    family = get_family(name)
    world = start_processes(train_config.device)  # under torchrun: join the other ranks
    device = resolve_device(train_config.device)
    if world.distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())  # this rank's GPU
    if family.fit is not None and resume is not None:
        raise AttnclfError(
            f"{name} trains in one pass and writes no checkpoint; leave out --resume"
        )
    logger = tensorboard_logger(log_dir, name, data, device) if world.is_main else None
    seed_everything(train_config.seed)
    pretrained = (
        load_pretrained(train_config, data.vocab, data.train) if train_config.embeddings else None
    )
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
    try:
        if family.fit is not None:  # a family trained directly (nbsvm), not by the gradient loop
            result = family.fit(model, data.train, data.validation, train_config)
            model.to(device)
            if logger is not None:
                for record in result.history:
                    logger.epoch_end(record, model)
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
                logger=logger,
            )
    finally:
        if logger is not None:
            logger.close()
    return Trained(name, model, result, device, pretrained)


def tensorboard_logger(
    log_dir: str | Path | None, name: str, data: PreparedData, device: torch.device
) -> TensorBoardLogger | None:
    """A TensorBoard logger into `log_dir` (None: none) whose attention images show the first
    validation texts that have words."""
    if log_dir is None:
        return None
    validation = data.dataset.validation
    shown = [i for i in range(len(validation)) if data.validation.lengths[i]][:ATTENTION_TEXTS]
    texts = [(validation.texts[i], data.dataset.label_names[validation.labels[i]]) for i in shown]
    return TensorBoardLogger(
        log_dir, name, data.vocab, data.text_config, data.dataset.label_names, texts, device
    )


def metrics_on_test(
    trained: Trained, data: PreparedData, train_config: TrainConfig
) -> ModelMetrics:
    """The trained model's figures on the test split, with its size, speed and history."""
    model, result, device = trained.model, trained.result, trained.device
    logits, infer_per_s = timed_predict(model, data.test, EVAL_BATCH_SIZE, device)
    test = classification_metrics(logits, data.test.labels, data.dataset.label_names)
    peaks = peak_memory_mb(device)
    return ModelMetrics(
        **record_fields(test),
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


def embedding_width(family: Any, width: int) -> dict[str, int]:
    """The Config field that takes the vectors' width."""
    fields = {f.name for f in dataclasses.fields(family.config)}
    for name in ("embedding_dim", "d_model"):
        if name in fields:
            return {name: width}
    raise AttnclfError(
        f"model {family.name} has no embedding width to set, so it cannot take --embeddings"
    )
