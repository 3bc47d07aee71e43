"""Predictions and metrics, as pure functions of a model and encoded texts."""

from __future__ import annotations

import resource
import sys
import time
import warnings

import numpy as np
import torch
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning
from torch import nn

from ..models.objective import classification_loss, predicted_labels, probabilities
from ..models.outputs import logits_only
from ..runtime.heap import release_free_memory, release_if_grown
from ..text.batches import EncodedTexts, iterate_batches

# Texts per inference pass. On 2 CPU cores, 256 ran the self-attention model ~10% faster than
# 512 (3,170 against 2,890 reviews/s on IMDB's test split) and the multi-head one as fast.
EVAL_BATCH_SIZE = 256


@torch.inference_mode()
def predict_logits(
    model: nn.Module, data: EncodedTexts, batch_size: int, device: torch.device
) -> torch.Tensor:
    """(N, C) float32 logits on the CPU, in the order of `data`."""
    model.eval()
    outputs: list[torch.Tensor] = []
    order: list[np.ndarray] = []
    with logits_only(model):  # a model may skip what only the views read
        for batch in iterate_batches(data, batch_size):
            output = model(batch.ids.to(device), batch.lengths.to(device))
            outputs.append(output.logits.float().cpu())  # (B, C)
            order.append(batch.index)
            release_if_grown()
    release_free_memory()  # what the pass freed, before the next phase
    if not outputs:
        return torch.zeros(0, 1)
    logits = torch.cat(outputs)
    restored = torch.empty_like(logits)
    restored[torch.from_numpy(np.concatenate(order))] = logits
    return restored


def classification_metrics(
    logits: torch.Tensor, labels: np.ndarray, label_names: list[str]
) -> dict:
    """Accuracy, loss, precision, recall, F1 (of the positive class for two classes, macro
    otherwise), ROC-AUC and the confusion matrix (rows: true label, columns: predicted)."""
    label_tensor = torch.from_numpy(labels)
    predicted = predicted_labels(logits).numpy()
    probs = probabilities(logits)
    binary = len(label_names) == 2
    average = "binary" if binary else "macro"
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels,
        predicted,
        average=average,
        zero_division=0,
        labels=None if binary else list(range(len(label_names))),
    )
    try:
        with warnings.catch_warnings():  # one class only: no ROC curve, reported as nan
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            if binary:
                roc_auc = float(skm.roc_auc_score(labels, probs[:, 1]))
            else:
                roc_auc = float(
                    skm.roc_auc_score(
                        labels, probs, multi_class="ovr", labels=list(range(len(label_names)))
                    )
                )
    except ValueError:  # a sample with one class only has no ROC curve
        roc_auc = float("nan")
    return {
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "loss": classification_loss(logits, label_tensor).item(),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": roc_auc,
        "confusion_matrix": skm.confusion_matrix(
            labels, predicted, labels=list(range(len(label_names)))
        ).tolist(),
        "examples": len(labels),
    }


def record_fields(test: dict) -> dict:
    """classification_metrics' figures under the names a ModelMetrics record gives them."""
    return {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        **{key: test[key] for key in ("precision", "recall", "f1", "roc_auc", "confusion_matrix")},
    }


def timed_predict(
    model: nn.Module, data: EncodedTexts, batch_size: int, device: torch.device
) -> tuple[torch.Tensor, float]:
    """Logits and inference throughput in samples per second."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    logits = predict_logits(model, data, batch_size, device)
    seconds = time.perf_counter() - start
    return logits, len(data) / max(seconds, 1e-9)


def peak_memory_mb(device: torch.device | None = None) -> dict[str, float]:
    """The process's peak resident memory and, on CUDA, the peak GPU allocation."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    peaks = {"peak_rss_mb": round(rss_mb, 1)}
    if device is not None and device.type == "cuda":
        peaks["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peaks


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
