"""Transformer encoder parts, usable on their own (Vaswani et al. 2017, "Attention Is All You
Need"), with the layer norm before each sub-layer (pre-norm, Xiong et al. 2020), which trains
without a learning-rate warm-up.

Notation: B batch, T tokens, D model width, nh heads, dh = D / nh, F feed-forward width.
Masks are boolean (B, T), True at real tokens, padding at the end of each row.

The attention is written out rather than taken from nn.MultiheadAttention so that every
head's token-by-token weights come back as an output: padded keys get weight exactly 0, and so
do padded query rows, whose states the pooling never reads. When nobody reads the weights
(training steps, evaluation passes) it runs PyTorch's fused scaled_dot_product_attention
instead, which never holds the (B, nh, T, T) weights: the same function at every real token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import AttnclfError
from .attention import Dropout, masked_softmax


def sinusoidal_positions(count: int, width: int) -> torch.Tensor:
    """PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(p / 10000^(2i/D)): (count, D)."""
    if width % 2:
        raise ValueError(f"sinusoidal positions need an even width, not {width}")
    positions = torch.arange(count, dtype=torch.float64)[:, None]  # (P, 1)
    exponents = torch.arange(0, width, 2, dtype=torch.float64) / width  # (D / 2,)
    rates = torch.exp(-math.log(10_000.0) * exponents)  # 1 / 10000^(2i/D)
    table = torch.zeros(count, width, dtype=torch.float64)
    table[:, 0::2] = torch.sin(positions * rates)
    table[:, 1::2] = torch.cos(positions * rates)
    return table.float()  # (P, D)


def check_length(width: int, max_positions: int) -> int:
    if width > max_positions:
        raise AttnclfError(
            f"a text of {width} tokens is longer than the model's {max_positions} positions; "
            "use a smaller --max-len, or a model with a larger max_positions"
        )
    return width


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal code of each position to (B, T, D) inputs. It has no weights,
    so a position the training texts never reached (up to `max_positions`) is as well defined
    as one they did; a learned table would leave those rows at their random start."""

    table: torch.Tensor

    def __init__(self, max_positions: int, width: int):
        super().__init__()
        self.max_positions = max_positions
        # not saved with the weights: it is rebuilt from the config
        self.register_buffer("table", sinusoidal_positions(max_positions, width), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = check_length(x.shape[1], self.max_positions)
        return x + self.table[:width].to(x.dtype)  # (B, T, D)


class LearnedPositions(nn.Module):
    """Adds a learned vector per position (BERT, GPT), drawn from N(0, 0.02^2)."""

    def __init__(self, max_positions: int, width: int):
        super().__init__()
        self.max_positions = max_positions
        self.embedding = nn.Embedding(max_positions, width)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = check_length(x.shape[1], self.max_positions)
        return x + self.embedding.weight[:width].to(x.dtype)  # (B, T, D)


class MaskedSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention, softmax(q k^T / sqrt(dh)) v, over the real
    tokens of each row. Returns the new states (B, T, D) and, when asked for, the weights
    (B, nh, T, T): row t is token t's weights over the keys, summing to 1 at a real token and
    all 0 at padding.

    Without the weights the fused kernel runs: ~7x faster forward and backward on 2 CPU cores
    (128 texts of 200 tokens, 4 heads) and no T x T tensor kept for the backward pass. Dropout
    on the weights (`attention_dropout`) sends that kernel to its slow unfused path, so it is 0
    by default; the layer's other dropouts stay."""

    def __init__(self, width: int, num_heads: int, attention_dropout: float):
        super().__init__()
        if width % num_heads:
            raise ValueError(f"model width {width} is not divisible by {num_heads} heads")
        self.num_heads, self.head_size = num_heads, width // num_heads
        self.attention_dropout = attention_dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.output = nn.Linear(width, width)
        self.dropout = Dropout(attention_dropout)  # on the weights that mix the values
        for linear in (self.qkv, self.output):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, width, _ = x.shape
        qkv = self.qkv(x).view(batch, width, 3, self.num_heads, self.head_size)  # (B, T, 3, nh, dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, T, dh)
        if need_weights:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)  # (B, nh, T, T)
            weights = masked_softmax(scores, mask[:, None, None, :])  # (B, nh, T, T), keys masked
            weights = weights * mask[:, None, :, None]  # padded query rows all 0
            mixed = self.dropout(weights).to(v.dtype) @ v  # (B, nh, T, dh)
        else:
            # padded query rows get a mix of the real tokens here instead of 0: no real token
            # and no pooling ever reads them, as every key mask leaves them out
            dropout = self.attention_dropout if self.training else 0.0
            mixed = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask[:, None, None, :], dropout_p=dropout
            )  # (B, nh, T, dh)
            weights = None
        mixed = mixed.transpose(1, 2).reshape(batch, width, -1)  # (B, T, D)
        return self.output(mixed), weights


class FeedForward(nn.Module):
    """Position-wise D -> F -> D with a ReLU between, as in Vaswani et al. 2017."""

    def __init__(self, width: int, hidden: int, dropout: float):
        super().__init__()
        self.up = nn.Linear(width, hidden)
        self.down = nn.Linear(hidden, width)
        self.dropout = Dropout(dropout)
        for linear in (self.up, self.down):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.dropout(torch.relu(self.up(x))))  # (B, T, D)


class EncoderLayer(nn.Module):
    """x + attention(norm(x)), then x + feed_forward(norm(x)), dropout on each branch."""

    def __init__(
        self,
        width: int,
        num_heads: int,
        ff_size: int,
        dropout: float,
        attention_dropout: float = 0.0,
    ):
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = MaskedSelfAttention(width, num_heads, attention_dropout)
        self.ff_norm = nn.LayerNorm(width)
        self.ff = FeedForward(width, ff_size, dropout)
        self.dropout = Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        normed = self.attention_norm(x)  # (B, T, D)
        attended, weights = self.attention(normed, mask, need_weights)  # (B, T, D), (B, nh, T, T)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.ff(self.ff_norm(x)))  # (B, T, D)
        return x, weights


def encoder_layer_flops(width: int, ff_size: int, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one pre-norm encoder layer over one text of `tokens` real tokens, by
    part; layer norms, softmax and activations are not counted."""
    projections = (2 * width * 3 * width + 2 * width * width) * tokens  # q, k, v and output
    # every query against every key, and the weighted sum of the values (all heads together)
    mixing = 2 * 2 * tokens * tokens * width
    ff = 2 * 2 * width * ff_size * tokens
    return {"attention": projections + mixing, "feed_forward": ff}
