"""The control without attention: the self-attention model's embedding, bidirectional LSTM and
head, with the states pooled by their maximum (or mean) over the real tokens, so a comparison
says what the attention adds to the same encoder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ...errors import AttnclfError
from ...text.tokens import Vocab
from ..layers.attention import (
    ClassifierHead,
    Dropout,
    RecurrentEncoder,
    float32,
    lengths_to_mask,
    lstm_flops,
    token_embedding,
)
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register

POOLINGS = ("max", "mean")


@dataclass
class BiLSTMConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    embedding_dim: int = 128
    hidden_size: int = 64  # per direction
    pooling: Literal["max", "mean"] = "max"  # over the real tokens of each text
    dropout: float = 0.2
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise AttnclfError(
                f"bilstm pooling {self.pooling!r} is not one of {', '.join(POOLINGS)}"
            )


def pool_real_tokens(states: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """The maximum or the mean of each feature over the tokens where `mask` is True."""
    real = mask[:, :, None]  # (B, T, 1)
    if how == "max":
        lowest = torch.finfo(states.dtype).min
        return states.masked_fill(~real, lowest).amax(dim=1)  # (B, H)
    counts = mask.sum(dim=1, keepdim=True).clamp(min=1).to(states.dtype)  # (B, 1)
    return (states * real).sum(dim=1) / counts  # (B, H)


class BiLSTMClassifier(Classifier):
    def __init__(self, config: BiLSTMConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.embedding = token_embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        self.encoder = RecurrentEncoder(
            config.embedding_dim, config.hidden_size, bidirectional=True
        )
        self.dropout = Dropout(config.dropout)
        self.head = ClassifierHead(self.encoder.output_size, config.num_outputs, config.dropout)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        embedded = self.dropout(self.embedding(ids))  # (B, T, E)
        states = self.encoder(embedded, lengths)  # (B, T, 2H)
        with float32(states):  # pooling and output in float32 under autocast (see float32)
            pooled = pool_real_tokens(states.float(), mask, self.config.pooling)  # (B, 2H)
            logits = self.head(pooled)  # (B, C)
        return ClassifierOutput(logits)


def forward_flops(config: BiLSTMConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens; the embedding lookup, activations
    and the pooling's comparisons or sums are not counted."""
    states = 2 * config.hidden_size
    lstm = 2 * lstm_flops(config.embedding_dim, config.hidden_size) * tokens
    head = 2 * states * states + 2 * states * config.num_outputs  # dense tanh layer and output
    return {"lstm": lstm, "head": head, "total": lstm + head}


FAMILY = register(
    Family(
        name="bilstm",
        summary="embedding -> BiLSTM -> max pooling, no attention (the control)",
        config=BiLSTMConfig,
        build=BiLSTMClassifier,
        tiny=dict(vocab_size=50, embedding_dim=8, hidden_size=6, dropout=0.0),
        forward_flops=forward_flops,
    )
)
