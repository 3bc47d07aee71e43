"""fit() for translation models: teacher forcing, Adam on the cross-entropy of every target token
(padding ignored), gradients clipped, greedy exact match on held-out pairs after every epoch,
the best epoch's weights kept. Ctrl-C ends the run between two steps and keeps the model."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..config import to_dict
from ..errors import AttnclfError
from ..runtime.device import resolve_device, seed_everything
from ..training.loop import interrupts_between_steps
from .data import PairData
from .decode import greedy
from .model import Seq2Seq, Seq2SeqConfig
from .pairs import PAD_ID, EncodedPairs, collate_pairs, pad, pair_batches
from .translator import Translator


@dataclass
class Seq2SeqTrainConfig:
    epochs: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    final_lr_share: float = 0.1  # the learning rate falls linearly to lr * this over the run
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"


@dataclass
class Seq2SeqFitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    interrupted: str | None = None  # "epoch 3, step 120" when Ctrl-C ended the run


def sequence_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real target tokens of (B, L, V) scores and (B, L) ids."""
    return F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=PAD_ID)


@torch.inference_mode()
def greedy_outputs(
    model: Seq2Seq, data: EncodedPairs, max_len: int, batch_size: int = 256
) -> list[list[int]]:
    """Each source's greedy output ids (without </s>), in order."""
    model.eval()
    device = next(model.parameters()).device
    outputs: list[list[int]] = [[] for _ in range(len(data))]
    for index in pair_batches(data, batch_size):
        source, lengths = pad([data.sources[i] for i in index])
        for i, hypothesis in zip(
            index, greedy(model, source.to(device), lengths.to(device), max_len), strict=True
        ):
            outputs[i] = hypothesis.ids
    return outputs


def exact_match(model: Seq2Seq, data: EncodedPairs, max_len: int) -> float:
    outputs = greedy_outputs(model, data, max_len)
    right = sum(out == list(t[:-1]) for out, t in zip(outputs, data.targets, strict=True))
    return right / max(len(data), 1)


@torch.inference_mode()
def mean_loss(model: Seq2Seq, data: EncodedPairs, batch_size: int = 256) -> float:
    """Teacher-forced cross-entropy per target token."""
    model.eval()
    device = next(model.parameters()).device
    total = tokens = 0.0
    for index in pair_batches(data, batch_size):
        batch = collate_pairs(data, index).to(device)
        output = model(batch.source, batch.source_lengths, batch.target_in)
        count = int((batch.target_out != PAD_ID).sum())
        total += sequence_loss(output.logits, batch.target_out).item() * count
        tokens += count
    return total / max(tokens, 1)


def fit(
    model: Seq2Seq,
    train: EncodedPairs,
    validation: EncodedPairs | None,
    config: Seq2SeqTrainConfig,
    device: torch.device,
    max_len: int,
    progress: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> Seq2SeqFitResult:
    """Train `model` in place and leave it with the weights of its best validation epoch (the
    last weights without validation pairs). A first Ctrl-C waits for the step under way to end
    (a second one does not wait), then the run stops: the model keeps the best weights
    validated so far, else the current ones, and the result says where it stopped."""
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = -(-len(train) // config.batch_size)
    total_steps = max(steps_per_epoch * config.epochs, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1.0 - (1.0 - config.final_lr_share) * min(step / total_steps, 1)
    )
    rng = np.random.default_rng(config.seed)
    result = Seq2SeqFitResult()
    best_state, best_key = None, None
    started = time.perf_counter()
    epoch, step = 1, 0
    try:
        with interrupts_between_steps() as interrupt_requested:
            for epoch in range(1, config.epochs + 1):
                model.train()
                epoch_start, loss_sum, token_sum = time.perf_counter(), 0.0, 0
                bar = tqdm(
                    pair_batches(train, config.batch_size, shuffle=True, rng=rng),
                    desc=f"epoch {epoch}/{config.epochs}",
                    unit="batch",
                    disable=not progress or None,
                    leave=False,
                )
                for step, index in enumerate(bar, start=1):
                    batch = collate_pairs(train, index).to(device)
                    output = model(batch.source, batch.source_lengths, batch.target_in)
                    loss = sequence_loss(output.logits, batch.target_out)
                    if not torch.isfinite(loss):
                        raise AttnclfError(
                            f"the loss became {loss.item()} in epoch {epoch}, step {step}; try "
                            f"a smaller --lr (this run: {config.lr:g})"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if config.grad_clip:
                        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    count = int((batch.target_out != PAD_ID).sum())
                    loss_sum += loss.item() * count
                    token_sum += count
                    bar.set_postfix(loss=f"{loss_sum / token_sum:.4f}")
                    if interrupt_requested():
                        raise KeyboardInterrupt
                record = {
                    "epoch": epoch,
                    "train_loss": round(loss_sum / max(token_sum, 1), 5),
                    "epoch_seconds": round(time.perf_counter() - epoch_start, 2),
                }
                if validation is not None and len(validation):
                    record["validation_loss"] = round(mean_loss(model, validation), 5)
                    record["validation_exact_match"] = round(
                        exact_match(model, validation, max_len), 5
                    )
                    key = (record["validation_exact_match"], -record["validation_loss"])
                    if best_key is None or key > best_key:
                        best_key, result.best_epoch = key, epoch
                        best_state = copy.deepcopy(model.state_dict())
                result.history.append(record)
                log(_describe(record, config.epochs))
                if interrupt_requested():
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        result.interrupted = f"epoch {epoch}, step {step}"
    result.train_seconds = time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    elif result.history:
        result.best_epoch = result.history[-1]["epoch"]
    model.eval()
    return result


def _describe(record: dict, epochs: int) -> str:
    text = f"epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.4f}"
    if "validation_exact_match" in record:
        text += (
            f", validation loss {record['validation_loss']:.4f}, exact match "
            f"{record['validation_exact_match']:.4f}"
        )
    return text + f" ({record['epoch_seconds']:.1f} s)"


def train_translator(
    data: PairData,
    model_config: Seq2SeqConfig,
    config: Seq2SeqTrainConfig,
    progress: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[Translator, Seq2SeqFitResult]:
    """A seeded model sized to the data's vocabularies, trained by fit(), as a Translator whose
    metadata records the settings, the data and the validation figures."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    model_config = dataclasses.replace(
        model_config,
        source_vocab_size=len(data.source_vocab),
        target_vocab_size=len(data.target_vocab),
    )
    model = Seq2Seq(model_config)
    max_len = data.tokens.max_output_len
    result = fit(model, data.train, data.validation, config, device, max_len, progress, log)
    best = next((r for r in result.history if r["epoch"] == result.best_epoch), {})
    metrics = {
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.train_seconds, 1),
        "validation_exact_match": best.get("validation_exact_match"),
        "validation_loss": best.get("validation_loss"),
        "history": result.history,
    }
    if result.interrupted:
        metrics["interrupted"] = result.interrupted
    metadata = {"training": to_dict(config), "data": data.description, "metrics": metrics}
    translator = Translator(
        model, data.source_vocab, data.target_vocab, data.tokens, metadata, device
    )
    return translator, result
