"""fit(): the training loop. Adam on binary cross-entropy (one sigmoid output, two classes) or
categorical cross-entropy (more classes), validation after every epoch, the best epoch kept,
checkpoints to resume from (see checkpoint.py)."""

from __future__ import annotations

import copy
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim import swa_utils
from tqdm import tqdm

from ..config import TrainConfig
from ..errors import AttnclfError
from ..evaluation.metrics import EVAL_BATCH_SIZE, predict_logits
from ..models.objective import classification_loss, predicted_labels
from ..runtime.device import compact_recurrent_weights, mixed_precision, resolve_precision
from ..runtime.heap import release_free_memory, release_if_grown
from ..text.batches import EncodedTexts, batch_order, collate
from .checkpoint import Progress, data_fingerprint, load_checkpoint, save_checkpoint
from .distributed import all_sum, barrier, current, gather_rng_states, shard

# Steps between handing the heap's free pages back (allocator.py): batches of many widths
# fragment it, and over an epoch of 800-token batches it grew to 4.5 GB without this
TRIM_EVERY_STEPS = 25


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    train_samples_per_s: float = 0.0


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training; `checkpoint` holds where it stood (None when none was written)."""

    def __init__(self, checkpoint: Path | None, epoch: int, step: int):
        super().__init__(f"interrupted at epoch {epoch}, step {step}")
        self.checkpoint, self.epoch, self.step = checkpoint, epoch, step


EpochCallback = Callable[[dict], None]


def warmed_up_ema(
    decay: float,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | int], torch.Tensor]:
    """An exponential moving average whose decay is 1 - 1/(n + 1) until that reaches `decay`:
    a plain mean of the first 1 / (1 - decay) steps, so a short run is not held near its random
    initial weights (plain EMA keeps 0.99^15 = 86% of them after 15 steps)."""

    def average(
        averaged: torch.Tensor, current: torch.Tensor, n: torch.Tensor | int
    ) -> torch.Tensor:
        steps = torch.as_tensor(n, device=averaged.device).to(averaged.dtype)
        rate = torch.clamp(1.0 / (steps + 1.0), min=1.0 - decay)
        return averaged + (current - averaged) * rate

    return average


def fit(
    model: nn.Module,
    train: EncodedTexts,
    validation: EncodedTexts,
    config: TrainConfig,
    device: torch.device,
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
    checkpoint_dir: Path | None = None,
    resume: Path | None = None,
) -> FitResult:
    """Train `model` in place and leave it with the weights of its best validation epoch.

    With `checkpoint_dir`, a checkpoint is written there after every epoch (and every
    `config.checkpoint_every` steps); `resume` carries on from one, to the same weights and
    history as a run never stopped. Ctrl-C saves one and raises TrainingInterrupted."""
    precision = resolve_precision(config.precision, device)
    model.to(device)
    world = current()  # several processes under torchrun; see distributed.py
    progress = progress and world.is_main
    stepped: nn.Module = model
    if world.distributed:
        # DDP starts every rank from rank 0's weights and averages the gradients in backward
        stepped = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        # each rank its own dropout stream (the weights came from rank 0 above); a resumed run
        # takes each rank's stream back from the checkpoint instead
        torch.manual_seed(config.seed + 1_000_003 * world.rank)
    # One fused kernel for every parameter instead of a loop of small ops (2-3 ms of a ~160 ms
    # step on 2 CPU cores); the same update rule.
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    steps_per_epoch = -(-len(train) // config.batch_size)
    total_steps = max(steps_per_epoch * config.epochs, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        (lambda step: 1.0 - step / total_steps)
        if config.lr_schedule == "linear"
        else (lambda step: 1.0),
    )
    averaged = (
        swa_utils.AveragedModel(model, avg_fn=warmed_up_ema(config.ema_decay))
        if config.ema_decay
        else None
    )
    evaluated = averaged.module if averaged is not None else model
    compact_recurrent_weights(evaluated)
    rng = np.random.default_rng(config.seed)
    fingerprint = data_fingerprint(train.ids, train.labels)
    run, best_state = Progress(epoch_rng=rng.bit_generator.state), None
    if resume is not None:
        parts = (model, optimizer, scheduler, averaged)
        run, best_state = load_checkpoint(resume, config, fingerprint, *parts, rank=world.rank)

    def save() -> None:
        if checkpoint_dir is not None:
            run.seconds = seconds_before + time.perf_counter() - started
            parts = (model, optimizer, scheduler, averaged, best_state)
            rng_states = gather_rng_states()  # every rank takes part; rank 0 writes
            if world.is_main:
                save_checkpoint(
                    checkpoint_dir, run, config, fingerprint, *parts, rng_states=rng_states
                )
            barrier()

    seconds_before, started = run.seconds, time.perf_counter()
    stepping = False  # from a step's forward pass (dropout draws) to the end of its bookkeeping
    try:
        with interrupts_between_steps() as interrupt_requested:
            while run.epoch <= config.epochs:
                epoch = run.epoch
                rng.bit_generator.state = run.epoch_rng  # replays the order of a resumed epoch
                order = batch_order(train.lengths, config.batch_size, shuffle=True, rng=rng)
                model.train()
                epoch_start = time.perf_counter() - run.epoch_seconds
                bar = tqdm(
                    order[run.step :],
                    initial=run.step,
                    total=len(order),
                    desc=f"epoch {epoch}/{config.epochs}",
                    unit="batch",
                    disable=not progress or None,
                    leave=False,
                )
                for global_index in bar:
                    index = shard(global_index, world)
                    # This rank's share of the global batch's mean loss, so that DDP's mean of
                    # the ranks' gradients is the global batch's gradient (1 in one process).
                    weight = len(index) * world.size / len(global_index)
                    if not len(index):  # fewer rows than ranks: take part with weight 0
                        index, weight = global_index[:1], 0.0
                    batch = collate(train, index).to(device)
                    stepping = True
                    try:
                        with mixed_precision(precision, device):
                            output = stepped(batch.ids, batch.lengths)
                        loss = classification_loss(output.logits.float(), batch.labels)
                        if output.auxiliary_loss is not None:  # a penalty the model asks for
                            loss = loss + output.auxiliary_loss.float()
                    except torch.OutOfMemoryError:
                        raise AttnclfError(
                            f"{device} ran out of memory in epoch {epoch}, step {run.step + 1} "
                            f"with --batch-size {config.batch_size}; try a smaller --batch-size"
                        ) from None
                    if not torch.isfinite(loss):
                        raise AttnclfError(
                            f"the loss became {loss.item()} in epoch {epoch}, step {run.step + 1}"
                            f"; the last good checkpoint stays; try a smaller --lr "
                            f"(this run: {config.lr:g})"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    (loss * weight if world.distributed else loss).backward()
                    if config.grad_clip:
                        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    if averaged is not None:
                        averaged.update_parameters(model)
                    size = len(batch.index) if weight else 0
                    right = (
                        int((predicted_labels(output.logits) == batch.labels).sum()) if size else 0
                    )
                    # over every rank's rows (one process: these rows)
                    loss_sum, right_sum, seen = all_sum([loss.item() * size, right, size], device)
                    run.step += 1
                    run.loss_sum += loss_sum
                    run.correct += int(right_sum)
                    run.seen += int(seen)
                    stepping = False
                    if run.step % TRIM_EVERY_STEPS == 0:
                        release_free_memory()  # what fragmentation holds, now and then
                    else:
                        release_if_grown()  # or sooner, where it piles up faster
                    bar.set_postfix(
                        loss=f"{run.loss_sum / run.seen:.4f}", acc=f"{run.correct / run.seen:.4f}"
                    )
                    if interrupt_requested():
                        raise KeyboardInterrupt
                    global_step = (epoch - 1) * steps_per_epoch + run.step
                    if (
                        config.checkpoint_every
                        and global_step % config.checkpoint_every == 0
                        and run.step < len(order)  # the epoch's end saves anyway
                    ):
                        run.epoch_seconds = time.perf_counter() - epoch_start
                        save()
                bar.close()
                train_seconds = time.perf_counter() - epoch_start
                release_free_memory()
                record = {
                    "epoch": epoch,
                    "train_loss": run.loss_sum / max(run.seen, 1),
                    "train_accuracy": run.correct / max(run.seen, 1),
                    "seconds": train_seconds,
                    "samples_per_s": run.seen / train_seconds,
                }
                if len(validation):
                    logits = predict_logits(evaluated, validation, EVAL_BATCH_SIZE, device)
                    labels = torch.from_numpy(validation.labels)
                    record["val_loss"] = classification_loss(logits, labels).item()
                    record["val_accuracy"] = (
                        (predicted_labels(logits) == labels).float().mean().item()
                    )
                    key = (record["val_accuracy"], -record["val_loss"])
                else:
                    key = (epoch, 0.0)
                if run.best_key is None or key > run.best_key:
                    run.best_key, run.best_epoch = key, epoch
                    best_state = copy.deepcopy(evaluated.state_dict())
                run.history.append(record)
                run.next_epoch(epoch_rng=rng.bit_generator.state)
                save()
                if progress:
                    shown = ", ".join(
                        f"{name} {record[name]:.4f}"
                        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
                        if name in record
                    )
                    tqdm.write(
                        f"epoch {epoch}/{config.epochs}: {shown} ({train_seconds:.1f} s)",
                        file=sys.stderr,
                    )
                if on_epoch_end is not None:
                    on_epoch_end(record)
                if interrupt_requested():
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        if stepping:  # not between two steps (a second Ctrl-C): not a state to resume from
            raise TrainingInterrupted(None, run.epoch, run.step) from None
        save()
        raise TrainingInterrupted(checkpoint_dir, run.epoch, run.step) from None
    result = FitResult(history=run.history, best_epoch=run.best_epoch)
    result.train_seconds = seconds_before + time.perf_counter() - started
    trained = sum(r["samples_per_s"] * r["seconds"] for r in result.history)
    result.train_samples_per_s = trained / max(sum(r["seconds"] for r in result.history), 1e-9)
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


@contextmanager
def interrupts_between_steps() -> Iterator[Callable[[], bool]]:
    """Hold a first Ctrl-C until the step under way is done, so the checkpoint it leads to is a
    state to resume from; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    requested: list[bool] = []

    def note(signum, frame) -> None:
        if requested:
            raise KeyboardInterrupt
        requested.append(True)

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield lambda: bool(requested)
    finally:
        signal.signal(signal.SIGINT, previous)
