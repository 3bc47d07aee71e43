"""The metrics and the report, tested directly: classification_metrics on hand-made logits,
and report.py writing what a hand-made record holds (it computes nothing)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from attnclf.evaluation.metrics import classification_metrics
from attnclf.evaluation.records import ComparisonRecord, ModelMetrics, RunSettings, metric_names
from attnclf.training.report import COLUMNS, comparison_table, markdown_report, write_comparison


def test_binary_metrics_from_one_logit():
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])  # predicts 1, 0, 1, 0
    labels = np.array([1, 0, 0, 0])
    metrics = classification_metrics(logits, labels, ["neg", "pos"])
    assert metrics["accuracy"] == 0.75
    assert metrics["precision"] == 0.5 and metrics["recall"] == 1.0
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert metrics["confusion_matrix"] == [[2, 1], [0, 1]]
    assert metrics["roc_auc"] == 1.0  # the one positive has the highest logit
    expected_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, 0], torch.tensor(labels, dtype=torch.float32)
    )
    assert metrics["loss"] == pytest.approx(expected_loss.item())
    assert metrics["examples"] == 4


def test_three_classes_use_macro_averages_and_softmax():
    logits = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0], [3.0, 0, 0]])
    labels = np.array([0, 1, 2, 2])
    metrics = classification_metrics(logits, labels, ["a", "b", "c"])
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert metrics["recall"] == pytest.approx((1 + 1 + 0.5) / 3)


def test_one_class_only_has_no_roc_curve():
    metrics = classification_metrics(torch.tensor([[1.0], [2.0]]), np.array([1, 1]), ["n", "p"])
    assert math.isnan(metrics["roc_auc"]) and metrics["accuracy"] == 1.0


def model_metrics(accuracy: float) -> ModelMetrics:
    history = [
        {"epoch": 1, "train_loss": 0.6, "train_accuracy": 0.7, "val_loss": 0.5,
         "val_accuracy": 0.75, "seconds": 1.5, "samples_per_s": 100.0},
        {"epoch": 2, "train_loss": 0.4, "train_accuracy": 0.8, "val_loss": 0.45,
         "val_accuracy": accuracy, "seconds": 1.25, "samples_per_s": 120.0},
    ]  # fmt: skip
    return ModelMetrics(
        test_accuracy=accuracy, test_loss=0.42, precision=0.8, recall=0.7, f1=0.75,
        roc_auc=0.9, confusion_matrix=[[5, 1], [2, 4]], params=1234, best_epoch=2,
        train_seconds=2.75, epoch_seconds=[1.5, 1.25], train_samples_per_s=110.0,
        train_arithmetic="fp32", infer_samples_per_s=999.0, peak_rss_mb=512.0, history=history,
    )  # fmt: skip


def record() -> ComparisonRecord:
    settings = RunSettings(
        models=["first", "second"],
        data={"source": "reviews.csv"},
        text={"vocab_size": 100, "max_len": 50, "truncation": "tail"},
        training={"epochs": 2, "batch_size": 32, "lr": 0.002, "seed": 0},
        device="cpu",
        environment={"torch": "x"},
    )
    data = {
        "name": "reviews.csv", "labels": ["neg", "pos"], "train": 10, "validation": 2,
        "test": 12, "train_per_label": {"neg": 5, "pos": 5},
        "test_per_label": {"neg": 6, "pos": 6}, "mean_tokens": 9.5, "skipped": {},
    }  # fmt: skip
    models = {"first": model_metrics(0.8125), "second": model_metrics(0.5)}
    return ComparisonRecord(settings, data, models, wall_seconds=7.5)


def test_every_column_names_a_metric():
    assert {key for _, key, _ in COLUMNS} <= set(metric_names())


def test_the_table_shows_each_model_as_recorded():
    table = comparison_table(record().models).splitlines()
    assert table[0].split("|")[1].strip() == "model"
    first = [cell.strip() for cell in table[2].split("|")[1:-1]]
    assert first[:3] == ["first", "0.8125", "0.4200"] and "1,234" in first


def test_write_comparison_writes_the_record_as_it_is(tmp_path):
    written = write_comparison(record(), tmp_path)
    assert written == ["metrics.json", "report.md", "curves.png"]  # no gallery: no page
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics == json.loads(json.dumps(record().to_json()))
    assert "faithfulness" not in metrics and "peak_gpu_mb" not in metrics["models"]["first"]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report == markdown_report(record())
    assert "| second | 2 | 0.4000 | 0.8000 | 0.4500 | 0.5000 | 1.2 |" in report
    assert "wall time of the whole run: 7.5 s" in report
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_settings_name_the_optimizer_the_run_used():
    # a record from before the optimizer was saved: Adam
    assert "batch size 32, Adam lr 0.002, seed 0" in markdown_report(record())
    adadelta = record()
    adadelta.settings.training.update(optimizer="adadelta", lr=1.0)
    assert "batch size 32, Adadelta lr 1.0, seed 0" in markdown_report(adadelta)
