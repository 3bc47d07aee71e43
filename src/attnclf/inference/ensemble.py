"""Ensembles: saved classifiers whose probabilities are averaged with weights chosen on the
validation split carved from train, as Mesnil et al. 2014 ("Ensemble of Generative and
Discriminative Techniques for Sentiment Analysis of Movie Reviews") combined NBSVM with neural
models. Each member reads the text its own way (its vocabulary, its length); the ensemble's
probability of label k is sum_m w_m p_m(k), the weights on the simplex.

The weights maximise the validation log-likelihood of that mixture, found by EM for mixture
weights (the objective is concave in w, so EM reaches its maximum): the held-out split that
every member set aside, never the test split. An ensemble's folder holds its members' folders
under `members/` and a config.json with their names and weights: it loads without running code,
as every model folder does (folder.py).

Notation: M members, N texts, K labels.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import DataConfig
from ..data.examples import Dataset
from ..data.splits import load_dataset
from ..errors import AttnclfError
from ..evaluation.metrics import classification_metrics
from ..models.objective import logits_of_probabilities
from ..runtime.files import write_json
from ..version import __version__
from .classifier import Prediction, Scored, TextClassifier, predictions_of, probabilities_of
from .folder import CONFIG_FILE, ENSEMBLE, MODEL_NAME, folder_kind, named_path, read_config

MEMBERS_DIR = "members"
ARCHITECTURE = "ensemble"
Log = Callable[[str], None]


@dataclass
class Member:
    """One classifier of an ensemble, under its name, with its weight."""

    name: str
    weight: float
    classifier: TextClassifier


class Ensemble:
    """Classifiers that answer together: the weighted average of their probabilities."""

    architecture = ARCHITECTURE
    has_attention = False  # the members have theirs: `attnclf explain` shows each
    has_signed_attention = False

    def __init__(self, members: Sequence[Member], metadata: dict[str, Any] | None = None):
        if not members:
            raise AttnclfError("an ensemble needs at least one member model")
        labels = members[0].classifier.label_names
        for member in members[1:]:
            if member.classifier.label_names != labels:
                raise AttnclfError(
                    f"member {member.name} has labels {member.classifier.label_names}, member "
                    f"{members[0].name} {labels}; ensemble members must share their labels"
                )
        weights = np.array([m.weight for m in members], dtype=np.float64)
        if not (np.all(weights >= 0) and weights.sum() > 0):
            raise AttnclfError(f"ensemble weights {weights.tolist()} must be >= 0, not all 0")
        self.members = list(members)
        self.label_names = list(labels)
        self.metadata = metadata or {}
        self.device = members[0].classifier.device

    @property
    def weights(self) -> np.ndarray:
        weights = np.array([m.weight for m in self.members], dtype=np.float64)  # (M,)
        return weights / weights.sum()

    def member_probabilities(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(M, N, K) each member's probabilities; a text a member finds no word in gets that
        member's answer as NaN (see `combine`)."""
        return np.stack(
            [
                _probabilities(
                    m.classifier.infer(texts, batch_size, attention=False), len(self.label_names)
                )
                for m in self.members
            ]
        )

    @torch.inference_mode()
    def infer(
        self, texts: Sequence[str], batch_size: int = 256, attention: bool = True
    ) -> list[Scored | None]:
        """Per text the ensemble's probabilities, with the tokens its first member read (no
        attention, whatever `attention` asks: that is the members'); None for a text no member
        finds a word in."""
        per_member = [m.classifier.infer(texts, batch_size, attention=False) for m in self.members]
        probs = combine(
            np.stack([_probabilities(s, len(self.label_names)) for s in per_member]),
            self.weights,
        )  # (N, K)
        results: list[Scored | None] = []
        for i in range(len(texts)):
            read = next((s[i] for s in per_member if s[i] is not None), None)
            if read is None:
                results.append(None)
                continue
            results.append(Scored(read.tokens, read.truncated, probs[i], None, None, None))
        return results

    def predict(self, texts: str | list[str], batch_size: int = 256) -> list[Prediction]:
        """One Prediction per text, in order. A text with no words is an error."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return predictions_of(texts, self.infer(texts, batch_size), self.label_names)

    def predict_proba(self, texts: str | list[str], batch_size: int = 256) -> np.ndarray:
        """(N, K) the ensemble's probability of each label (columns in `label_names` order) for
        each text, in order, as scikit-learn's `predict_proba`. A text with no words is an
        error."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return probabilities_of(texts, self.infer(texts, batch_size))

    def describe(self) -> str:
        return ", ".join(
            f"{m.name} {w:.3f}" for m, w in zip(self.members, self.weights, strict=True)
        )

    # --- the folder ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Each member's folder under `members/`, then config.json (written last, atomically:
        a folder with a config.json is complete)."""
        path = Path(path)
        for member in self.members:
            member.classifier.save(path / MEMBERS_DIR / member.name)
        config = {
            "format": ENSEMBLE.format,
            "attnclf_version": __version__,
            "architecture": ARCHITECTURE,
            "labels": self.label_names,
            "members": [
                {
                    "name": m.name,
                    "folder": f"{MEMBERS_DIR}/{m.name}",
                    "architecture": m.classifier.architecture,
                    "weight": float(w),
                }
                for m, w in zip(self.members, self.weights, strict=True)
            ],
            **self.metadata,
        }
        write_json(path / CONFIG_FILE, config)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto") -> Ensemble:
        path = Path(path)
        config = read_config(path, ENSEMBLE)
        try:
            listed = [
                (str(m["name"]), str(m["folder"]), float(m["weight"])) for m in config["members"]
            ]
        except (KeyError, TypeError, ValueError) as error:
            raise AttnclfError(
                f"{path / CONFIG_FILE} is not a valid ensemble config: {error}"
            ) from None
        members = []
        for name, folder, weight in listed:
            member_path = (path / folder).resolve()
            if path.resolve() not in member_path.parents:
                raise AttnclfError(
                    f"{path / CONFIG_FILE} names member folder {folder!r} outside the ensemble"
                )
            members.append(Member(name, weight, TextClassifier.load(member_path, device)))
        metadata = {k: v for k, v in config.items() if k in ("data", "metrics", "validation")}
        return cls(members, metadata)


def combine(member_probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, K) the weighted average of (M, N, K) probabilities; a member without an answer for a
    text (NaN) leaves it to the others, their weights renormalised."""
    answered = ~np.isnan(member_probs[:, :, 0])  # (M, N)
    w = weights[:, None] * answered  # (M, N)
    total = w.sum(0)  # (N,)
    mixed = np.einsum("mn,mnk->nk", w, np.nan_to_num(member_probs))  # (N, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        return mixed / total[:, None]


