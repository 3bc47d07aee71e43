"""Attention whose weights explain: embedding -> BiLSTM -> additive attention weights, but the
pooled values are the words themselves. Each token's vote s_t is computed from its own embedding
alone and bounded, and the logit is the attention-weighted sum of the votes:

    alpha = softmax_t(v^T tanh(W h_t))        (B, T)  the weights still read the context
    s_t   = tanh(w^T tanh(U e_t) + c)         (B, T, C)  one word's vote in (-1, 1), no context
    logit = m * sum_t alpha_t s_t + b         (B, C)  m > 0 learned

In the self-attention family the pooled values are the BiLSTM states, and every state carries
every token (Jain & Wallace 2019): deleting the most attended token leaves its information in
its neighbours' states, so the weights say where the pooling looked, not why the model decided.
Here deleting a token removes exactly its term alpha_t s_t (and renormalises the rest), so the
weights rank what the decision rests on; `token_scores` carries each term m alpha_t s_t itself.
Bounding the votes leaves the weights as the only way to make a word count for more: with
unbounded votes (a linear vote layer) the model reached 89.5% on IMDB, seed 0, but its most
attended tokens were not the ones its logit rested on (attention's comprehensiveness 40% of
integrated gradients').
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...text.tokens import Vocab
from ..layers.attention import (
    AdditiveAttentionPooling,
    Dropout,
    RecurrentEncoder,
    float32,
    lengths_to_mask,
    lstm_flops,
    token_embedding,
)
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register

# the largest logit a text can reach at the start, when one word holds every weight
INITIAL_SCALE = 5.0


@dataclass
class WordAttentionConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    embedding_dim: int = 128
    hidden_size: int = 64  # per direction, for the weights only
    attention_size: int = 64
    vote_size: int = 128  # width of the per-word layer that computes each word's vote
    dropout: float = 0.2
    pad_id: int = 0


class WordAttentionClassifier(Classifier):
    def __init__(self, config: WordAttentionConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.embedding = token_embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        self.encoder = RecurrentEncoder(
            config.embedding_dim, config.hidden_size, bidirectional=True
        )
        self.attention = AdditiveAttentionPooling(self.encoder.output_size, config.attention_size)
        self.dropout = Dropout(config.dropout)
        self.word = nn.Linear(config.embedding_dim, config.vote_size)
        self.vote = nn.Linear(config.vote_size, config.num_outputs)
        self.log_scale = nn.Parameter(torch.tensor(math.log(INITIAL_SCALE)))  # m = exp(.)
        self.bias = nn.Parameter(torch.zeros(config.num_outputs))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        embedded = self.dropout(self.embedding(ids))  # (B, T, E)
        states = self.encoder(embedded, lengths)  # (B, T, 2H)
        with float32(states):  # attention and votes in float32 under autocast (see float32)
            _, weights = self.attention(states.float(), mask)  # (B, T)
            words = self.dropout(torch.tanh(self.word(embedded.float())))  # (B, T, V)
            votes = torch.tanh(self.vote(words))  # (B, T, C), each in (-1, 1)
            terms = self.log_scale.exp() * weights[..., None] * votes  # (B, T, C), 0 on padding
            logits = terms.sum(dim=1) + self.bias  # (B, C)
        if self.skip_views:
            return ClassifierOutput(logits, attention=weights)
        return ClassifierOutput(logits, attention=weights, token_scores=_predicted(terms, logits))


def _predicted(terms: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """(B, T) each token's term of the logit that decided (the bias left out): the one logit for
    two classes, else the predicted class's."""
    if terms.shape[-1] == 1:
        return terms[..., 0]
    chosen = logits.argmax(dim=-1)  # (B,)
    return terms.gather(2, chosen[:, None, None].expand(-1, terms.shape[1], 1))[..., 0]


def forward_flops(config: WordAttentionConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens; the embedding lookup, activations
    and softmax exponentials are not counted."""
    states, a = 2 * config.hidden_size, config.attention_size
    lstm = 2 * lstm_flops(config.embedding_dim, config.hidden_size) * tokens
    attention = (2 * states * a + 2 * a) * tokens  # project 2H -> A, score A -> 1
    # each word's vote: E -> V -> C, then the weighted sum of the votes
    votes = (2 * config.embedding_dim * config.vote_size + 4 * config.vote_size) * tokens
    return {"lstm": lstm, "attention": attention, "votes": votes, "total": lstm + attention + votes}


FAMILY = register(
    Family(
        name="word-attention",
        summary="embedding -> BiLSTM attention weights over each word's own vote (faithful)",
        config=WordAttentionConfig,
        build=WordAttentionClassifier,
        tiny=dict(
            vocab_size=50,
            embedding_dim=8,
            hidden_size=6,
            attention_size=5,
            vote_size=7,
            dropout=0.0,
        ),
        forward_flops=forward_flops,
    )
)
