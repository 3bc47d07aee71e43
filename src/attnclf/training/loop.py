"""fit(): the training loop. Adam (or Adadelta) on binary cross-entropy (one sigmoid output, two
classes) or categorical cross-entropy (more classes), validation after every epoch, the best
epoch kept, early stopping after `patience` epochs without a better one, checkpoints to resume
from (see checkpoint.py).

`fit` is one loop read top to bottom; the step (`train_step`), validation (`validate`) and the
epoch's record (`epoch_record`) are functions of their own below it. What it tells as it goes
(the progress bar, a line per epoch, TensorBoard) is logs.py's."""

from __future__ import annotations

import copy
import signal
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

from ..config import TrainConfig
from ..errors import AttnclfError
from ..evaluation.metrics import EVAL_BATCH_SIZE, predict_logits
from ..models.objective import classification_loss, predicted_labels
from ..models.outputs import ClassifierOutput
from ..runtime.device import compact_recurrent_weights, mixed_precision, resolve_precision
from ..runtime.heap import release_free_memory, release_if_grown
from ..text.batches import Batch, EncodedTexts, batch_order, collate
from .checkpoint import Progress, data_fingerprint, load_checkpoint, save_checkpoint
from .distributed import World, all_sum, barrier, current, gather_rng_states, shard
from .logs import TrainingLogger, progress_bar, running_figures, show_epoch

# Steps between handing the heap's free pages back (allocator.py): batches of many widths
# fragment it, and over an epoch of 800-token batches it grew to 4.5 GB without this
TRIM_EVERY_STEPS = 25

Weights = dict[str, torch.Tensor]
Scheduler = torch.optim.lr_scheduler.LRScheduler


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


class InterruptedMidStep(KeyboardInterrupt):
    """Ctrl-C inside a step (a second one: the first waits for the step's end), which leaves
    no state to resume from."""


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
    logger: TrainingLogger | None = None,
) -> FitResult:
    """Train `model` in place and leave it with the weights of its best validation epoch.

    With `checkpoint_dir`, a checkpoint is written there after every epoch (and every
    `config.checkpoint_every` steps); `resume` carries on from one, to the same weights and
    history as a run never stopped. Ctrl-C saves one and raises TrainingInterrupted. `logger`
    (logs.py: TensorBoard) hears of every step and epoch."""
    trainer = start_training(model, len(train), config, device)
    show = progress and trainer.world.is_main  # under torchrun, rank 0 alone shows progress
    rng = np.random.default_rng(config.seed)
    fingerprint = data_fingerprint(train.ids, train.labels)
    run, best_state = Progress(epoch_rng=rng.bit_generator.state), None
    if resume is not None:
        run, best_state = load_checkpoint(
            resume, config, fingerprint, *trainer.parts(), rank=trainer.world.rank
        )
    checkpoints = Checkpoints(checkpoint_dir, fingerprint, trainer, seconds_before=run.seconds)
    try:
        with interrupts_between_steps() as interrupt_requested:
            while run.epoch <= config.epochs and not patience_spent(run, config.patience):
                order = epoch_order(train, config.batch_size, rng, run)
                model.train()
                epoch_start = time.perf_counter() - run.epoch_seconds
                bar = progress_bar(order, run, config.epochs, show)
                for global_index in bar:
                    train_step(trainer, train, global_index, run)
                    trim_heap(run.step)
                    bar.set_postfix(**running_figures(run))
                    if logger is not None:
                        logger.step_end(run, trainer.steps_per_epoch, trainer.optimizer)
                    if interrupt_requested():
                        raise KeyboardInterrupt
                    if checkpoint_due(trainer, run, len(order)):
                        run.epoch_seconds = time.perf_counter() - epoch_start
                        checkpoints.save(run, best_state)
                bar.close()
                seconds = time.perf_counter() - epoch_start
                release_free_memory()
                record = epoch_record(run, seconds)
                if len(validation):
                    record.update(validate(trainer.evaluated, validation, device))
                if run.best_key is None or ranking(record) > run.best_key:
                    run.best_key, run.best_epoch = ranking(record), run.epoch
                    best_state = copy.deepcopy(trainer.evaluated.state_dict())
                run.history.append(record)
                run.next_epoch(epoch_rng=rng.bit_generator.state)
                checkpoints.save(run, best_state)
                if show:
                    show_epoch(record, config.epochs)
                if logger is not None:
                    logger.epoch_end(record, trainer.evaluated)
                if on_epoch_end is not None:
                    on_epoch_end(record)
                if interrupt_requested():
                    raise KeyboardInterrupt
    except KeyboardInterrupt as stop:
        if isinstance(stop, InterruptedMidStep):
            raise TrainingInterrupted(None, run.epoch, run.step) from None
        checkpoints.save(run, best_state)
        raise TrainingInterrupted(checkpoint_dir, run.epoch, run.step) from None
    result = fit_result(run, checkpoints.elapsed())
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