def mixture_weights(
    member_probs: np.ndarray, labels: np.ndarray, iterations: int = 1000, tol: float = 1e-10
) -> np.ndarray:
    """(M,) the weights on the simplex that maximise sum_n log sum_m w_m p_m(y_n | x_n) over
    (M, N, K) member probabilities and (N,) labels, by EM: w_m <- mean_n of member m's share of
    the mixture's probability of the true label."""
    count = member_probs.shape[0]
    true = np.nan_to_num(member_probs[:, np.arange(len(labels)), labels], nan=0.0)  # (M, N)
    true = np.clip(true, 1e-12, 1.0)
    weights = np.full(count, 1.0 / count)  # (M,)
    for _ in range(iterations):
        mixture = weights @ true  # (N,)
        updated = weights * (true / mixture).mean(axis=1)  # (M,)
        if np.abs(updated - weights).max() < tol:
            return updated / updated.sum()
        weights = updated
    return weights / weights.sum()


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def ensemble_metrics(probs: np.ndarray, labels: np.ndarray, label_names: list[str]) -> dict:
    """classification_metrics of averaged probabilities (via the logits they stand for)."""
    return classification_metrics(logits_of_probabilities(probs), labels, label_names)


@dataclass
class Weighing:
    """How an ensemble was weighed: per member (and the ensemble) its validation and test
    accuracy, the weights, and the split they were measured on."""

    names: list[str]
    weights: list[float]
    validation_accuracy: dict[str, float]
    test_accuracy: dict[str, float]
    test_metrics: dict[str, Any]  # the ensemble's, as classification_metrics gives
    validation_examples: int
    test_examples: int
    seconds: float  # scoring both splits and choosing the weights
    test_seconds: float  # scoring the test split with every member

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": dict(zip(self.names, self.weights, strict=True)),
            "validation_accuracy": self.validation_accuracy,
            "test_accuracy": self.test_accuracy,
            "validation_examples": self.validation_examples,
            "seconds": round(self.seconds, 2),
        }

    def table(self) -> str:
        width = max(len(n) for n in [*self.names, "ensemble"])
        lines = [f"{'model':<{width}}  weight  val acc  test acc"]
        for name, weight in zip(self.names, self.weights, strict=True):
            lines.append(
                f"{name:<{width}}  {weight:6.3f}  {self.validation_accuracy[name]:7.4f}  "
                f"{self.test_accuracy[name]:8.4f}"
            )
        lines.append(
            f"{'ensemble':<{width}}  {sum(self.weights):6.3f}  "
            f"{self.validation_accuracy['ensemble']:7.4f}  {self.test_accuracy['ensemble']:8.4f}"
        )
        return "\n".join(lines)


