"""keras-self-attention 0.51.0's `SeqSelfAttention`, the tutorial's own layer, ported exactly.
Usable on its own (imports only torch); its weights map one-to-one from a Keras model.

Notation: B batch, T tokens, F features, U units.

SeqSelfAttention (additive form after Zheng et al. 2018, arXiv:1806.01264):

    additive:        h_{t,t'} = tanh(x_t W_t + x_{t'} W_x + b_h)        # (B, T, T, U)
                     e_{t,t'} = h_{t,t'} W_a + b_a                      # (B, T, T)
    multiplicative:  e_{t,t'} = x_t W_a x_{t'}^T + b_a                  # (B, T, T)
    e <- activation(e)                 (Keras' None is `linear`: the identity)
    a_t = softmax_{t'}(e_{t,t'})  over the allowed keys t'
    l_t = sum_{t'} a_{t,t'} x_{t'}                                       # (B, T, F)

  With `attention_width = w`, query t may attend to keys t' in [lo_t, lo_t + w) where
  lo_t = t - w // 2 (centred; an even w reaches one step further into the past than into the
  future, e.g. w = 4 covers t-2 .. t+1) or lo_t = t - (w - 1) with `history_only` (causal,
  t-w+1 .. t). `history_only` without a width sets w = 10**9, as the library does.
  Attention regulariser (library `_attention_regularizer`, added as a Keras loss):

    R = weight * sum_b ||A_b A_b^T - I||_F^2 / B        (squared Frobenius norm, summed)

Masks and `mask_mode` as in keras_common.py. In "keras" mode the library lowers only pairs where
query AND key are padding (keras-self-attention issue #41), so real tokens still attend to
padding keys, and padded queries attend to the real tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

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

# Elements of one block of the (B, T, T, U) additive-score tensor: a few MB, so the block's
# passes stay in cache instead of streaming ~650 MB (B 128, T 200, U 32) through memory.
ADDITIVE_BLOCK_ELEMENTS = 1 << 21


def additive_scores(
    q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, w: torch.Tensor
) -> torch.Tensor:
    """e_{t,t'} = tanh(q_t + k_{t'} + b) . w for q, k (B, T, U), b, w (U,): (B, T, T).

    Computed a block of query rows at a time, forward and backward (which recomputes each
    block's tanh), so the (B, T, T, U) tensor is never held whole: the same function as the
    one-line broadcast, in less memory and time."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return torch.tanh(q[:, :, None] + k[:, None] + bias) @ w  # one graph op per step
    return _AdditiveScores.apply(q, k, bias, w)


def _tanh_(x: torch.Tensor) -> torch.Tensor:
    """tanh in place as 2 sigmoid(2x) - 1: on an AVX2 CPU PyTorch's sigmoid ran 2.4x faster
    than its tanh (1,004 against 416 M elements/s, 2 threads), within 2e-7 of it."""
    return x.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


def _rows_per_block(q: torch.Tensor) -> int:
    batch, length, units = q.shape
    return max(1, min(length, ADDITIVE_BLOCK_ELEMENTS // max(1, batch * length * units)))


class _AdditiveScores(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, w: torch.Tensor
    ) -> torch.Tensor:
        batch, length, units = q.shape
        keys = (k + bias)[:, None]  # (B, 1, T, U)
        e = q.new_empty(batch, length, k.shape[1])  # (B, T, T)
        step = _rows_per_block(q)
        for start in range(0, length, step):
            h = _tanh_(q[:, start : start + step, None] + keys)  # (B, c, T, U)
            e[:, start : start + step] = h @ w  # (B, c, T)
        ctx.save_for_backward(q, keys, w)
        return e

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        q, keys, w = ctx.saved_tensors
        grad = grad.contiguous()
        dq = torch.empty_like(q)  # (B, T, U)
        dk = torch.zeros_like(keys[:, 0])  # (B, T, U)
        dw = torch.zeros_like(w)  # (U,)
        step = _rows_per_block(q)
        for start in range(0, q.shape[1], step):
            h = _tanh_(q[:, start : start + step, None] + keys)  # (B, c, T, U)
            g = grad[:, start : start + step, :, None]  # (B, c, T, 1)
            dw += (h * g).sum(dim=(0, 1, 2))
            # d pre-activation = g w (1 - h^2), in place in h
            h.mul_(h).neg_().add_(1.0).mul_(g).mul_(w)
            dq[:, start : start + step] = h.sum(dim=2)
            dk += h.sum(dim=1)
        return dq, dk, dk.sum(dim=(0, 1)), dw


class SeqSelfAttention(nn.Module):
    """keras-self-attention 0.51.0 `SeqSelfAttention` (see the module docstring for the maths).

    Parameters carry the Keras names and shapes: additive `Wt (F, U)`, `Wx (F, U)`,
    `bh (U,)`, `Wa (U, 1)`, `ba (1,)`; multiplicative `Wa (F, F)`, `ba (1,)`. A bias that is
    switched off is `None`."""

    def __init__(
        self,
        features: int,
        units: int = 32,
        attention_type: Literal["additive", "multiplicative"] = "additive",
        attention_width: int | None = None,
        history_only: bool = False,
        use_additive_bias: bool = True,
        use_attention_bias: bool = True,
        attention_activation: str | None = None,
        attention_regularizer_weight: float = 0.0,
        mask_mode: MaskMode = "correct",
    ) -> None:
        super().__init__()
        if features < 1 or units < 1:
            raise ValueError(f"features and units must be >= 1, got {features} and {units}")
        if attention_type not in ("additive", "multiplicative"):
            raise ValueError(
                f"attention_type must be 'additive' or 'multiplicative', got {attention_type!r}"
            )
        if attention_width is not None and attention_width < 1:
            raise ValueError(f"attention_width must be None or >= 1, got {attention_width}")
        if attention_regularizer_weight < 0:
            raise ValueError(
                f"attention_regularizer_weight must be >= 0, got {attention_regularizer_weight}"
            )
        check_mask_mode(mask_mode)
        self.features = features
        self.units = units
        self.attention_type = attention_type
        if history_only and attention_width is None:
            attention_width = 10**9  # what the library stores in its config, too
        self.attention_width = attention_width
        self.history_only = history_only
        self.use_additive_bias = use_additive_bias
        self.use_attention_bias = use_attention_bias
        self.attention_activation = activation_name(attention_activation)
        self.attention_regularizer_weight = float(attention_regularizer_weight)
        self.mask_mode: MaskMode = mask_mode

        self.Wt: nn.Parameter | None = None
        self.Wx: nn.Parameter | None = None
        self.bh: nn.Parameter | None = None
        if attention_type == "additive":
            self.Wt = nn.Parameter(torch.empty(features, units))
            self.Wx = nn.Parameter(torch.empty(features, units))
            if use_additive_bias:
                self.bh = nn.Parameter(torch.empty(units))
            self.Wa = nn.Parameter(torch.empty(units, 1))
        else:
            self.Wa = nn.Parameter(torch.empty(features, features))
        self.ba: nn.Parameter | None = nn.Parameter(torch.empty(1)) if use_attention_bias else None
        self.reset_parameters()

    @classmethod
    def from_keras_config(
        cls, config: Mapping[str, Any], features: int, mask_mode: MaskMode = "correct"
    ) -> SeqSelfAttention:
        """Build from the layer's Keras `get_config()` dict (as an .h5 model_config holds it)."""
        return cls(
            features,
            units=int(config.get("units", 32)),
            attention_type=config.get("attention_type", "additive"),
            attention_width=config.get("attention_width"),
            history_only=bool(config.get("history_only", False)),
            use_additive_bias=bool(config.get("use_additive_bias", True)),
            use_attention_bias=bool(config.get("use_attention_bias", True)),
            attention_activation=activation_name(config.get("attention_activation")),
            attention_regularizer_weight=float(config.get("attention_regularizer_weight", 0.0)),
            mask_mode=mask_mode,
        )

    def reset_parameters(self) -> None:
        """The library's initialisers: glorot_normal kernels, zero biases."""
        keras_initialise_(self)

    def keras_weight_order(self, layer_name: str = "seq_self_attention") -> list[KerasWeight]:
        """This config's Keras weights in the order the layer creates (and an .h5 stores) them:
        additive Wt, Wx, [bh], Wa, [ba] (names `<layer>_Add_*`); multiplicative Wa, [ba]
        (names `<layer>_Mul_*`). No transposes: the torch parameters keep the Keras shapes."""
        F_, U = self.features, self.units
        if self.attention_type == "additive":
            spec: list[tuple[str, tuple[int, ...], bool]] = [
                ("Wt", (F_, U), True),
                ("Wx", (F_, U), True),
                ("bh", (U,), self.use_additive_bias),
                ("Wa", (U, 1), True),
                ("ba", (1,), self.use_attention_bias),
            ]
            tag = "Add"
        else:
            spec = [("Wa", (F_, F_), True), ("ba", (1,), self.use_attention_bias)]
            tag = "Mul"
        return [
            KerasWeight(f"{layer_name}_{tag}_{name}", name, shape)
            for name, shape, present in spec
            if present
        ]

    def window(self, length: int, device: torch.device | None = None) -> torch.Tensor | None:
        """(T, T) bool, True where query t may see key t' under `attention_width`, computed as
        the library does (lower = t - w // 2, or t - (w - 1) when history_only; upper = lower
        + w); None without a width."""
        if self.attention_width is None:
            return None
        positions = torch.arange(length, device=device)
        width = self.attention_width
        lower = positions - (width - 1 if self.history_only else width // 2)
        lower = lower[:, None]  # (T, 1)
        upper = lower + width
        return (lower <= positions[None, :]) & (positions[None, :] < upper)  # (T, T)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """e_{t,t'} after the attention activation, before any window or mask."""
        if self.attention_type == "additive":
            assert self.Wt is not None and self.Wx is not None
            q = x @ self.Wt  # (B, T, U)
            k = x @ self.Wx  # (B, T, U)
            bias = self.bh if self.bh is not None else q.new_zeros(self.units)
            e = additive_scores(q, k, bias, self.Wa[:, 0])  # (B, T, T)
            if self.ba is not None:
                e = e + self.ba
        else:
            e = (x @ self.Wa) @ x.transpose(1, 2)  # (B, T, T)
            if self.ba is not None:
                e = e + self.ba[0]
        return ACTIVATIONS[self.attention_activation](e)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, F), mask (B, T) bool or None -> (output (B, T, F), attention (B, T, T))."""
        check_input(x, self.features, mask)
        e = self.scores(x)  # (B, T, T)
        window = self.window(x.shape[1], x.device)  # (T, T) or None
        if self.mask_mode == "keras":
            if window is not None:
                e = e - KERAS_MASK_PENALTY * (~window).to(e.dtype)
            if mask is not None:
                pad = (~mask).to(e.dtype)[:, :, None]  # (B, T, 1)
                e = e - KERAS_MASK_PENALTY * (pad * pad.transpose(1, 2))  # only pad-pad pairs
            a = keras_softmax(e)  # (B, T, T)
        else:
            allowed = window[None] if window is not None else None  # (1, T, T)
            if mask is not None:
                keys = mask[:, None, :]  # (B, 1, T)
                allowed = keys if allowed is None else allowed & keys  # (B, T, T)
            a = correct_softmax(e, allowed, mask)  # (B, T, T)
        return a @ x, a  # (B, T, F), (B, T, T)

    def regularizer(
        self, attention: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """weight * sum_b ||A_b A_b^T - I||_F^2 / B, a scalar.

        With `mask=None` this is the library's value exactly: it never looks at the mask, so
        padded positions count too (in "correct" mode a padded row adds (0 - 1)^2 on its
        diagonal). With a mask, only pairs of real tokens (t, t') are summed."""
        batch, length = attention.shape[0], attention.shape[-1]
        eye = torch.eye(length, dtype=attention.dtype, device=attention.device)
        gram = attention @ attention.transpose(1, 2)  # (B, T, T)
        squared = (gram - eye).square()  # (B, T, T)
        if mask is not None:
            squared = squared * (mask[:, :, None] & mask[:, None, :])
        return self.attention_regularizer_weight * squared.sum() / batch

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, units={self.units}, "
            f"attention_type={self.attention_type!r}, attention_width={self.attention_width}, "
            f"history_only={self.history_only}, "
            f"attention_activation={self.attention_activation!r}, mask_mode={self.mask_mode!r}"
        )
