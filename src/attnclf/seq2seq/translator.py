"""A trained translation model with its vocabularies and token settings, saved as a folder:
`config.json`, `vocab.json` (source and target tokens) and `model.safetensors`. Loading reads
JSON and safetensors only; it runs no code from the folder."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..config import from_dict, to_dict
from ..errors import AttnclfError
from ..inference.folder import (
    CONFIG_FILE,
    SEQ2SEQ,
    VOCAB_FILE,
    WEIGHTS_FILE,
    load_weights,
    read_config,
    read_json,
    write_folder,
)
from ..runtime.device import resolve_device
from ..text.tokens import Vocab
from .decode import Hypothesis, beam_search, greedy
from .model import Seq2Seq, Seq2SeqConfig
from .pairs import EOS, TokenConfig, check_vocab, detokenize, pad, tokenize

FORMAT = SEQ2SEQ.format


@dataclass
class Translation:
    """One source, its translation, and where the decoder looked for each output token."""

    source: str
    output: str
    source_tokens: list[str]
    output_tokens: list[str]  # without </s>
    # (len(output_tokens) + ended, len(source_tokens)): alpha per output token, </s> included;
    # None for a model without attention
    alignment: list[list[float]] | None
    ended: bool  # False when the length limit cut the output before </s>
    log_prob: float

    @property
    def rows(self) -> list[str]:
        """The alignment's row labels: the output tokens, then </s> if it was emitted."""
        return self.output_tokens + ([EOS] if self.ended else [])

    def to_dict(self, with_alignment: bool = True) -> dict:
        data = asdict(self)
        if not with_alignment:
            for key in ("source_tokens", "output_tokens", "alignment"):
                data.pop(key)
        return data


class Translator:
    def __init__(
        self,
        model: Seq2Seq,
        source_vocab: Vocab,
        target_vocab: Vocab,
        tokens: TokenConfig,
        metadata: dict | None = None,
        device: str | torch.device = "auto",
    ):
        self.model, self.source_vocab, self.target_vocab = model, source_vocab, target_vocab
        self.tokens, self.metadata = tokens, metadata or {}
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.model.to(self.device).eval()

    @property
    def has_attention(self) -> bool:
        return self.model.config.attention != "none"

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.tokens)

    def detokenize(self, tokens: list[str]) -> str:
        return detokenize(tokens, self.tokens)

    @torch.inference_mode()
    def translate(
        self, texts: str | list[str], beam: int = 1, batch_size: int = 256
    ) -> list[Translation]:
        """One Translation per text, in order: greedy with `beam` 1, else beam search."""
        if beam < 1:
            raise AttnclfError(f"--beam {beam} must be at least 1 (1 is greedy decoding)")
        texts = [texts] if isinstance(texts, str) else list(texts)
        tokenized = [self.tokenize(text) for text in texts]
        for number, tokens in enumerate(tokenized, start=1):
            if not tokens:
                raise AttnclfError(f"text {number} has nothing to translate: {texts[number - 1]!r}")
        ids = [self.source_vocab.encode(tokens).astype("int64") for tokens in tokenized]
        limit = self.tokens.max_output_len
        self.model.eval()
        hypotheses: list[Hypothesis | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))  # little padding
        for start in range(0, len(order), batch_size if beam == 1 else 1):
            index = order[start : start + (batch_size if beam == 1 else 1)]
            source, lengths = pad([ids[i] for i in index])
            source, lengths = source.to(self.device), lengths.to(self.device)
            if beam == 1:
                found = greedy(self.model, source, lengths, limit)
            else:
                found = [beam_search(self.model, source, lengths, beam, limit)]
            for i, hypothesis in zip(index, found, strict=True):
                hypotheses[i] = hypothesis
        return [
            self._translation(text, tokens, hypothesis)  # type: ignore[arg-type]
            for text, tokens, hypothesis in zip(texts, tokenized, hypotheses, strict=True)
        ]

    def _translation(self, text: str, tokens: list[str], found: Hypothesis) -> Translation:
        output_tokens = self.target_vocab.decode(found.ids)
        return Translation(
            source=text,
            output=self.detokenize(output_tokens),
            source_tokens=tokens,
            output_tokens=output_tokens,
            alignment=found.alignment.tolist() if found.alignment is not None else None,
            ended=found.ended,
            log_prob=found.log_prob,
        )

    # --- the model folder ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model folder; each file is replaced atomically."""
        vocab = {"source": self.source_vocab.tokens, "target": self.target_vocab.tokens}
        config = {"model": to_dict(self.model.config), "tokens": to_dict(self.tokens)}
        return write_folder(
            path, SEQ2SEQ, {**config, **self.metadata}, self.model.state_dict(), vocab
        )

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto") -> Translator:
        path = Path(path)
        config = read_config(path, SEQ2SEQ)
        vocab = read_json(path, VOCAB_FILE, SEQ2SEQ, "vocabulary")
        try:
            source_vocab = check_vocab(Vocab(vocab["source"]), str(path / VOCAB_FILE))
            target_vocab = check_vocab(Vocab(vocab["target"]), str(path / VOCAB_FILE))
            model = Seq2Seq(Seq2SeqConfig(**config["model"]))
            tokens = from_dict(TokenConfig, config["tokens"])
        except (KeyError, TypeError, ValueError) as error:
            raise AttnclfError(f"{path} is not a valid seq2seq model folder: {error}") from None
        if model.config.source_vocab_size != len(source_vocab) or (
            model.config.target_vocab_size != len(target_vocab)
        ):
            raise AttnclfError(f"{path / VOCAB_FILE} does not fit {path / CONFIG_FILE}")
        load_weights(model, path / WEIGHTS_FILE)
        metadata = {k: v for k, v in config.items() if k in ("training", "data", "metrics")}
        return cls(model, source_vocab, target_vocab, tokens, metadata, device)


def load(path: str | Path, device: str | torch.device = "auto") -> Translator:
    """Load a saved folder: `load("models/dates").translate("the 3rd of march 2011")`."""
    return Translator.load(path, device)
