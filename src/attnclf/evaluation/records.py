"""The metrics record, typed: what `train` saves beside a model and what `compare` writes to
metrics.json, built here and nowhere else. The keys are the field names below
(docs/concepts/metrics-json.md), and `report.COLUMNS`, the CLI and the benchmarks name them
through these classes, not as loose strings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

EpochRecord = dict[str, float]  # epoch, train_loss, train_accuracy, val_loss, val_accuracy, ...


@dataclass
class ModelMetrics:
    """One trained model: its test figures, its size, its speed and its training history."""

    test_accuracy: float
    test_loss: float
    precision: float
    recall: float
    f1: float
    roc_auc: float
    confusion_matrix: list[list[int]]  # rows: true label, columns: predicted
    params: int
    best_epoch: int | None  # None: not trained by epochs (an ensemble)
    train_seconds: float
    epoch_seconds: list[float]
    train_samples_per_s: float | None
    train_arithmetic: str  # "fp32" or "bf16"
    infer_samples_per_s: float
    peak_rss_mb: float
    peak_gpu_mb: float | None = None  # on CUDA only
    history: list[EpochRecord] = field(default_factory=list)

    def to_json(self, with_history: bool = True) -> dict[str, Any]:
        data = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if not with_history:
            data.pop("history", None)
        return data


@dataclass
class RunSettings:
    """What a comparison was asked to do, with where it ran."""

    models: list[str]
    data: dict[str, Any]  # config.DataConfig as a dict
    text: dict[str, Any]  # config.TextConfig
    training: dict[str, Any]  # config.TrainConfig
    device: str
    environment: dict[str, Any]  # attnclf, torch, python, machine, cpu, threads
    # per model, the TrainConfig fields it trained with instead of `training`'s (a preset's)
    model_training: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per model, the TextConfig fields it read text with instead of `text`'s
    model_text: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per model, the fields of its family's Config set instead of the family's defaults
    model_settings: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ComparisonRecord:
    """metrics.json of `attnclf compare`."""

    settings: RunSettings
    data: dict[str, Any]  # the data summary: name, sizes, labels, skipped rows, tokens
    models: dict[str, ModelMetrics]
    wall_seconds: float  # reading the data, training and testing every model
    faithfulness: dict[str, dict[str, Any]] | None = None  # per model, when measured
    # with --preset best: how the ensemble row was weighed (ensemble.Weighing.to_json)
    ensemble: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "settings": dataclasses.asdict(self.settings),
            "data": self.data,
            "models": {name: metrics.to_json() for name, metrics in self.models.items()},
            "wall_seconds": self.wall_seconds,
        }
        if self.faithfulness is not None:
            data["faithfulness"] = self.faithfulness
        if self.ensemble is not None:
            data["ensemble"] = self.ensemble
        return data


def metric_names() -> list[str]:
    """Every key of a model's record."""
    return [f.name for f in dataclasses.fields(ModelMetrics)]
