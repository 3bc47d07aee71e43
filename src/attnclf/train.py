"""fit(): the training loop. Adam on binary cross-entropy (one sigmoid output, two classes) or
categorical cross-entropy (more classes), validation after every epoch, the best epoch kept."""

from __future__ import annotations

import copy
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import swa_utils
from tqdm import tqdm

from .batches import EncodedTexts, iterate_batches
from .config import TrainConfig
from .errors import AttnclfError


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" is CUDA when there is a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AttnclfError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AttnclfError(
            f"--device {name} asked for, but PyTorch sees no CUDA GPU; use auto or cpu"
        )
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy on a single logit, or categorical cross-entropy."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    return F.cross_entropy(logits, labels)


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    train_samples_per_s: float = 0.0


EpochCallback = Callable[[dict], None]


def fit(
    model: nn.Module,
    train: EncodedTexts,
    validation: EncodedTexts,
    config: TrainConfig,
    device: torch.device,
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
) -> FitResult:
    """Train `model` in place and leave it with the weights of its best validation epoch."""
    from .evaluate import predict_logits  # evaluate imports train's loss: keep the cycle lazy

    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(train) // config.batch_size)
    total_steps = max(steps_per_epoch * config.epochs, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        (lambda step: 1.0 - step / total_steps)
        if config.lr_schedule == "linear"
        else (lambda step: 1.0),
    )
    averaged = (
        swa_utils.AveragedModel(
            model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(config.ema_decay)
        )
        if config.ema_decay
        else None
    )
    evaluated = averaged.module if averaged is not None else model
    rng = np.random.default_rng(config.seed)
    result = FitResult()
    best_key, best_state = None, None
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        total_loss = total_correct = seen = 0
        bar = tqdm(
            iterate_batches(train, config.batch_size, shuffle=True, rng=rng),
            total=steps_per_epoch,
            desc=f"epoch {epoch}/{config.epochs}",
            unit="batch",
            disable=not progress or None,
            leave=False,
        )
        for batch in bar:
            batch = batch.to(device)
            output = model(batch.ids, batch.lengths)
            loss = classification_loss(output.logits, batch.labels)
            if not torch.isfinite(loss):
                raise AttnclfError(
                    f"the loss became {loss.item()} in epoch {epoch}; try a smaller --lr"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(model)
            size = len(batch.index)
            total_loss += loss.item() * size
            total_correct += (predicted_labels(output.logits) == batch.labels).sum().item()
            seen += size
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}")
        bar.close()
        train_seconds = time.perf_counter() - epoch_start
        record = {
            "epoch": epoch,
            "train_loss": total_loss / max(seen, 1),
            "train_accuracy": total_correct / max(seen, 1),
            "seconds": train_seconds,
            "samples_per_s": seen / train_seconds,
        }
        if len(validation):
            logits = predict_logits(evaluated, validation, config.batch_size * 4, device)
            labels = torch.from_numpy(validation.labels)
            record["val_loss"] = classification_loss(logits, labels).item()
            record["val_accuracy"] = (predicted_labels(logits) == labels).float().mean().item()
            key = (record["val_accuracy"], -record["val_loss"])
        else:
            key = (epoch, 0.0)
        if best_key is None or key > best_key:
            best_key, result.best_epoch = key, epoch
            best_state = copy.deepcopy(evaluated.state_dict())
        result.history.append(record)
        if progress:
            shown = ", ".join(
                f"{name} {record[name]:.4f}"
                for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
                if name in record
            )
            tqdm.write(
                f"epoch {epoch}/{config.epochs}: {shown} ({train_seconds:.1f} s)", file=sys.stderr
            )
        if on_epoch_end is not None:
            on_epoch_end(record)
    result.train_seconds = time.perf_counter() - started
    trained = sum(r["samples_per_s"] * r["seconds"] for r in result.history)
    result.train_samples_per_s = trained / max(sum(r["seconds"] for r in result.history), 1e-9)
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
