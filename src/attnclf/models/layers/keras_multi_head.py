"""keras-multi-head 0.29.0's `MultiHeadAttention(head_num)`, used by the tutorial as
self-attention on one input, ported exactly. Usable on its own (imports only torch); its weights
map one-to-one from a Keras model.

Notation: B batch, T tokens, F features, nh heads, hs = F / nh.

MultiHeadSelfAttention (Vaswani et al. 2017, keras-multi-head's variant):

    Q = act(x W_q + b_q), K = act(x W_k + b_k), V = act(x W_v + b_v)     # (B, T, F)
    split F into nh contiguous blocks of hs:  Q_h = Q[..., h*hs:(h+1)*hs]  # (B, nh, T, hs)
    A_h = softmax(Q_h K_h^T / sqrt(hs))                                  # (B, nh, T, T)
    y = act(concat_h(A_h V_h) W_o + b_o)                                 # (B, T, F)

  with act = relu by default (the activation is applied to the output projection too) and
  `history_only` keeping keys t' <= t.

Masks and `mask_mode` as in keras_common.py. In "keras" mode the library lowers every padding
key (they get exp(-10000) = 0 in float32) but padded queries keep full rows over the real
tokens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .keras_common import (
    ACTIVATIONS,
    KERAS_MASK_PENALTY,
    KerasWeight,
    MaskMode,
    activation_name,
    check_input,
    check_mask_mode,
    correct_softmax,
    keras_initialise_,
    keras_softmax,
)


class MultiHeadSelfAttention(nn.Module):
    """keras-multi-head 0.29.0 `MultiHeadAttention(head_num)` called on one input (self-attention;
    see the module docstring for the maths).

    Parameters carry the Keras names and shapes: `Wq, Wk, Wv, Wo (F, F)` and, with `use_bias`,
    `bq, bk, bv, bo (F,)`; without it the biases are `None`."""

    Wq: nn.Parameter
    Wk: nn.Parameter
    Wv: nn.Parameter
    Wo: nn.Parameter
    bq: nn.Parameter | None
    bk: nn.Parameter | None
    bv: nn.Parameter | None
    bo: nn.Parameter | None

    def __init__(
        self,
        features: int,
        head_num: int,
        activation: str | None = "relu",
        use_bias: bool = True,
        history_only: bool = False,
        mask_mode: MaskMode = "correct",
    ) -> None:
        super().__init__()
        if features < 1 or head_num < 1:
            raise ValueError(f"features and head_num must be >= 1, got {features}, {head_num}")
        if features % head_num != 0:
            # the library raises IndexError('Invalid head number ...') in build()
            raise ValueError(
                f"features ({features}) must be divisible by head_num ({head_num}); "
                f"pick a head count that divides the input width"
            )
        check_mask_mode(mask_mode)
        self.features = features
        self.head_num = head_num
        self.head_size = features // head_num
        self.activation = activation_name(activation)
        self.use_bias = use_bias
        self.history_only = history_only
        self.mask_mode: MaskMode = mask_mode
        for name in ("q", "k", "v", "o"):
            setattr(self, f"W{name}", nn.Parameter(torch.empty(features, features)))
            bias = nn.Parameter(torch.empty(features)) if use_bias else None
            setattr(self, f"b{name}", bias)
        self.reset_parameters()

    @classmethod
    def from_keras_config(
        cls, config: Mapping[str, Any], features: int, mask_mode: MaskMode = "correct"
    ) -> MultiHeadSelfAttention:
        """Build from the layer's Keras `get_config()` dict (as an .h5 model_config holds it)."""
        return cls(
            features,
            head_num=int(config["head_num"]),
            activation=activation_name(config.get("activation", "relu")),
            use_bias=bool(config.get("use_bias", True)),
            history_only=bool(config.get("history_only", False)),
            mask_mode=mask_mode,
        )

    def reset_parameters(self) -> None:
        """The library's initialisers: glorot_normal kernels, zero biases."""
        keras_initialise_(self)

    def keras_weight_order(self, layer_name: str = "multi_head_attention") -> list[KerasWeight]:
        """This config's Keras weights in the order the layer creates (and an .h5 stores) them:
        Wq, [bq], Wk, [bk], Wv, [bv], Wo, [bo] (kernels and biases interleaved), named
        `<layer>_Wq` etc. No transposes: the torch parameters keep the Keras shapes."""
        order: list[KerasWeight] = []
        for name in ("q", "k", "v", "o"):
            order.append(KerasWeight(f"{layer_name}_W{name}", f"W{name}", (self.features,) * 2))
            if self.use_bias:
                order.append(KerasWeight(f"{layer_name}_b{name}", f"b{name}", (self.features,)))
        return order

    def _project(self, x: torch.Tensor, name: str) -> torch.Tensor:
        y = x @ getattr(self, f"W{name}")  # (B, T, F)
        bias = getattr(self, f"b{name}")
        if bias is not None:
            y = y + bias
        return ACTIVATIONS[self.activation](y)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        x = x.view(batch, length, self.head_num, self.head_size)  # (B, T, nh, hs)
        return x.transpose(1, 2)  # (B, nh, T, hs)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, F), mask (B, T) bool or None -> (output (B, T, F), attention (B, nh, T, T)).

        (The library's own `layer.attention` is laid out (B, T, nh, T).)"""
        check_input(x, self.features, mask)
        batch, length, _ = x.shape
        q = self._split(self._project(x, "q"))  # (B, nh, T, hs)
        k = self._split(self._project(x, "k"))  # (B, nh, T, hs)
        v = self._split(self._project(x, "v"))  # (B, nh, T, hs)
        e = (q / math.sqrt(self.head_size)) @ k.transpose(-1, -2)  # (B, nh, T, T)
        causal = None
        if self.history_only:
            positions = torch.arange(length, device=x.device)
            causal = positions[None, :] <= positions[:, None]  # (T, T)
        if self.mask_mode == "keras":
            if causal is not None:
                e = e - KERAS_MASK_PENALTY * (~causal).to(e.dtype)
            if mask is not None:
                e = e - KERAS_MASK_PENALTY * (~mask).to(e.dtype)[:, None, None, :]  # keys only
            a = keras_softmax(e)  # (B, nh, T, T)
        else:
            allowed = causal[None, None] if causal is not None else None  # (1, 1, T, T)
            if mask is not None:
                keys = mask[:, None, None, :]  # (B, 1, 1, T)
                allowed = keys if allowed is None else allowed & keys  # (B, 1, T, T)
            query_mask = mask[:, None, :] if mask is not None else None  # (B, 1, T)
            a = correct_softmax(e, allowed, query_mask)  # (B, nh, T, T)
        y = (a @ v).transpose(1, 2).reshape(batch, length, self.features)  # (B, T, F)
        y = y @ self.Wo
        if self.bo is not None:
            y = y + self.bo
        return ACTIVATIONS[self.activation](y), a  # (B, T, F), (B, nh, T, T)

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, head_num={self.head_num}, "
            f"activation={self.activation!r}, use_bias={self.use_bias}, "
            f"history_only={self.history_only}, mask_mode={self.mask_mode!r}"
        )
