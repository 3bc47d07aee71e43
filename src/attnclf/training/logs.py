"""What training tells as it goes: on the terminal, a progress bar over each epoch's batches and a
line at each epoch's end; with a log folder (`--log-dir`), TensorBoard event files written by
`TensorBoardLogger`:

    step/loss, step/accuracy       the batch's own, at every step (x: steps since the start)
    step/learning_rate             the rate the optimizer holds after the step
    epoch/train_loss, epoch/train_accuracy, epoch/val_loss, epoch/val_accuracy   (x: the epoch)
    attention/validation           an image of the first few validation texts' attention (as
                                   `attnclf explain --png` draws it), at each epoch's end

fit() calls a `TrainingLogger` at the end of every step and epoch. A logger only reads: a run
ends with the same weights with or without one. TensorBoard is an optional extra
(`pip install 'attnclf[tensorboard]'`), imported when a logger is made.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config import TextConfig
from ..errors import AttnclfError
from ..text.tokens import Vocab
from .checkpoint import Progress

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..explain.explanation import Explanation

INSTALL_TENSORBOARD = "pip install 'attnclf[tensorboard]'"
ATTENTION_TEXTS = 3  # validation texts whose attention is drawn at each epoch's end
IMAGE_DPI = 72  # the explain figure is 12 inches wide: 864 pixels


# --- the terminal ---------------------------------------------------------------------------


def progress_bar(order: list[np.ndarray], run: Progress, epochs: int, show: bool) -> tqdm:
    """The epoch's batches from the first one not yet done, behind a progress bar."""
    return tqdm(
        order[run.step :],
        initial=run.step,
        total=len(order),
        desc=f"epoch {run.epoch}/{epochs}",
        unit="batch",
        disable=not show or None,
        leave=False,
    )


def running_figures(run: Progress) -> dict[str, str]:
    """The epoch's mean loss and accuracy so far, for the progress bar."""
    return {"loss": f"{run.loss_sum / run.seen:.4f}", "acc": f"{run.correct / run.seen:.4f}"}


def show_epoch(record: dict, epochs: int) -> None:
    shown = ", ".join(
        f"{name} {record[name]:.4f}"
        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
        if name in record
    )
    tqdm.write(
        f"epoch {record['epoch']}/{epochs}: {shown} ({record['seconds']:.1f} s)", file=sys.stderr
    )


# --- TensorBoard ------------------------------------------------------------------------------


class TrainingLogger(Protocol):
    """What fit() tells of its steps and epochs."""

    def step_end(
        self, run: Progress, steps_per_epoch: int, optimizer: torch.optim.Optimizer
    ) -> None:
        """After each step: `run` holds the epoch's sums so far, `optimizer` its learning rate."""

    def epoch_end(self, record: Mapping[str, float], model: nn.Module) -> None:
        """After each epoch: its entry of the history, and the weights validation scored."""


def require_tensorboard() -> None:
    """A one-line error, before any work, when the tensorboard package is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise AttnclfError(
            f"--log-dir writes TensorBoard logs, which need the tensorboard package: "
            f"{INSTALL_TENSORBOARD}"
        )


class TensorBoardLogger:
    """TensorBoard event files in `log_dir` (the tags are in this module's docstring). The
    attention image shows `texts` (the first few validation texts with words) as the model
    `name` reads them with `vocab` and `text_config`, with their true labels."""

    def __init__(
        self,
        log_dir: str | Path,
        name: str,
        vocab: Vocab,
        text_config: TextConfig,
        label_names: Sequence[str],
        texts: Sequence[tuple[str, str]],
        device: torch.device,
    ):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir))
        self.name, self.vocab, self.text_config = name, vocab, text_config
        self.label_names, self.texts, self.device = list(label_names), list(texts), device
        # the epoch's sums after the last step logged, to tell the next step's own figures
        self._sums: tuple[int, int, float, int, int] | None = None

    def step_end(
        self, run: Progress, steps_per_epoch: int, optimizer: torch.optim.Optimizer
    ) -> None:
        step = (run.epoch - 1) * steps_per_epoch + run.step
        if run.step == 1:
            before: tuple[float, int, int] | None = (0.0, 0, 0)
        elif self._sums is not None and self._sums[:2] == (run.epoch, run.step - 1):
            before = self._sums[2:]
        else:  # the first step after a resume: the step before it was not seen
            before = None
        if before is not None and run.seen > before[2]:
            seen = run.seen - before[2]
            self.writer.add_scalar("step/loss", (run.loss_sum - before[0]) / seen, step)
            self.writer.add_scalar("step/accuracy", (run.correct - before[1]) / seen, step)
        self.writer.add_scalar("step/learning_rate", optimizer.param_groups[0]["lr"], step)
        self._sums = (run.epoch, run.step, run.loss_sum, run.correct, run.seen)

    def epoch_end(self, record: Mapping[str, float], model: nn.Module) -> None:
        epoch = int(record["epoch"])
        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            if name in record:
                self.writer.add_scalar(f"epoch/{name}", record[name], epoch)
        if self.texts:
            from ..explain.png import figure

            image = pixels(figure(self.explanations(model)))  # (H, W, 3)
            self.writer.add_image("attention/validation", image, epoch, dataformats="HWC")
        self.writer.flush()

    def explanations(self, model: nn.Module) -> list[Explanation]:
        """The attention of `model` (left in eval mode, as validation leaves it) on the texts."""
        from ..explain.explanation import explain
        from ..inference.classifier import TextClassifier

        classifier = TextClassifier(
            self.name, model, self.vocab, self.text_config, self.label_names, device=self.device
        )
        texts, labels = zip(*self.texts, strict=True)
        return explain(classifier, list(texts), list(labels))

    def close(self) -> None:
        self.writer.close()


def pixels(fig: Figure, dpi: int = IMAGE_DPI) -> np.ndarray:
    """(H, W, 3) uint8: `fig` drawn on the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(min(dpi, int(60000 / fig.get_figheight())))  # Agg draws 2^16 pixels a side
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")  # scripts the font lacks
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
