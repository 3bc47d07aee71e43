"""A Transformer encoder from scratch (Vaswani et al. 2017) with pre-norm layers: embedding
x sqrt(D) + sinusoidal positions -> L encoder layers of masked multi-head self-attention and
feed-forward -> layer norm -> additive attention pooling over the real tokens (Bahdanau scoring,
as the self-attention model pools) -> output.

Positions are sinusoidal rather than learned: they have no weights, so every position up to
`max_positions` means the same whether or not the training texts were that long (a learned
table leaves the rows past the training --max-len at their random start). `positions =
"learned"` gives the learned table instead.

`token_attention` (B, L * nh, T, T) holds every layer's heads, layer-major (layer 1's heads
1..nh, then layer 2's); `token_attention_names()` names them in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ...errors import AttnclfError
from ...text.tokens import Vocab
from ..layers.attention import (
    AdditiveAttentionPooling,
    ClassifierHead,
    Dropout,
    float32,
    lengths_to_mask,
)
from ..layers.transformer import (
    EncoderLayer,
    LearnedPositions,
    SinusoidalPositions,
    encoder_layer_flops,
)
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register

POSITIONS = ("sinusoidal", "learned")


@dataclass
class TransformerConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    d_model: int = 128  # D
    num_layers: int = 2  # L
    num_heads: int = 4  # nh
    ff_size: int = 512  # F, the feed-forward width
    attention_size: int = 64  # of the pooling's additive scores
    positions: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_positions: int = 1024  # the longest text it reads: --max-len up to this
    dropout: float = 0.1  # on the embeddings, each layer's two branches and the head
    # on the attention weights; any above 0 takes the fused attention kernel's slow path
    attention_dropout: float = 0.0
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.positions not in POSITIONS:
            raise AttnclfError(
                f"transformer positions {self.positions!r} is not one of {', '.join(POSITIONS)}"
            )
        if self.d_model % self.num_heads:
            raise AttnclfError(
                f"transformer d_model {self.d_model} is not divisible by {self.num_heads} heads"
            )


class TransformerClassifier(Classifier):
    def __init__(self, config: TransformerConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        width = config.d_model
        # N(0, 1/D) scaled by sqrt(D) in forward: unit-size token vectors, the size of the
        # sinusoidal codes they are added to
        self.embedding = nn.Embedding(config.vocab_size, width, config.pad_id)
        nn.init.normal_(self.embedding.weight, std=width**-0.5)
        with torch.no_grad():
            self.embedding.weight[config.pad_id].zero_()
        self.positions: nn.Module = (
            SinusoidalPositions(config.max_positions, width)
            if config.positions == "sinusoidal"
            else LearnedPositions(config.max_positions, width)
        )
        self.dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                width, config.num_heads, config.ff_size, config.dropout, config.attention_dropout
            )
            for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(width)  # pre-norm layers leave their last output unnormalised
        self.pooling = AdditiveAttentionPooling(width, config.attention_size)
        self.head = ClassifierHead(width, config.num_outputs, config.dropout)

    def token_attention_names(self, count: int | None = None) -> list[str]:
        """ "layer l, head h" for each map of `token_attention`, layer-major."""
        heads, layers = self.config.num_heads, self.config.num_layers
        if count is not None and count != heads * layers:
            raise ValueError(f"the transformer has {heads * layers} attention maps, not {count}")
        return [f"layer {i + 1}, head {h + 1}" for i in range(layers) for h in range(heads)]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        x = self.embedding(ids) * math.sqrt(self.config.d_model)  # (B, T, D)
        x = self.dropout(self.positions(x))  # (B, T, D)
        need_maps = not self.skip_views  # the fused attention kernel when nobody reads them
        maps = []
        for layer in self.layers:
            x, weights = layer(x, mask, need_maps)  # (B, T, D), (B, nh, T, T) or None
            if weights is not None:
                maps.append(weights.float())
        x = self.norm(x)  # (B, T, D)
        with float32(x):  # pooling and output in float32 under autocast (see float32)
            pooled, attention = self.pooling(x.float(), mask)  # (B, D), (B, T)
            logits = self.head(pooled)  # (B, C)
        token_attention = torch.cat(maps, dim=1) if maps else None  # (B, L * nh, T, T)
        return ClassifierOutput(logits, attention=attention, token_attention=token_attention)


def forward_flops(config: TransformerConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens (the attention's T x T part taken at
    the mean length); the embedding lookup, layer norms, activations and softmax exponentials
    are not counted."""
    width, a = config.d_model, config.attention_size
    layer = encoder_layer_flops(width, config.ff_size, tokens)
    attention = config.num_layers * layer["attention"]
    ff = config.num_layers * layer["feed_forward"]
    pooling = (2 * width * a + 2 * a + 2 * width) * tokens  # as the self-attention model's
    head = 2 * width * width + 2 * width * config.num_outputs  # dense tanh layer and output
    total = attention + ff + pooling + head
    return {
        "attention": attention,
        "feed_forward": ff,
        "pooling": pooling,
        "head": head,
        "total": total,
    }


FAMILY = register(
    Family(
        name="transformer",
        summary="embedding + sinusoidal positions -> 2 pre-norm Transformer encoder layers "
        "(4 heads) -> attention pooling (Vaswani et al. 2017)",
        config=TransformerConfig,
        build=TransformerClassifier,
        tiny=dict(
            vocab_size=50,
            d_model=8,
            num_layers=2,
            num_heads=2,
            ff_size=16,
            attention_size=5,
            max_positions=512,  # the export test reads 400 tokens
            dropout=0.0,
        ),
        forward_flops=forward_flops,
    )
)
