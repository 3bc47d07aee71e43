"""What the logits mean, in one place: two classes are one sigmoid logit (the tutorial's
Dense(1, sigmoid)), more classes one logit each under a softmax. The loss, the predicted label,
the class probabilities and their logarithms all follow this rule."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def output_width(num_labels: int) -> int:
    """Logits per text for `num_labels` classes: 1 for two (sigmoid), else one per class."""
    return 1 if num_labels == 2 else num_labels


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy on a single logit, or categorical cross-entropy."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    return F.cross_entropy(logits, labels)


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    """(N,) the class each row of (N, C) logits predicts."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)


def log_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(N, K) log class probabilities, differentiable; K = 2 for a single sigmoid logit."""
    logits = logits.float()
    if logits.shape[1] == 1:
        return torch.cat([F.logsigmoid(-logits), F.logsigmoid(logits)], dim=1)  # (N, 2)
    return torch.log_softmax(logits, dim=1)  # (N, C)


def probabilities(logits: torch.Tensor) -> np.ndarray:
    """(N, K) class probabilities as an array; K = 2 for a single sigmoid logit."""
    if logits.shape[1] == 1:
        positive = torch.sigmoid(logits[:, 0])
        return torch.stack([1 - positive, positive], dim=1).numpy()
    return torch.softmax(logits, dim=1).numpy()


def logits_of_probabilities(probs: np.ndarray) -> torch.Tensor:
    """The logits whose `probabilities` are the (N, K) `probs` (an ensemble's averaged ones):
    one log-odds logit for two classes, else the log probabilities."""
    clipped = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    if clipped.shape[1] == 2:
        return torch.from_numpy(np.log(clipped[:, 1:]) - np.log(clipped[:, :1])).float()
    return torch.from_numpy(np.log(clipped)).float()