def weigh(
    members: Sequence[tuple[str, TextClassifier]],
    dataset: Dataset,
    weights: Sequence[float] | None = None,
    log: Log | None = None,
) -> tuple[Ensemble, Weighing]:
    """An ensemble of `members` weighed on `dataset`'s validation split (or with the given
    `weights`), with its figures on the test split."""
    start = time.perf_counter()
    validation, test = dataset.validation, dataset.test
    if weights is None and not len(validation):
        raise AttnclfError(
            "the members' split has no validation examples to choose weights on (they trained "
            "with --validation-fraction 0); retrain them with a validation split, or give --weights"
        )
    if weights is not None and len(weights) != len(members):
        raise AttnclfError(f"--weights gives {len(weights)} weights for {len(members)} members")
    val_probs, test_probs = [], []
    test_seconds = 0.0
    for name, classifier in members:
        if log is not None:
            log(f"scoring {name} on {len(validation)} validation and {len(test)} test texts")
        k = len(classifier.label_names)
        val_probs.append(_probabilities(classifier.infer(validation.texts, attention=False), k))
        started = time.perf_counter()
        test_probs.append(_probabilities(classifier.infer(test.texts, attention=False), k))
        test_seconds += time.perf_counter() - started
    val, tst = np.stack(val_probs), np.stack(test_probs)  # (M, N, K)
    chosen = (
        mixture_weights(val, validation.labels)
        if weights is None
        else np.asarray(weights, dtype=np.float64) / max(float(np.sum(weights)), 1e-12)
    )
    ensemble = Ensemble([Member(n, float(w), c) for (n, c), w in zip(members, chosen, strict=True)])
    names = [name for name, _ in members]
    val_acc = {
        n: accuracy(np.nan_to_num(p, nan=0.5), validation.labels)
        for n, p in zip(names, val, strict=True)
    }
    test_acc = {
        n: accuracy(np.nan_to_num(p, nan=0.5), test.labels) for n, p in zip(names, tst, strict=True)
    }
    val_acc["ensemble"] = accuracy(combine(val, ensemble.weights), validation.labels)
    test_probs_mixed = combine(tst, ensemble.weights)  # (N, K)
    metrics = ensemble_metrics(
        np.nan_to_num(test_probs_mixed, nan=0.5), test.labels, ensemble.label_names
    )
    test_acc["ensemble"] = metrics["accuracy"]
    weighing = Weighing(
        names,
        [float(w) for w in ensemble.weights],
        val_acc,
        test_acc,
        metrics,
        len(validation),
        len(test),
        time.perf_counter() - start,
        test_seconds,
    )
    ensemble.metadata = {
        "data": dataset.summary(),
        "metrics": {**{k: v for k, v in metrics.items()}, "test_accuracy": metrics["accuracy"]},
        "validation": {"accuracy": val_acc, "examples": len(validation)},
    }
    return ensemble, weighing


