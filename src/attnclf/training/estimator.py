"""`AttentionClassifier`: attnclf as a scikit-learn estimator, so that a model trains inside a
`Pipeline`, `cross_val_score` or `GridSearchCV` like any other classifier.

    from attnclf import AttentionClassifier

    clf = AttentionClassifier("multihead", epochs=3).fit(texts, labels)
    clf.predict(["A wonderful, moving film."])  # labels, in the type of `labels`
    clf.score(test_texts, test_labels)  # accuracy
    clf.save("models/mh")  # the usual model folder: attnclf.load("models/mh")

`fit(X, y)` trains on the pairs it is given: `validation_fraction` of them (stratified by label,
drawn with `seed`) is held out to choose the best epoch, as `attnclf train` does, and no test
split is held out: scoring is the caller's. Labels may be anything `numpy.unique` sorts (ints,
strings); `classes_` holds them sorted, `predict` returns them in their own type and the columns
of `predict_proba` follow `classes_`. The saved folder names each label by its text (`str`).

A text with no words (none the tokenizer keeps: "", only spaces) cannot be read by the model; its
probabilities are the training labels' frequencies (`class_prior_`), so it is predicted the most
frequent class, and every text of X gets its row, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..config import (
    DEFAULT_LR,
    DataConfig,
    LrSchedule,
    Optimizer,
    Precision,
    TextConfig,
    TrainableTokenizer,
    TrainConfig,
    Truncation,
)
from ..data.examples import Dataset, RawSplit
from ..data.memory import IN_MEMORY
from ..data.splits import ROWS, split_rows
from ..inference.classifier import TextClassifier
from ..models import get_family
from ..models.registry import DATA_FIELDS
from .run import fit_model, prepare_data

_TEXT, _TRAIN = TextConfig(), TrainConfig()  # the defaults, as `attnclf train` has them


class AttentionClassifier(ClassifierMixin, BaseEstimator):
    """A text classifier of any attnclf family (`model`: self-attention, multihead, nbsvm, ...;
    `attnclf train --help` lists them) with scikit-learn's interface. The settings are those of
    `attnclf train`: the text's (vocab_size, max_len, truncation, min_count, tokenizer), the
    optimisation's (epochs, batch_size, optimizer, learning_rate (None: the optimizer's usual,
    2e-3 for adam and 1.0 for adadelta), learning_rate_schedule, weight_decay, grad_clip,
    ema_decay, seed, device, precision; embeddings, freeze_embeddings) and
    `model_settings`, fields of the family's Config that replace its defaults
    ({"hidden_size": 64}). `log_dir`: a folder for TensorBoard logs (each fit adds its own event
    file). `verbose`: progress bars and a line per epoch on stderr while fitting.

    After `fit`: `classes_`, `class_prior_` (the labels' frequencies in y), `classifier_` (the
    trained attnclf.TextClassifier), `history_` (a record per epoch) and `best_epoch_`."""

    def __init__(
        self,
        model: str = "self-attention",
        *,
        epochs: int = _TRAIN.epochs,
        batch_size: int = _TRAIN.batch_size,
        learning_rate: float | None = None,
        optimizer: Optimizer = _TRAIN.optimizer,
        learning_rate_schedule: LrSchedule = _TRAIN.lr_schedule,
        weight_decay: float = _TRAIN.weight_decay,
        grad_clip: float = _TRAIN.grad_clip,
        ema_decay: float = _TRAIN.ema_decay,
        vocab_size: int = _TEXT.vocab_size,
        max_len: int = _TEXT.max_len,
        truncation: Truncation = _TEXT.truncation,
        min_count: int = _TEXT.min_count,
        tokenizer: TrainableTokenizer = "attnclf",
        validation_fraction: float = DataConfig.validation_fraction,
        model_settings: Mapping[str, Any] | None = None,
        embeddings: str | None = None,
        freeze_embeddings: bool = False,
        seed: int = 0,
        device: str = "auto",
        precision: Precision = _TRAIN.precision,
        log_dir: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        # scikit-learn's contract: keep every argument as given; fit checks them
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.learning_rate_schedule = learning_rate_schedule
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.ema_decay = ema_decay
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.truncation = truncation
        self.min_count = min_count
        self.tokenizer = tokenizer
        self.validation_fraction = validation_fraction
        self.model_settings = model_settings
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.seed = seed
        self.device = device
        self.precision = precision
        self.log_dir = log_dir
        self.verbose = verbose

    def fit(self, X: Iterable[str], y: Iterable[Any]) -> AttentionClassifier:
        """Train on the texts X with the labels y (one per text); the same settings and seed
        give the same model."""
        texts = texts_of(X)
        labels = column_or_1d(np.asarray(y), warn=True)
        check_classification_targets(labels)
        if len(texts) != len(labels):
            raise ValueError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        text_config, train_config = self._configs()
        classes, encoded = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y has one class only ({classes[0]!r}); a classifier needs two")
        data = prepare_data(DataConfig(), text_config, self._dataset(texts, encoded, classes))
        trained = fit_model(
            self.model,
            data,
            train_config,
            progress=self.verbose,
            model_settings=self.model_settings,
            log_dir=self.log_dir,
        )
        self.classes_ = classes
        self.class_prior_ = np.bincount(encoded, minlength=len(classes)) / len(encoded)
        self.classifier_: TextClassifier = trained.classifier(data, train_config)
        self.history_: list[dict] = trained.result.history
        self.best_epoch_: int = trained.result.best_epoch
        return self

    def predict_proba(self, X: Iterable[str]) -> np.ndarray:
        """(N, K) each text's probability of each class, the columns in `classes_` order."""
        check_is_fitted(self)
        texts = texts_of(X)
        scored = self.classifier_.infer(texts, attention=False)
        rows = [s.probabilities if s is not None else self.class_prior_ for s in scored]
        return np.stack(rows, dtype=np.float64) if rows else np.zeros((0, len(self.classes_)))

    def predict(self, X: Iterable[str]) -> np.ndarray:
        """(N,) each text's most probable class, in the type of the labels fit was given."""
        proba = self.predict_proba(X)  # (N, K)
        return self.classes_[proba.argmax(axis=1)]

    def save(self, path: str | Path) -> Path:
        """Write the fitted model as a model folder, which `attnclf.load` (and `attnclf
        predict`, `explain`, `serve`) reads; its labels are `str` of `classes_`."""
        check_is_fitted(self)
        return self.classifier_.save(path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _configs(self) -> tuple[TextConfig, TrainConfig]:
        """The text and training settings, each checked: a wrong one is a ValueError."""
        get_family(self.model)  # an unknown family names the known ones
        for name, choices in (
            ("truncation", Truncation),
            ("tokenizer", TrainableTokenizer),
            ("learning_rate_schedule", LrSchedule),
            ("optimizer", Optimizer),
            ("precision", Precision),
        ):
            if getattr(self, name) not in get_args(choices):
                allowed = ", ".join(get_args(choices))
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {allowed}")
        lr = DEFAULT_LR[self.optimizer] if self.learning_rate is None else self.learning_rate
        if not lr > 0:
            raise ValueError(f"learning_rate={self.learning_rate} must be above 0 (or None)")
        from_data = sorted(set(self.model_settings or {}) & set(DATA_FIELDS))
        if from_data:
            raise ValueError(
                f"model_settings sets {', '.join(from_data)}, which the data sets; use "
                "vocab_size=... for the vocabulary's size"
            )
        text = TextConfig(
            vocab_size=self.vocab_size,
            max_len=self.max_len,
            truncation=self.truncation,
            min_count=self.min_count,
            tokenizer=self.tokenizer,
        )
        train = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=lr,
            optimizer=self.optimizer,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            lr_schedule=self.learning_rate_schedule,
            ema_decay=self.ema_decay,
            seed=self.seed,
            device=self.device,
            precision=self.precision,
            embeddings=self.embeddings,
            freeze_embeddings=self.freeze_embeddings,
        )
        return text, train

    def _dataset(self, texts: list[str], encoded: np.ndarray, classes: np.ndarray) -> Dataset:
        """The texts with their labels' indices into `classes`, `validation_fraction` of them
        held out, split as load_dataset splits a file's training rows; no test split."""
        names = [str(label) for label in classes]
        rows = RawSplit(texts, [names[i] for i in encoded])
        split = DataConfig(validation_fraction=self.validation_fraction, seed=self.seed)
        return split_rows(rows, RawSplit(), IN_MEMORY, split, {}, where=ROWS, label_names=names)


def texts_of(X: Any) -> list[str]:
    """X as a list of texts: a sequence of strings, or one column of them (N, 1)."""
    if isinstance(X, str):
        raise ValueError("X is one string; give a sequence of texts, e.g. [text]")
    if getattr(X, "ndim", 1) == 2:
        if X.shape[1] != 1:
            raise ValueError(f"X has {X.shape[1]} columns; give one column of texts")
        X = np.asarray(X)[:, 0]
    texts = list(X)
    for number, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"X[{number}] is a {type(text).__name__}, not a string")
    return texts
