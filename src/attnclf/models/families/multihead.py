"""The tutorial's second model: embedding -> LSTM -> multi-head attention pooling -> output
(scaled dot-product attention of Vaswani et al. 2017, one learned query per head)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...text.tokens import Vocab
from ..layers.attention import (
    ClassifierHead,
    Dropout,
    MultiHeadAttentionPooling,
    RecurrentEncoder,
    float32,
    lengths_to_mask,
    lstm_flops,
    token_embedding,
)
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register


@dataclass
class MultiHeadConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    embedding_dim: int = 128
    hidden_size: int = 128
    num_heads: int = 4
    dropout: float = 0.2
    pad_id: int = 0


class MultiHeadClassifier(Classifier):
    def __init__(self, config: MultiHeadConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.embedding = token_embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        self.encoder = RecurrentEncoder(
            config.embedding_dim, config.hidden_size, bidirectional=False
        )
        self.attention = MultiHeadAttentionPooling(config.hidden_size, config.num_heads)
        self.dropout = Dropout(config.dropout)
        self.head = ClassifierHead(self.attention.output_size, config.num_outputs, config.dropout)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        embedded = self.dropout(self.embedding(ids))  # (B, T, E)
        states = self.encoder(embedded, lengths)  # (B, T, H)
        with float32(states):  # attention and output in float32 under autocast (see float32)
            pooled, head_weights = self.attention(states.float(), mask)  # (B, nh * H), (B, nh, T)
            logits = self.head(pooled)  # (B, C)
        return ClassifierOutput(
            logits, attention=head_weights.mean(dim=1), head_attention=head_weights
        )


def forward_flops(config: MultiHeadConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens; the embedding lookup, activations
    and softmax exponentials are not counted."""
    h, nh = config.hidden_size, config.num_heads
    lstm = lstm_flops(config.embedding_dim, h) * tokens
    # the queries folded into the key projection (H -> nh scores), each head's weighted sum of
    # the full states
    attention = (2 * h * nh + nh * 2 * h) * tokens
    pooled = nh * h
    head = 2 * pooled * pooled + 2 * pooled * config.num_outputs  # dense tanh layer and output
    return {"lstm": lstm, "attention": attention, "head": head, "total": lstm + attention + head}


FAMILY = register(
    Family(
        name="multihead",
        summary="embedding -> LSTM -> 4-head attention pooling (the tutorial's second)",
        config=MultiHeadConfig,
        build=MultiHeadClassifier,
        tiny=dict(vocab_size=50, embedding_dim=8, hidden_size=8, num_heads=2, dropout=0.0),
        forward_flops=forward_flops,
    )
)