# --- what the loop is made of --------------------------------------------------------------


@dataclass
class Trainer:
    """What a training step changes and where it computes: the model (wrapped in DDP under
    torchrun), its optimizer, the learning-rate schedule and the weight average."""

    model: nn.Module
    stepped: nn.Module  # what the step calls: the model, or its DistributedDataParallel
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler
    averaged: swa_utils.AveragedModel | None
    config: TrainConfig
    device: torch.device
    precision: str
    world: World
    steps_per_epoch: int

    @property
    def evaluated(self) -> nn.Module:
        """The weights validation scores and the best epoch keeps: the average, if any."""
        return self.averaged.module if self.averaged is not None else self.model

    def parts(self) -> tuple[nn.Module, torch.optim.Optimizer, Scheduler, nn.Module | None]:
        """What a checkpoint holds, in checkpoint.py's order."""
        return self.model, self.optimizer, self.scheduler, self.averaged


def start_training(
    model: nn.Module, examples: int, config: TrainConfig, device: torch.device
) -> Trainer:
    """`model` on `device`, with its optimizer, schedule and average for `examples` training
    examples an epoch; under torchrun, wrapped in DDP."""
    precision = resolve_precision(config.precision, device)
    model.to(device)
    world = current()  # several processes under torchrun; see distributed.py
    stepped: nn.Module = model
    if world.distributed:
        # DDP starts every rank from rank 0's weights and averages the gradients in backward
        stepped = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        # each rank its own dropout stream (the weights came from rank 0 above); a resumed run
        # takes each rank's stream back from the checkpoint instead
        torch.manual_seed(config.seed + 1_000_003 * world.rank)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = -(-examples // config.batch_size)
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
    trainer = Trainer(
        model, stepped, optimizer, scheduler, averaged, config, device, precision, world,
        steps_per_epoch,
    )  # fmt: skip
    compact_recurrent_weights(trainer.evaluated)
    return trainer


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """config.optimizer over the model's parameters."""
    if config.optimizer == "adadelta":
        # Kim 2014's CNN-rand settings (docs/results/small-data.md)
        return torch.optim.Adadelta(
            model.parameters(),
            lr=config.lr,
            rho=0.95,
            eps=1e-6,
            weight_decay=config.weight_decay,
            foreach=True,
        )
    # One fused kernel for every parameter instead of a loop of small ops (2-3 ms of a ~160 ms
    # step on 2 CPU cores); the same update rule.
    return torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )


@dataclass
class Checkpoints:
    """fit()'s checkpoints, written into `folder` (None: none), each with the seconds of
    training so far: those of the processes before this one (a resumed run) and this one's."""

    folder: Path | None
    fingerprint: str  # of the training data, so a checkpoint is not resumed on other data
    trainer: Trainer
    seconds_before: float
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def save(self, run: Progress, best_state: Weights | None) -> None:
        """Write where `run` stands: every rank takes part, rank 0 writes."""
        if self.folder is None:
            return
        run.seconds = self.elapsed()
        rng_states = gather_rng_states()
        if self.trainer.world.is_main:
            parts = (*self.trainer.parts(), best_state)
            config = self.trainer.config
            save_checkpoint(
                self.folder, run, config, self.fingerprint, *parts, rng_states=rng_states
            )
        barrier()


def epoch_order(
    train: EncodedTexts, batch_size: int, rng: np.random.Generator, run: Progress
) -> list[np.ndarray]:
    """The batches of the epoch in progress, drawn from its start's generator state, so a
    resumed epoch replays the same order."""
    rng.bit_generator.state = run.epoch_rng
    return batch_order(train.lengths, batch_size, shuffle=True, rng=rng)


def train_step(
    trainer: Trainer, train: EncodedTexts, global_index: np.ndarray, run: Progress
) -> None:
    """One optimizer step on this rank's rows of a global batch; its loss and right answers,
    summed over the ranks, are added to `run`. Ctrl-C from the forward pass to the end of that
    bookkeeping raises InterruptedMidStep."""
    world = trainer.world
    index = shard(global_index, world)
    # This rank's share of the global batch's mean loss, so that DDP's mean of the ranks'
    # gradients is the global batch's gradient (1 in one process).
    weight = len(index) * world.size / len(global_index)
    if not len(index):  # fewer rows than ranks: take part with weight 0
        index, weight = global_index[:1], 0.0
    batch = collate(train, index).to(trainer.device)
    try:
        output, loss = batch_loss(trainer, batch, run)
        update_weights(trainer, loss, weight)
        count_step(trainer, run, batch, output, loss, weight)
    except KeyboardInterrupt:
        raise InterruptedMidStep from None


