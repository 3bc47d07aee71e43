"""A trained classifier with its vocabulary and label names, saved as a folder:
`config.json`, `vocab.json` and `model.safetensors`. Loading runs no code from the folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from . import __version__
from .batches import EncodedTexts, iterate_batches
from .config import TextConfig, from_dict, to_dict
from .errors import AttnclfError
from .evaluate import probabilities
from .files import atomic_write, write_json
from .models import FAMILIES, build_model, model_config
from .text import Encoder, Vocab
from .train import resolve_device

CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE = "config.json", "vocab.json", "model.safetensors"
FORMAT = "attnclf-classifier"


@dataclass
class Prediction:
    """One text's label, its probability, and the attention on each token the model read."""

    text: str
    label: str
    probability: float
    probabilities: dict[str, float]
    tokens: list[str]
    attention: list[float]
    truncated: bool
    head_attention: list[list[float]] | None = None

    def to_dict(self, with_attention: bool = True) -> dict:
        data = asdict(self)
        if not with_attention:
            for key in ("tokens", "attention", "head_attention"):
                data.pop(key)
        return data


class TextClassifier:
    """A model of one family, the vocabulary and text settings it reads with, and its labels."""

    def __init__(
        self,
        architecture: str,
        model: nn.Module,
        vocab: Vocab,
        text_config: TextConfig,
        label_names: list[str],
        metadata: dict | None = None,
        device: str | torch.device = "auto",
    ):
        self.architecture, self.model, self.vocab = architecture, model, vocab
        self.text_config, self.label_names = text_config, list(label_names)
        self.metadata = metadata or {}
        self.encoder = Encoder(vocab, text_config)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.model.to(self.device).eval()

    def encode(self, texts: list[str]) -> EncodedTexts:
        return EncodedTexts.from_sequences(self.encoder.encode_many(texts))

    @torch.inference_mode()
    def predict(self, texts: str | list[str], batch_size: int = 256) -> list[Prediction]:
        """One Prediction per text, in order. A text with no words is an error."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        tokenized = [self.encoder.tokens(text) for text in texts]
        for number, (tokens, _) in enumerate(tokenized, start=1):
            if not tokens:
                raise AttnclfError(f"text {number} has no words to classify: {texts[number - 1]!r}")
        data = EncodedTexts.from_sequences([self.vocab.encode(tokens) for tokens, _ in tokenized])
        self.model.eval()
        results: list[Prediction | None] = [None] * len(texts)
        for batch in iterate_batches(data, batch_size):
            output = self.model(batch.ids.to(self.device), batch.lengths.to(self.device))
            probs = probabilities(output.logits.float().cpu())  # (B, K)
            attention = output.attention.float().cpu().numpy()  # (B, T)
            heads = output.head_attention
            heads = heads.float().cpu().numpy() if heads is not None else None  # (B, nh, T)
            for row, i in enumerate(batch.index):
                tokens, truncated = tokenized[i]
                n, best = len(tokens), int(probs[row].argmax())
                results[i] = Prediction(
                    text=texts[i],
                    label=self.label_names[best],
                    probability=float(probs[row, best]),
                    probabilities=dict(zip(self.label_names, map(float, probs[row]), strict=True)),
                    tokens=tokens,
                    attention=attention[row, :n].tolist(),
                    truncated=truncated,
                    head_attention=heads[row, :, :n].tolist() if heads is not None else None,
                )
        return results  # type: ignore[return-value]

    def explain(self, texts: str | list[str]):
        """The attention on every token, as an Explanation (a list for a list of texts) that
        shows as coloured words in a notebook; see attnclf.explain."""
        from .explain import explain

        explanations = explain(self, texts)
        return explanations[0] if isinstance(texts, str) else explanations

    # --- the model folder ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model folder; each file is replaced atomically."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        atomic_write(path / WEIGHTS_FILE, lambda tmp: save_file(state, str(tmp)))
        self.vocab.save(path / VOCAB_FILE)
        write_json(
            path / CONFIG_FILE,
            {
                "format": FORMAT,
                "attnclf_version": __version__,
                "architecture": self.architecture,
                "model": to_dict(self.model.config),
                "text": to_dict(self.text_config),
                "labels": self.label_names,
                **self.metadata,
            },
        )
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto") -> TextClassifier:
        path = Path(path)
        config = _read_config(path)
        architecture = config.get("architecture")
        if architecture not in FAMILIES:
            raise AttnclfError(
                f"{path / CONFIG_FILE} names architecture {architecture!r}, which this attnclf "
                f"({__version__}) does not know; it knows {', '.join(FAMILIES)}"
            )
        try:
            vocab = Vocab.load(path / VOCAB_FILE)
            model = build_model(architecture, model_config(architecture, **config["model"]))
            text_config = from_dict(TextConfig, config.get("text", {}))
            labels = list(config["labels"])
        except FileNotFoundError:
            raise AttnclfError(
                f"{path} has no {VOCAB_FILE}; the model folder is incomplete"
            ) from None
        except (KeyError, TypeError, ValueError) as error:
            raise AttnclfError(
                f"{path / CONFIG_FILE} is not a valid model config: {error}"
            ) from None
        _load_weights(model, path / WEIGHTS_FILE)
        metadata = {k: v for k, v in config.items() if k in ("training", "data", "metrics")}
        return cls(architecture, model, vocab, text_config, labels, metadata, device)


def _read_config(path: Path) -> dict:
    if not path.is_dir():
        raise AttnclfError(f"{path} is not a folder; give the folder that `attnclf train` wrote")
    file = path / CONFIG_FILE
    if not file.exists():
        raise AttnclfError(
            f"{path} is not an attnclf model folder (no {CONFIG_FILE}); "
            "give the folder that `attnclf train --out` wrote"
        )
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise AttnclfError(f"{file} is not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise AttnclfError(f"{file} is not an attnclf classifier config (format {FORMAT!r})")
    return config


def _load_weights(model: nn.Module, file: Path) -> None:
    if not file.exists():
        raise AttnclfError(f"{file.parent} has no {WEIGHTS_FILE}; the model folder is incomplete")
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as error:
        raise AttnclfError(
            f"{file} is not a safetensors file ({error}); retrain or re-copy it"
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:5])}")
    if wrong:
        problems.append(f"wrong shape {', '.join(wrong[:5])}")
    if problems:
        raise AttnclfError(
            f"{file} does not fit its config.json ({'; '.join(problems)}); "
            "was it saved by another attnclf version? retrain it with this one"
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def load(path: str | Path, device: str | torch.device = "auto") -> TextClassifier:
    """Load a saved model folder: `attnclf.load("models/sa").predict(["Great film!"])`."""
    return TextClassifier.load(path, device)


__all__ = ["Prediction", "TextClassifier", "load"]