def build_ensemble(
    specs: Sequence[str | Path],
    out: str | Path,
    data: str | None = None,
    weights: Sequence[float] | None = None,
    device: str = "auto",
    log: Log | None = None,
) -> tuple[Ensemble, Weighing]:
    """`attnclf ensemble`: load the member folders, find the split they trained on again,
    weigh them on its validation split, and save the ensemble folder into `out`."""
    named = [member_spec(spec) for spec in specs]
    seen: dict[str, Path] = {}
    for name, path in named:
        if name in seen:
            raise AttnclfError(
                f"two members are named {name!r} ({seen[name]} and {path}); name them NAME=PATH"
            )
        seen[name] = path
    members = [(name, load_member(path, device)) for name, path in named]
    dataset = load_dataset(shared_split(members, data))
    for name, classifier in members:
        check_split(name, classifier, dataset)
    ensemble, weighing = weigh(members, dataset, weights, log)
    ensemble.save(out)
    return ensemble, weighing


def member_spec(spec: str | Path) -> tuple[str, Path]:
    """`PATH` or `NAME=PATH`, as `attnclf serve` reads them: the name becomes a folder under
    `members/`, so it is checked as a served model's name is (no "/" or "..")."""
    name, path = named_path(spec)
    if not MODEL_NAME.fullmatch(name):
        raise AttnclfError(
            f"{spec} gives no usable member name (letters, digits, '.', '_', '-'); name it "
            "with NAME=PATH"
        )
    return name, path


def load_member(path: Path, device: str) -> TextClassifier:
    if folder_kind(path) is ENSEMBLE:
        raise AttnclfError(
            f"{path} is an ensemble; give its members' folders ({path}/{MEMBERS_DIR}/...) instead"
        )
    return TextClassifier.load(path, device)


def shared_split(members: Sequence[tuple[str, TextClassifier]], data: str | None) -> DataConfig:
    """The DataConfig every member's split was made with (recorded in config.json by this
    attnclf; older folders: their training seed and the default fraction), `data` replacing its
    source. Members made from different splits are an error: one's validation texts would be
    another's training texts."""
    found: dict[str, dict[str, Any]] = {}
    for name, classifier in members:
        recorded = classifier.metadata.get("data", {}).get("split")
        if isinstance(recorded, dict):
            found[name] = {k: v for k, v in recorded.items() if k != "source"}
            found[name]["source"] = recorded.get("source")
        else:
            seed = classifier.metadata.get("training", {}).get("seed", 0)
            found[name] = {"seed": seed, "source": None}
    first_name, first = next(iter(found.items()))
    for name, split in found.items():
        differ = [
            key
            for key in sorted(set(split) | set(first))
            if key != "source" and key in split and key in first and split[key] != first[key]
        ]
        if differ:
            raise AttnclfError(
                f"members {first_name} and {name} trained on different splits ({', '.join(differ)}"
                f" differ); train every member with the same --data, --seed, --limit and "
                "--validation-fraction"
            )
    sources = {s["source"] for s in found.values() if s["source"]}
    if data is None:
        if len(sources) != 1:
            raise AttnclfError(
                "cannot tell which data the members trained on"
                + (f" ({', '.join(sorted(sources))})" if sources else "")
                + "; give it with --data"
            )
        data = next(iter(sources))
    known = {f.name for f in dataclasses.fields(DataConfig)}
    settings = {k: v for k, v in first.items() if k in known and k != "source"}
    return DataConfig(**{**settings, "source": data})


def check_split(name: str, classifier: TextClassifier, dataset: Dataset) -> None:
    """The member's recorded split sizes match the split found again."""
    recorded = classifier.metadata.get("data", {})
    for split in ("train", "validation"):
        size = recorded.get(split)
        if isinstance(size, int) and size != len(getattr(dataset, split)):
            raise AttnclfError(
                f"member {name} trained with {size} {split} examples, but this data's split has "
                f"{len(getattr(dataset, split))}; give the --data it trained on (and the same "
                "--seed, --limit and --validation-fraction when training every member)"
            )


def _probabilities(scored: Sequence[Scored | None], labels: int) -> np.ndarray:
    """(N, K) probabilities of scored texts; NaN rows for texts without words."""
    out = np.full((len(scored), labels), np.nan)
    for i, found in enumerate(scored):
        if found is not None:
            out[i] = found.probabilities
    return out


__all__ = ["Ensemble", "Member", "build_ensemble", "mixture_weights", "weigh"]
