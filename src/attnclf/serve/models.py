"""The models a server holds: each model folder loaded once, under a name, with what `/models`
says about it. Every prediction route runs `TextClassifier.infer`, which keeps the token-by-token
attention too and marks a text with no words instead of failing the whole batch (a batch
gathers the texts of many requests)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import AttnclfError
from ..inference.folder import (
    CLASSIFIER,
    CONFIG_FILE,
    ENSEMBLE,
    MODEL_NAME,
    SEQ2SEQ,
    WEIGHTS_FILE,
    folder_kind,
    named_path,
)

if TYPE_CHECKING:
    from ..inference.classifier import TextScorer
    from ..seq2seq.translator import Translator


@dataclass
class ServedModel:
    """A loaded model folder: a classifier or a translator, and what the server says about it."""

    name: str
    kind: Literal["classifier", "seq2seq"]
    family: str
    version: str
    path: Path | None = None
    classifier: TextScorer | None = None  # a TextClassifier or an ensemble
    translator: Translator | None = None
    attnclf_version: str | None = None

    @property
    def labels(self) -> list[str] | None:
        return self.classifier.label_names if self.classifier is not None else None

    @property
    def has_attention(self) -> bool:
        model = self.classifier if self.classifier is not None else self.translator
        return bool(model is not None and model.has_attention)

    @property
    def metrics(self) -> dict[str, Any] | None:
        model = self.classifier if self.classifier is not None else self.translator
        metrics = model.metadata.get("metrics") if model is not None else None
        return metrics if isinstance(metrics, dict) else None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "family": self.family,
            "labels": self.labels,
            "version": self.version,
            "attnclf_version": self.attnclf_version,
            "has_attention": self.has_attention,
            "metrics": self.metrics,
        }

    @classmethod
    def of_classifier(cls, name: str, classifier: TextScorer) -> ServedModel:
        """A classifier made in this process (a test, a notebook), not read from a folder."""
        return cls(name, "classifier", classifier.architecture, "in-memory", classifier=classifier)

    @classmethod
    def of_translator(cls, name: str, translator: Translator) -> ServedModel:
        family = f"seq2seq-{translator.model.config.attention}"
        return cls(name, "seq2seq", family, "in-memory", translator=translator)


def parse_spec(spec: str | Path) -> tuple[str, Path]:
    """`PATH` or `NAME=PATH`: the name defaults to the folder's own name."""
    name, path = named_path(spec)
    if not MODEL_NAME.fullmatch(name):
        raise AttnclfError(
            f"cannot serve {spec}: {name!r} is not a usable model name (letters, digits, '.', "
            "'_', '-'); name it with NAME=PATH"
        )
    return name, path


def load_model(name: str, path: Path, device: str = "auto", runtime: str = "torch") -> ServedModel:
    """Load one model folder of any kind attnclf writes (a classifier in `runtime`: torch, or
    onnx for its exported model.onnx); a one-line AttnclfError naming the folder when it cannot
    be served."""
    from ..inference.classifier import TextClassifier
    from ..inference.folder import read_json
    from ..seq2seq.translator import load as load_translator

    try:
        kind = folder_kind(path)
        if kind is None:
            read_json(path, CONFIG_FILE, CLASSIFIER, "config")  # names what is missing
            raise AttnclfError(
                f"{path / CONFIG_FILE} is neither a classifier, an ensemble nor a seq2seq "
                f"config; give a folder written by `{CLASSIFIER.written_by}`, "
                f"`{ENSEMBLE.written_by}` or `{SEQ2SEQ.written_by}`"
            )
        config = read_json(path, CONFIG_FILE, kind, "config")
        attnclf_version = config.get("attnclf_version")
        if kind is ENSEMBLE:
            from ..inference.loading import load_any

            ensemble = load_any(path, device, runtime)  # --runtime onnx: a one-line error
            version = _ensemble_version(path, ensemble)
            served = ServedModel.of_classifier(name, ensemble)
        elif kind is SEQ2SEQ:
            version = _weights_version(path / WEIGHTS_FILE)
            translator = load_translator(path, device)
            served = ServedModel.of_translator(name, translator)
        else:
            version = _weights_version(path / WEIGHTS_FILE)
            served = ServedModel.of_classifier(name, TextClassifier.load(path, device, runtime))
    except AttnclfError as error:
        raise AttnclfError(f"cannot serve {path}: {error}") from None
    served.path, served.version = path, version
    served.attnclf_version = attnclf_version if isinstance(attnclf_version, str) else None
    return served


def load_models(
    specs: Sequence[str | Path], device: str = "auto", runtime: str = "torch"
) -> dict[str, ServedModel]:
    """Every model folder of `specs` (see parse_spec), by name, in the order given."""
    if not specs:
        raise AttnclfError("no model to serve; give one or more model folders")
    named = [parse_spec(spec) for spec in specs]
    seen: dict[str, Path] = {}
    for name, path in named:
        if name in seen:
            raise AttnclfError(
                f"two models are named {name!r} ({seen[name]} and {path}); name them with NAME=PATH"
            )
        seen[name] = path
    return {name: load_model(name, path, device, runtime) for name, path in named}


def _ensemble_version(path: Path, ensemble: Any) -> str:
    """One digest over the members' weights and the ensemble's weighing."""
    digest = hashlib.sha256()
    for member, weight in zip(ensemble.members, ensemble.weights, strict=True):
        folder = path / "members" / member.name
        digest.update(
            f"{member.name}:{weight:.6f}:{_weights_version(folder / WEIGHTS_FILE)}".encode()
        )
    return digest.hexdigest()[:12]


def _weights_version(file: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return "unknown"  # loading the weights says what is wrong
    return digest.hexdigest()[:12]
