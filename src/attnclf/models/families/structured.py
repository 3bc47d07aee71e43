"""Lin et al. 2017, "A Structured Self-attentive Sentence Embedding": embedding -> BiLSTM
states H (B, T, 2u) -> r hops of attention A = softmax(W_s2 tanh(W_s1 H^T)) (B, r, T) ->
the matrix embedding M = A H (B, r, 2u), flattened, -> output. The penalty
P = ||A A^T - I||_F^2 keeps the hops apart (each hop on few tokens, different hops on
different tokens); it is returned as the auxiliary loss, `penalty` x P averaged over the batch.

The paper's sizes (u 300, d_a 350, r 30, penalty coefficient 1 on Yelp and Age) are scaled to
this project's models: u 64, d_a 64, r 4. The coefficient is 0.1, chosen on IMDB at the
tutorial's settings over seeds 0-2 (`benchmarks/structured_penalty.py`): the paper's 1 kept the
hops apart (P 0.07 on test) but cost 3.4 points (84.8% against 88.1% with no penalty, whose hops
blur: P 3.5); 0.1 keeps them apart (P 0.4) at 87.5%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...text.tokens import Vocab
from ..layers.attention import (
    SCORE_INIT_SCALE,
    ClassifierHead,
    Dropout,
    RecurrentEncoder,
    float32,
    lengths_to_mask,
    lstm_flops,
    masked_softmax,
    token_embedding,
)
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register


@dataclass
class StructuredConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    embedding_dim: int = 128
    hidden_size: int = 64  # u, per direction
    attention_size: int = 64  # d_a
    hops: int = 4  # r
    penalty: float = 0.1  # times ||A A^T - I||_F^2; 0 asks for no auxiliary loss
    dropout: float = 0.2
    pad_id: int = 0


def redundancy_penalty(weights: torch.Tensor) -> torch.Tensor:
    """||A A^T - I||_F^2 of each text's hops A (B, r, T): (B,)."""
    gram = weights @ weights.transpose(1, 2)  # (B, r, r)
    identity = torch.eye(weights.shape[1], dtype=weights.dtype, device=weights.device)
    return (gram - identity).pow(2).sum(dim=(1, 2))  # (B,)


class StructuredSelfAttention(nn.Module):
    """A = softmax_t(W_s2 tanh(W_s1 h_t)) over the real tokens, r rows (hops); returns the
    hops' summaries A H side by side (B, r * 2u) and A (B, r, T)."""

    def __init__(self, input_size: int, attention_size: int, hops: int):
        super().__init__()
        self.hops, self.output_size = hops, hops * input_size
        self.project = nn.Linear(input_size, attention_size, bias=False)  # W_s1
        self.score = nn.Linear(attention_size, hops, bias=False)  # W_s2
        # wide scores, as AdditiveAttentionPooling's (see layers.SCORE_INIT_SCALE)
        nn.init.uniform_(self.score.weight, -1.0, 1.0)
        self.score.weight.data *= SCORE_INIT_SCALE / math.sqrt(attention_size)

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = states.shape[0]
        scores = self.score(torch.tanh(self.project(states))).transpose(1, 2)  # (B, r, T)
        weights = masked_softmax(scores, mask[:, None, :])  # (B, r, T)
        pooled = weights @ states  # (B, r, 2u)
        return pooled.reshape(batch, self.output_size), weights  # (B, r * 2u), (B, r, T)


class StructuredClassifier(Classifier):
    def __init__(self, config: StructuredConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.embedding = token_embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        self.encoder = RecurrentEncoder(
            config.embedding_dim, config.hidden_size, bidirectional=True
        )
        self.attention = StructuredSelfAttention(
            self.encoder.output_size, config.attention_size, config.hops
        )
        self.dropout = Dropout(config.dropout)
        self.head = ClassifierHead(self.attention.output_size, config.num_outputs, config.dropout)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        embedded = self.dropout(self.embedding(ids))  # (B, T, E)
        states = self.encoder(embedded, lengths)  # (B, T, 2u)
        with float32(states):  # attention and output in float32 under autocast (see float32)
            pooled, hops = self.attention(states.float(), mask)  # (B, r * 2u), (B, r, T)
            logits = self.head(pooled)  # (B, C)
            # computed in evaluation too (it costs B r^2 T): the loss on a validation batch
            # can be read the same way as on a training batch
            penalty = (
                self.config.penalty * redundancy_penalty(hops).mean()  # ()
                if self.config.penalty
                else None
            )
        return ClassifierOutput(
            logits, attention=hops.mean(dim=1), head_attention=hops, auxiliary_loss=penalty
        )


def forward_flops(config: StructuredConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens; the embedding lookup, activations
    and softmax exponentials are not counted."""
    states, a, r = 2 * config.hidden_size, config.attention_size, config.hops
    lstm = 2 * lstm_flops(config.embedding_dim, config.hidden_size) * tokens
    # W_s1 (2u -> d_a), W_s2 (d_a -> r), M = A H, and the penalty's A A^T
    attention = (2 * states * a + 2 * a * r + 2 * r * states + 2 * r * r) * tokens
    flat = r * states
    head = 2 * flat * flat + 2 * flat * config.num_outputs  # dense tanh layer and output
    return {"lstm": lstm, "attention": attention, "head": head, "total": lstm + attention + head}


FAMILY = register(
    Family(
        name="structured",
        summary="embedding -> BiLSTM -> 4 hops of structured self-attention with the "
        "||AA^T - I||^2 penalty (Lin et al. 2017)",
        config=StructuredConfig,
        build=StructuredClassifier,
        tiny=dict(
            vocab_size=50, embedding_dim=8, hidden_size=6, attention_size=5, hops=3, dropout=0.0
        ),
        forward_flops=forward_flops,
    )
)
