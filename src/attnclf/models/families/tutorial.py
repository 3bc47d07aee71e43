"""The tutorial's two Keras models, exactly: fixed-width input, token-to-token attention layers
that return a sequence, then Flatten and one Dense output.

- tutorial-self-attention: Embedding(10,000, 128) -> BiLSTM(64 each way) ->
  SeqSelfAttention(attention_activation="sigmoid") -> Flatten -> Dense(1)
- tutorial-multihead: Embedding(10,000, 128) -> LSTM(128) -> MultiHeadAttention(head_num=4)
  -> Flatten -> Dense(1)

The layers are models/layers/keras_*'s (keras-self-attention 0.51.0, keras-multi-head 0.29.0);
initialisation is Keras' (uniform +-0.05 embeddings, Glorot-uniform kernels, orthogonal
recurrent kernels, zero biases but a forget-gate bias of 1). `attnclf import-keras` fills the
same modules from a Keras .h5 file.

Padding. Texts arrive padded at the end to the batch's width and are placed into the model's
fixed width `max_len`, their padding on the `padding` side ("post", or Keras' default "pre").
`masking` says what padding does:
- "correct": the LSTMs read only real tokens, padding neither attends nor is attended to, and
  padded positions reach the Dense layer as zeros;
- "none": what Keras computes when the Embedding has no mask_zero (the tutorial's models):
  padding is read as token 0 by every layer;
- "keras": what Keras computes with Embedding(mask_zero=True): LSTMs skip padded steps (see
  keras_masked_outputs for what they output there), the attention layers mask as their
  libraries do.

Per-token weights for the views: the attention a token receives, averaged over the real query
rows (and heads) and scaled to sum to 1 over real tokens. In training mode the model returns
its logits (and the attention regulariser) only: the training loop reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ...text.tokens import Vocab
from ..layers.attention import RecurrentEncoder, lstm_flops
from ..layers.keras_common import MaskMode
from ..layers.keras_multi_head import MultiHeadSelfAttention
from ..layers.keras_self_attention import SeqSelfAttention
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register

Masking = Literal["correct", "none", "keras"]
Padding = Literal["post", "pre"]


@dataclass
class TutorialConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    pad_id: int = 0
    max_len: int = 200  # the fixed width Flatten reads (attnclf fills it from --max-len)
    embedding_dim: int = 128
    lstm_units: list[int] = field(default_factory=lambda: [64])  # one LSTM per entry
    bidirectional: bool = True  # every LSTM, outputs concatenated forward then backward
    attention: Literal["seq-self-attention", "multi-head"] = "seq-self-attention"
    # SeqSelfAttention's settings (keras-self-attention's names and defaults)
    units: int = 32
    attention_type: Literal["additive", "multiplicative"] = "additive"
    attention_width: int | None = None
    history_only: bool = False
    use_additive_bias: bool = True
    use_attention_bias: bool = True
    attention_activation: str | None = "sigmoid"
    attention_regularizer_weight: float = 0.0
    # MultiHeadAttention's settings (keras-multi-head's)
    head_num: int = 4
    activation: str | None = "relu"
    use_bias: bool = True
    padding: Padding = "post"
    masking: Masking = "correct"


@dataclass
class TutorialMultiheadConfig(TutorialConfig):
    lstm_units: list[int] = field(default_factory=lambda: [128])
    bidirectional: bool = False
    attention: Literal["seq-self-attention", "multi-head"] = "multi-head"


def keras_initialise_lstm(lstm: nn.LSTM) -> None:
    """Keras' LSTM initialisation: Glorot-uniform input kernel, orthogonal recurrent kernel per
    gate block as one matrix, bias zero but 1 for the forget gate (PyTorch's second bias 0)."""
    for name, weight in lstm.named_parameters():
        with torch.no_grad():
            if name.startswith("weight_ih"):
                # Keras' kernel is (in, 4u); its Glorot fans are in and 4u, as here
                nn.init.xavier_uniform_(weight)
            elif name.startswith("weight_hh"):
                units = weight.shape[1]
                recurrent = torch.empty(units, 4 * units)
                nn.init.orthogonal_(recurrent)
                weight.copy_(recurrent.T)  # (4u, u)
            elif name.startswith("bias_ih"):
                weight.zero_()
                units = weight.shape[0] // 4
                weight[units : 2 * units] = 1.0  # gates i, f, g, o: f is the second block
            else:
                weight.zero_()


class TutorialClassifier(Classifier):
    def __init__(self, config: TutorialConfig, vocab: Vocab | None = None):
        super().__init__()
        if not config.lstm_units:
            raise ValueError("the tutorial models read the embeddings with at least one LSTM")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        # each LSTM as two one-way LSTMs (forward_rnn, backward_rnn), so the backward one can
        # read each text reversed within its own length
        self.lstms: list[RecurrentEncoder] = nn.ModuleList()  # type: ignore[assignment]
        width = config.embedding_dim
        for units in config.lstm_units:
            encoder = RecurrentEncoder(width, units, bidirectional=config.bidirectional)
            for lstm in (encoder.forward_rnn, encoder.backward_rnn):
                if lstm is not None:
                    keras_initialise_lstm(lstm)
            self.lstms.append(encoder)
            width = encoder.output_size
        self.attention: SeqSelfAttention | MultiHeadSelfAttention
        mask_mode: MaskMode = "keras" if config.masking == "keras" else "correct"
        if config.attention == "seq-self-attention":
            self.attention = SeqSelfAttention(
                width,
                units=config.units,
                attention_type=config.attention_type,
                attention_width=config.attention_width,
                history_only=config.history_only,
                use_additive_bias=config.use_additive_bias,
                use_attention_bias=config.use_attention_bias,
                attention_activation=config.attention_activation,
                attention_regularizer_weight=config.attention_regularizer_weight,
                mask_mode=mask_mode,
            )
        else:
            self.attention = MultiHeadSelfAttention(
                width,
                head_num=config.head_num,
                activation=config.activation,
                use_bias=config.use_bias,
                history_only=config.history_only,
                mask_mode=mask_mode,
            )
        self.output_layer = nn.Linear(config.max_len * width, config.num_outputs)
        nn.init.xavier_uniform_(self.output_layer.weight)
        nn.init.zeros_(self.output_layer.bias)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        config = self.config
        given = ids.shape[1]
        if given > config.max_len:  # only padding columns lie beyond the fixed width
            if bool((lengths > config.max_len).any()):
                raise ValueError(f"texts of up to {config.max_len} tokens fit this model")
            ids = ids[:, : config.max_len]
        width = ids.shape[1]  # T
        real = torch.arange(width, device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        ids = ids.masked_fill(~real, config.pad_id)
        source, mask = fixed_index(lengths, width, config.max_len, config.padding)  # (B, L)
        if config.masking == "none":  # every layer reads the padding, as Keras without a mask
            fixed = place(ids[..., None], source, mask)[..., 0]  # (B, L)
            states = self.embedding(fixed)  # (B, L, E)
            full = torch.full_like(lengths, config.max_len)
            for encoder in self.lstms:
                states = encoder(states, full)  # (B, L, D)
        else:  # the LSTMs read each text's real tokens only, then move to the fixed width
            states = self.embedding(ids)  # (B, T, E)
            for encoder in self.lstms:
                states = encoder(states, lengths) * real[..., None]  # (B, T, D)
            states = place(states, source, mask)  # (B, L, D), zeros at padding
            if config.masking == "keras" and not config.bidirectional and config.padding == "post":
                states = keras_masked_outputs(states, lengths)
        attention_mask = None if config.masking == "none" else mask
        sequence, matrix = self.attention(states, attention_mask)  # (B, L, D), attention
        if config.masking == "correct":
            sequence = sequence * mask[..., None]
        logits = self.output_layer(sequence.flatten(1))  # (B, C)
        auxiliary = None
        if isinstance(self.attention, SeqSelfAttention) and config.attention_regularizer_weight:
            auxiliary = self.attention.regularizer(matrix, attention_mask)
        if self.training:  # the training loop reads the logits alone: the views cost ~40%
            return ClassifierOutput(logits, auxiliary_loss=auxiliary)
        if matrix.dim() == 3:
            matrix = matrix[:, None]  # (B, 1, L, L)
        # the matrix at the texts' own positions: (B, nh, T, T), zero where either is padding
        heads = matrix.shape[1]
        if config.padding == "post":
            token_matrix = matrix[:, :, :width, :width]
        else:
            index = token_positions(lengths, width, config.max_len, config.padding)  # (B, T)
            rows = matrix.gather(2, index[:, None, :, None].expand(-1, heads, -1, config.max_len))
            token_matrix = rows.gather(3, index[:, None, None, :].expand(-1, heads, width, -1))
        token_matrix = token_matrix * (real[:, None, :, None] & real[:, None, None, :])
        received = token_matrix.sum(dim=2) / lengths[:, None, None]  # (B, nh, T)
        received = received / received.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        if given > width:  # the contract's shapes follow the batch as given
            extra = given - width
            token_matrix = nn.functional.pad(token_matrix, (0, extra, 0, extra))
            received = nn.functional.pad(received, (0, extra))
        return ClassifierOutput(
            logits,
            attention=received.mean(dim=1),
            head_attention=received if heads > 1 else None,
            token_attention=token_matrix,
            auxiliary_loss=auxiliary,
        )


def token_positions(
    lengths: torch.Tensor, width: int, max_len: int, padding: Padding
) -> torch.Tensor:
    """Where token j of each text sits in the fixed width: j ("post"), or max_len - length + j
    ("pre"); clamped into the width for the padding columns j >= length. (B, T)"""
    steps = torch.arange(width, device=lengths.device)[None, :]  # (1, T)
    if padding == "post":
        return steps.expand(lengths.shape[0], -1)
    return (steps + (max_len - lengths)[:, None]).clamp(max=max_len - 1)


def fixed_index(
    lengths: torch.Tensor, width: int, max_len: int, padding: Padding
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each position p of the fixed width, the token it holds (B, L), clamped into the
    batch's width, and whether it holds one at all (B, L)."""
    positions = torch.arange(max_len, device=lengths.device)[None, :]  # (1, L)
    if padding == "post":
        source, holds = positions.expand(lengths.shape[0], -1), positions < lengths[:, None]
    else:
        start = (max_len - lengths)[:, None]  # (B, 1)
        source, holds = positions - start, positions >= start
    return source.clamp(0, width - 1), holds


def place(values: torch.Tensor, source: torch.Tensor, holds: torch.Tensor) -> torch.Tensor:
    """values (B, T, D) moved to the fixed width (B, L, D); zeros where nothing is held."""
    moved = values.gather(1, source[..., None].expand(-1, -1, values.shape[2]))
    return moved * holds[..., None].to(moved.dtype)


def keras_masked_outputs(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A one-direction Keras LSTM's outputs at masked steps, given those at the real steps
    (B, L, D), real steps first: Keras repeats the previous step's output there, which after
    the text is its last real output (before it, with "pre" padding, zeros: nothing was read
    yet). Keras' Bidirectional sets zero_output_for_mask, so its outputs there stay zero."""
    width = outputs.shape[1]
    last = outputs.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2]))
    after = torch.arange(width, device=outputs.device)[None, :, None] >= lengths[:, None, None]
    return torch.where(after, last, outputs)  # (B, L, D)


def forward_flops(config: TutorialConfig, tokens: float) -> dict[str, float]:
    """Forward FLOPs of one text of `tokens` real tokens (a multiply-add is 2): the LSTMs read
    the real tokens (all `max_len` positions with masking "none"), the attention and output
    layers every position of the fixed width. Activations and softmax are not counted."""
    width = config.max_len
    steps = width if config.masking == "none" else tokens
    directions = 2 if config.bidirectional else 1
    lstm, size = 0.0, config.embedding_dim
    for units in config.lstm_units:
        lstm += directions * lstm_flops(size, units) * steps
        size = units * directions
    if config.attention == "seq-self-attention":
        if config.attention_type == "additive":  # x W_t, x W_x, then h . W_a per pair
            scores = 2 * 2 * size * config.units * width + 2 * config.units * width**2
        else:  # x W_a, then (x W_a) x^T
            scores = 2 * size * size * width + 2 * size * width**2
    else:  # Q, K, V, O projections, Q K^T
        scores = 4 * 2 * size * size * width + 2 * size * width**2
    attention = scores + 2 * size * width**2  # and the weighted sum of the values
    head = 2 * width * size * config.num_outputs
    return {"lstm": lstm, "attention": attention, "head": head, "total": lstm + attention + head}


TINY = dict(
    vocab_size=50, max_len=400, embedding_dim=6, lstm_units=[4], units=3, attention_width=None
)

SELF_ATTENTION = register(
    Family(
        name="tutorial-self-attention",
        summary="the tutorial's exact Keras model: BiLSTM -> SeqSelfAttention -> Flatten -> Dense",
        config=TutorialConfig,
        build=TutorialClassifier,
        tiny=TINY,
        forward_flops=forward_flops,
    )
)

MULTIHEAD = register(
    Family(
        name="tutorial-multihead",
        summary="the tutorial's exact Keras model: LSTM -> MultiHeadAttention(4) -> Flatten "
        "-> Dense",
        config=TutorialMultiheadConfig,
        build=TutorialClassifier,
        tiny={**TINY, "lstm_units": [12], "head_num": 2},
        forward_flops=forward_flops,
    )
)
