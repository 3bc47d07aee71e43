"""The tutorial's first model: embedding -> bidirectional LSTM -> additive self-attention
pooling -> output (Bahdanau et al. 2014 scoring; pooling as in Yang et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...text.tokens import Vocab
from ..layers.attention import (
    AdditiveAttentionPooling,
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


@dataclass
class SelfAttentionConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    embedding_dim: int = 128
    hidden_size: int = 64  # per direction
    attention_size: int = 64
    dropout: float = 0.2
    pad_id: int = 0


class SelfAttentionClassifier(Classifier):
    def __init__(self, config: SelfAttentionConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.embedding = token_embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        self.encoder = RecurrentEncoder(
            config.embedding_dim, config.hidden_size, bidirectional=True
        )
        self.attention = AdditiveAttentionPooling(self.encoder.output_size, config.attention_size)
        self.dropout = Dropout(config.dropout)
        self.head = ClassifierHead(self.encoder.output_size, config.num_outputs, config.dropout)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        embedded = self.dropout(self.embedding(ids))  # (B, T, E)
        states = self.encoder(embedded, lengths)  # (B, T, 2H)
        with float32(states):  # attention and output in float32 under autocast (see float32)
            pooled, weights = self.attention(states.float(), mask)  # (B, 2H), (B, T)
            logits = self.head(pooled)  # (B, C)
        return ClassifierOutput(logits, attention=weights)


def forward_flops(config: SelfAttentionConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens; the embedding lookup, activations
    and softmax exponentials are not counted."""
    states, a = 2 * config.hidden_size, config.attention_size
    lstm = 2 * lstm_flops(config.embedding_dim, config.hidden_size) * tokens
    # project 2H -> A, score A -> 1, weighted sum of the states
    attention = (2 * states * a + 2 * a + 2 * states) * tokens
    head = 2 * states * states + 2 * states * config.num_outputs  # dense tanh layer and output
    return {"lstm": lstm, "attention": attention, "head": head, "total": lstm + attention + head}


FAMILY = register(
    Family(
        name="self-attention",
        summary="embedding -> BiLSTM -> additive self-attention pooling (the tutorial's first)",
        config=SelfAttentionConfig,
        build=SelfAttentionClassifier,
        tiny=dict(vocab_size=50, embedding_dim=8, hidden_size=6, attention_size=5, dropout=0.0),
        forward_flops=forward_flops,
    )
)
