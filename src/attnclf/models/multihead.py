"""The tutorial's second model: embedding -> LSTM -> multi-head attention pooling -> output
(scaled dot-product attention of Vaswani et al. 2017, one learned query per head)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import (
    ClassifierHead,
    ClassifierOutput,
    Dropout,
    MultiHeadAttentionPooling,
    RecurrentEncoder,
    float32,
    lengths_to_mask,
)


@dataclass
class MultiHeadConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    embedding_dim: int = 128
    hidden_size: int = 128
    num_heads: int = 4
    dropout: float = 0.2
    pad_id: int = 0


class MultiHeadClassifier(nn.Module):
    def __init__(self, config: MultiHeadConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        with torch.no_grad():
            self.embedding.weight[config.pad_id].zero_()
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
        return ClassifierOutput(logits, head_weights.mean(dim=1), head_weights)
