"""A trained classifier with its vocabulary and label names, saved as a model folder (see
folder.py: `config.json`, `vocab.json`, `model.safetensors`). Inference only: nothing here
imports the training code."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..config import TextConfig, from_dict, to_dict
from ..errors import AttnclfError
from ..models import all_families, get_family
from ..models.objective import probabilities
from ..models.outputs import logits_only
from ..runtime.device import resolve_device
from ..text.batches import EncodedTexts, iterate_batches
from ..text.keras_text import KerasEncoder, KerasTextRules
from ..text.tokens import Encoder, Vocab
from ..version import __version__
from .folder import (
    CLASSIFIER,
    CONFIG_FILE,
    ONNX_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
    load_weights,
    read_config,
    read_json,
    write_folder,
)

RUNTIMES = ("torch", "onnx")


@dataclass
class Scored:
    """One text as a classifier read it: its tokens and, per label, its probability."""

    tokens: list[str]
    truncated: bool
    probabilities: np.ndarray  # (K,)
    attention: np.ndarray | None  # (T,)
    head_attention: np.ndarray | None  # (nh, T)
    token_attention: np.ndarray | None  # (nh, T, T)
    token_scores: np.ndarray | None = None  # (T,) signed share of the logit (see outputs.py)


@dataclass
class Prediction:
    """One text's label, its probability, and the attention on each token the model read."""

    text: str
    label: str
    probability: float
    probabilities: dict[str, float]
    tokens: list[str]
    attention: list[float] | None  # one weight per token; None for a model without attention
    truncated: bool
    head_attention: list[list[float]] | None = None  # (nh, len(tokens)) for multi-head pooling
    # (nh, T, T) for a model whose tokens attend to tokens (transformer, the tutorial's layers)
    token_attention: list[list[list[float]]] | None = None
    # (T,) signed share of the logit per token, for a model without attention (nbsvm)
    token_scores: list[float] | None = None

    def to_dict(self, with_attention: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_attention:
            for key in ("tokens", "attention", "head_attention", "token_attention", "token_scores"):
                data.pop(key)
        return data


class TextScorer(Protocol):
    """What labels texts: a TextClassifier, or an ensemble of them (ensemble.py)."""

    architecture: str
    label_names: list[str]
    metadata: dict[str, Any]

    @property
    def has_attention(self) -> bool: ...

    @property
    def has_signed_attention(self) -> bool: ...

    def infer(
        self, texts: Sequence[str], batch_size: int = 256, attention: bool = True
    ) -> list[Scored | None]: ...

    def predict(self, texts: str | list[str], batch_size: int = 256) -> list[Prediction]: ...

    def predict_proba(self, texts: str | list[str], batch_size: int = 256) -> np.ndarray: ...


class TextClassifier:
    """A model of one family, the vocabulary and text settings it reads with, and its labels."""

    def __init__(
        self,
        architecture: str,
        model: nn.Module,
        vocab: Vocab,
        text_config: TextConfig,
        label_names: list[str],
        metadata: dict[str, Any] | None = None,
        device: str | torch.device = "auto",
    ):
        self.architecture, self.model, self.vocab = architecture, model, vocab
        self.text_config, self.label_names = text_config, list(label_names)
        self.metadata = metadata or {}
        self.encoder = text_encoder(vocab, text_config)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.model.to(self.device).eval()
        self._views: tuple[bool, bool] | None = None

    @property
    def has_attention(self) -> bool:
        """Whether the model returns attention weights (a model that pools without attention
        does not), found by reading one token."""
        return self._read_views()[0]

    @property
    def has_signed_attention(self) -> bool:
        """Whether the model's attention pools each word's own vote, so that each weight times
        the vote is the token's term of the logit (word-attention): it returns both attention
        and token scores."""
        return self._read_views()[1]

    def _read_views(self) -> tuple[bool, bool]:
        """(attention, signed attention), found once by reading one token."""
        if self._views is None:
            ids = torch.full((1, 1), self.vocab.unk_id, device=self.device)
            with torch.inference_mode():
                output = self.model.eval()(ids, torch.ones(1, dtype=torch.long, device=self.device))
            attention = output.attention is not None
            self._views = (attention, attention and output.token_scores is not None)
        return self._views

    def encode(self, texts: list[str]) -> EncodedTexts:
        return EncodedTexts.from_sequences(self.encoder.encode_many(texts))

    @torch.inference_mode()
    def infer(
        self, texts: Sequence[str], batch_size: int = 256, attention: bool = True
    ) -> list[Scored | None]:
        """The one forward pass behind every prediction: per text its tokens, probabilities
        and every attention the model has, as arrays; None for a text with no words. With
        `attention=False`, the probabilities alone (the model may skip its maps: a transformer's
        (nh, T, T) per text and layer would hold GBs over a test split of long reviews)."""
        tokenized = [self.encoder.tokens(text) for text in texts]
        kept = [i for i, (tokens, _) in enumerate(tokenized) if tokens]
        results: list[Scored | None] = [None] * len(texts)
        if not kept:
            return results
        encode = self.encoder.encode_tokens
        data = EncodedTexts.from_sequences([encode(tokenized[i][0]) for i in kept])
        self.model.eval()
        for batch in iterate_batches(data, batch_size):
            with nullcontext() if attention else logits_only(self.model):
                output = self.model(batch.ids.to(self.device), batch.lengths.to(self.device))
            probs = probabilities(output.logits.float().cpu())  # (B, K)
            weights = _numpy(output.attention) if attention else None  # (B, T) or None
            heads = _numpy(output.head_attention) if attention else None  # (B, nh, T) or None
            matrix = _numpy(output.token_attention) if attention else None  # (B, nh, T, T)
            token_scores = _numpy(output.token_scores) if attention else None  # (B, T) or None
            for row, j in enumerate(batch.index):
                i = kept[j]
                tokens, truncated = tokenized[i]
                n = len(tokens)
                results[i] = Scored(
                    tokens=tokens,
                    truncated=truncated,
                    probabilities=probs[row],
                    attention=weights[row, :n] if weights is not None else None,
                    head_attention=heads[row, :, :n] if heads is not None else None,
                    token_attention=matrix[row, :, :n, :n] if matrix is not None else None,
                    token_scores=token_scores[row, :n] if token_scores is not None else None,
                )
        return results

    def predict(self, texts: str | list[str], batch_size: int = 256) -> list[Prediction]:
        """One Prediction per text, in order. A text with no words is an error."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return predictions_of(texts, self.infer(texts, batch_size), self.label_names)

    def predict_proba(self, texts: str | list[str], batch_size: int = 256) -> np.ndarray:
        """(N, K) the probability of each label (columns in `label_names` order) for each text,
        in order, as scikit-learn's `predict_proba`. A text with no words is an error."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return probabilities_of(texts, self.infer(texts, batch_size, attention=False))

    # --- the model folder ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model folder; each file is replaced atomically. A model.onnx exported from
        weights the folder held before goes first: `--runtime onnx` must never run a graph of
        other weights (`attnclf export` writes a new one)."""
        if not any(True for _ in self.model.parameters()):
            raise AttnclfError("a model loaded with --runtime onnx has no weights to save")
        (Path(path) / ONNX_FILE).unlink(missing_ok=True)
        config = {
            "architecture": self.architecture,
            "model": to_dict(self.model.config),
            "text": to_dict(self.text_config),
            "labels": self.label_names,
            **self.metadata,
        }
        return write_folder(path, CLASSIFIER, config, self.model.state_dict(), self.vocab.tokens)

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "auto", runtime: str = "torch"
    ) -> TextClassifier:
        """The folder's model in PyTorch, or with `runtime="onnx"` its exported model.onnx in
        ONNX Runtime (CPU; see onnx_runtime.py)."""
        path = Path(path)
        if runtime not in RUNTIMES:
            raise AttnclfError(f"--runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
        config = read_config(path, CLASSIFIER)
        architecture = config.get("architecture")
        if architecture not in all_families():
            raise AttnclfError(
                f"{path / CONFIG_FILE} names architecture {architecture!r}, which this attnclf "
                f"({__version__}) does not know; it knows {', '.join(all_families())}"
            )
        family = get_family(architecture)
        try:
            tokens = read_json(path, VOCAB_FILE, CLASSIFIER, "vocabulary")
            text_config = from_dict(TextConfig, config.get("text", {}))
            vocab = folder_vocab(tokens, text_config)
            model = family.build(family.make_config(**config["model"]), None)
            labels = list(config["labels"])
        except (KeyError, TypeError, ValueError) as error:
            raise AttnclfError(
                f"{path / CONFIG_FILE} is not a valid model config: {error}"
            ) from None
        metadata = {k: v for k, v in config.items() if k in ("training", "data", "metrics")}
        if runtime == "onnx":
            from .onnx_runtime import OnnxRuntimeModel

            asked = device if isinstance(device, str) else str(device)
            # auto means whatever runs the model, and the graph runs on the CPU even beside a GPU
            if asked != "auto" and resolve_device(asked).type != "cpu":
                raise AttnclfError(
                    f"--runtime onnx runs on the CPU; use --device cpu or auto (not {asked})"
                )
            graph = OnnxRuntimeModel(path / ONNX_FILE, model.config)
            return cls(architecture, graph, vocab, text_config, labels, metadata, "cpu")
        load_weights(model, path / WEIGHTS_FILE)
        return cls(architecture, model, vocab, text_config, labels, metadata, device)


def probabilities_of(texts: list[str], scored: Sequence[Scored | None]) -> np.ndarray:
    """(N, K) the scored texts' probabilities; a text with no words (None) is an error."""
    _check_words(texts, scored)
    return np.stack([found.probabilities for found in scored if found is not None])


def _check_words(texts: list[str], scored: Sequence[Scored | None]) -> None:
    for number, found in enumerate(scored, start=1):
        if found is None:
            raise AttnclfError(f"text {number} has no words to classify: {texts[number - 1]!r}")


def predictions_of(
    texts: list[str], scored: Sequence[Scored | None], label_names: list[str]
) -> list[Prediction]:
    """One Prediction per scored text; a text with no words (None) is an error."""
    _check_words(texts, scored)
    return [
        prediction_of(text, found, label_names)
        for text, found in zip(texts, scored, strict=True)
        if found is not None
    ]


def prediction_of(text: str, found: Scored, label_names: list[str]) -> Prediction:
    """The Prediction of one scored text: its most probable label and every weight it has."""
    probs, best = found.probabilities, int(found.probabilities.argmax())
    heads, matrix = found.head_attention, found.token_attention
    return Prediction(
        text=text,
        label=label_names[best],
        probability=float(probs[best]),
        probabilities=dict(zip(label_names, map(float, probs), strict=True)),
        tokens=found.tokens,
        attention=found.attention.tolist() if found.attention is not None else None,
        truncated=found.truncated,
        head_attention=heads.tolist() if heads is not None else None,
        token_attention=matrix.tolist() if matrix is not None else None,
        token_scores=found.token_scores.tolist() if found.token_scores is not None else None,
    )


def text_encoder(vocab: Vocab, config: TextConfig) -> Encoder | KerasEncoder:
    """What turns a text into the ids a model reads: attnclf's own tokenizer, or the Keras rules
    of an imported model."""
    if config.tokenizer == "keras":
        return KerasEncoder(vocab.tokens, config)
    return Encoder(vocab, config)


def folder_vocab(tokens: list[str], config: TextConfig) -> Vocab:
    """A folder's vocab.json as a Vocab; an imported Keras model's ids keep Keras' order."""
    if config.tokenizer == "keras":
        rules = KerasTextRules(**(config.keras or {}))
        return Vocab.of_ids(tokens, rules.oov_id if rules.oov_id is not None else 1)
    return Vocab(tokens)


def _numpy(values: torch.Tensor | None) -> Any:
    return values.float().cpu().numpy() if values is not None else None


__all__ = ["Prediction", "Scored", "TextClassifier", "TextScorer"]