def batch_loss(
    trainer: Trainer, batch: Batch, run: Progress
) -> tuple[ClassifierOutput, torch.Tensor]:
    """The model's output on `batch` and its loss (with any penalty the model asks for); running
    out of memory or a loss that is not finite is a one-line error."""
    config, device = trainer.config, trainer.device
    try:
        with mixed_precision(trainer.precision, device):
            output = trainer.stepped(batch.ids, batch.lengths)
        loss = classification_loss(output.logits.float(), batch.labels)
        if output.auxiliary_loss is not None:  # a penalty the model asks for
            loss = loss + output.auxiliary_loss.float()
    except torch.OutOfMemoryError:
        raise AttnclfError(
            f"{device} ran out of memory in epoch {run.epoch}, step {run.step + 1} "
            f"with --batch-size {config.batch_size}; try a smaller --batch-size"
        ) from None
    if not torch.isfinite(loss):
        raise AttnclfError(
            f"the loss became {loss.item()} in epoch {run.epoch}, step {run.step + 1}"
            f"; the last good checkpoint stays; try a smaller --lr "
            f"(this run: {config.lr:g})"
        )
    return output, loss


def update_weights(trainer: Trainer, loss: torch.Tensor, weight: float) -> None:
    """Backward, clip, the optimizer's step, the schedule and the weight average."""
    trainer.optimizer.zero_grad(set_to_none=True)
    (loss * weight if trainer.world.distributed else loss).backward()
    if trainer.config.grad_clip:
        nn.utils.clip_grad_norm_(trainer.model.parameters(), trainer.config.grad_clip)
    trainer.optimizer.step()
    trainer.scheduler.step()
    if trainer.averaged is not None:
        trainer.averaged.update_parameters(trainer.model)


def count_step(
    trainer: Trainer,
    run: Progress,
    batch: Batch,
    output: ClassifierOutput,
    loss: torch.Tensor,
    weight: float,
) -> None:
    """Add the step's loss, right answers and rows, over every rank's rows, to `run`."""
    size = len(batch.index) if weight else 0
    right = int((predicted_labels(output.logits) == batch.labels).sum()) if size else 0
    # over every rank's rows (one process: these rows)
    loss_sum, right_sum, seen = all_sum([loss.item() * size, right, size], trainer.device)
    run.step += 1
    run.loss_sum += loss_sum
    run.correct += int(right_sum)
    run.seen += int(seen)


def trim_heap(step: int) -> None:
    if step % TRIM_EVERY_STEPS == 0:
        release_free_memory()  # what fragmentation holds, now and then
    else:
        release_if_grown()  # or sooner, where it piles up faster


def checkpoint_due(trainer: Trainer, run: Progress, epoch_steps: int) -> bool:
    """Whether the step just done is one of every `config.checkpoint_every` steps of the whole
    run, and not the epoch's last (the epoch's end saves anyway)."""
    every = trainer.config.checkpoint_every
    global_step = (run.epoch - 1) * trainer.steps_per_epoch + run.step
    return bool(every and global_step % every == 0 and run.step < epoch_steps)


def epoch_record(run: Progress, seconds: float) -> dict:
    """The training figures of the epoch in progress, which took `seconds`."""
    return {
        "epoch": run.epoch,
        "train_loss": run.loss_sum / max(run.seen, 1),
        "train_accuracy": run.correct / max(run.seen, 1),
        "seconds": seconds,
        "samples_per_s": run.seen / seconds,
    }


def validate(model: nn.Module, validation: EncodedTexts, device: torch.device) -> dict:
    """The model's loss and accuracy on the validation split."""
    logits = predict_logits(model, validation, EVAL_BATCH_SIZE, device)
    labels = torch.from_numpy(validation.labels)
    return {
        "val_loss": classification_loss(logits, labels).item(),
        "val_accuracy": (predicted_labels(logits) == labels).float().mean().item(),
    }


def patience_spent(run: Progress, patience: int) -> bool:
    """Early stopping: whether the last `patience` epochs all fell short of the best one (0:
    never; without a validation split every epoch is the best so far)."""
    return bool(patience) and run.epoch - 1 - run.best_epoch >= patience


def ranking(record: dict) -> tuple[float, float]:
    """How an epoch ranks for the best one: by validation accuracy, then lower validation loss;
    without a validation split, the latest epoch."""
    if "val_accuracy" in record:
        return (record["val_accuracy"], -record["val_loss"])
    return (record["epoch"], 0.0)


def fit_result(run: Progress, seconds: float) -> FitResult:
    """The run's history and best epoch, its training seconds, and its mean training speed."""
    result = FitResult(history=run.history, best_epoch=run.best_epoch)
    result.train_seconds = seconds
    trained = sum(r["samples_per_s"] * r["seconds"] for r in result.history)
    result.train_samples_per_s = trained / max(sum(r["seconds"] for r in result.history), 1e-9)
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
