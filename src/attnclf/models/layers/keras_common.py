"""What the tutorial's two ported Keras layers share (keras_self_attention.py,
keras_multi_head.py): Keras' activations by the names its configs store, its `glorot_normal`
initialiser, the two ways of masking, and the order their weights load in from a Keras model.

Masks are boolean (B, T), True at real tokens. `mask=None` means no padding mask at all, which
is what the tutorial computes (its Embedding has no mask_zero). With a mask, `mask_mode` picks:

- "correct" (default): masked scores get the dtype's minimum; padding keys get weight exactly
  0, rows of real tokens sum to 1 over the real tokens, rows of padded queries are all zero.
- "keras": bit for bit what the libraries compute when Keras passes a mask: scores are lowered
  by 10000 (not removed); each layer's docstring says which pairs it lowers. The attention
  window and `history_only` are lowered by 10000 the same way in this mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import nn

MaskMode = Literal["correct", "keras"]
MASK_MODES = ("correct", "keras")

# Keras lowers scores it masks by this constant instead of removing them; "keras" mode keeps it.
KERAS_MASK_PENALTY = 10000.0

# Keras 2.15's activations by the names its configs store them under (`keras.activations`).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "exponential": torch.exp,
    "hard_sigmoid": lambda x: torch.clamp(0.2 * x + 0.5, 0.0, 1.0),  # Keras 2's, not PyTorch's
    "swish": F.silu,
    "silu": F.silu,
    "gelu": F.gelu,  # Keras' default is the exact (erf) form, as PyTorch's
    "softmax": lambda x: torch.softmax(x, dim=-1),
}


class KerasWeight(NamedTuple):
    """One Keras weight of a layer, in the order Keras stores them.

    `keras_name` is the name the layer gives `add_weight` (in an .h5 file the weight is listed
    as `<layer>/<keras_name>:0` in the layer group's `weight_names`); `param` is the torch
    parameter it goes to; `shape` is the Keras shape, which the torch parameter shares, so
    `transpose` is always False here (kept so importers can treat every layer alike)."""

    keras_name: str
    param: str
    shape: tuple[int, ...]
    transpose: bool = False


def activation_name(activation: str | Mapping[str, Any] | None) -> str:
    """A Keras activation as its config stores it (None, a name, or a serialised dict) ->
    a key of ACTIVATIONS."""
    if activation is None:
        return "linear"
    if isinstance(activation, Mapping):
        inner = activation.get("config", {})
        name = inner.get("name") if isinstance(inner, Mapping) else None
        activation = name or activation.get("class_name")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"unsupported Keras activation {activation!r}; use one of {sorted(ACTIVATIONS)}"
        )
    return activation


def glorot_normal_(weight: torch.Tensor) -> torch.Tensor:
    """Keras' `glorot_normal` on a Keras-shaped (fan_in, fan_out) kernel: a normal truncated at
    two standard deviations, std = sqrt(2 / (fan_in + fan_out)) / 0.8796 (the correction makes
    the truncated distribution's std the Glorot one)."""
    fan_in, fan_out = weight.shape[0], weight.shape[1]
    std = math.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978
    return nn.init.trunc_normal_(weight, 0.0, std, -2.0 * std, 2.0 * std)


def keras_initialise_(module: nn.Module) -> None:
    """The libraries' initialisers on a ported layer: glorot_normal kernels (parameters named
    W...), zero biases."""
    for name, param in module.named_parameters():
        if name.startswith("W"):
            glorot_normal_(param.data)
        else:
            nn.init.zeros_(param.data)


def check_mask_mode(mask_mode: str) -> None:
    if mask_mode not in MASK_MODES:
        raise ValueError(f"mask_mode must be one of {MASK_MODES}, got {mask_mode!r}")


def keras_softmax(scores: torch.Tensor) -> torch.Tensor:
    """The libraries' own softmax: exp(e - max) / sum, over the last axis."""
    scores = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return scores / scores.sum(dim=-1, keepdim=True)


def correct_softmax(
    scores: torch.Tensor, allowed: torch.Tensor | None, query_mask: torch.Tensor | None
) -> torch.Tensor:
    """Softmax over allowed keys (weight exactly 0 elsewhere); padded query rows all zero.

    Every real query row has an allowed key, itself (a window always holds its own position),
    so exp(min - max) makes the others exactly 0 and only padded rows, which may have none,
    need zeroing: the query mask does that."""
    if allowed is not None:
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    if query_mask is not None:
        weights = weights * query_mask[..., :, None]
    return weights


def check_input(x: torch.Tensor, features: int, mask: torch.Tensor | None) -> None:
    if x.dim() != 3 or x.shape[-1] != features:
        raise ValueError(f"expected x of shape (B, T, {features}), got {tuple(x.shape)}")
    if mask is not None and (mask.dtype != torch.bool or mask.shape != x.shape[:2]):
        raise ValueError(
            f"expected a bool mask of shape {tuple(x.shape[:2])} (True at real tokens), "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )


class KerasLayer(Protocol):
    """A ported layer whose torch parameters map one-to-one to its Keras weights."""

    def keras_weight_order(self, layer_name: str = ...) -> list[KerasWeight]: ...


def load_keras_weights(
    layer: KerasLayer,
    arrays: Sequence[Any],
    layer_name: str | None = None,
) -> None:
    """Copy a Keras layer's weights (`layer.get_weights()`, or an .h5 layer group's datasets in
    its `weight_names` order: numpy arrays) into `layer`, one-to-one by `keras_weight_order()`.
    Raises ValueError when the count or a shape does not match this config."""
    order = (
        layer.keras_weight_order() if layer_name is None else layer.keras_weight_order(layer_name)
    )
    if len(arrays) != len(order):
        raise ValueError(
            f"expected {len(order)} Keras weights ({', '.join(w.keras_name for w in order)}), "
            f"got {len(arrays)}: check the layer config (biases, attention type)"
        )
    with torch.no_grad():
        for spec, array in zip(order, arrays, strict=True):
            value = torch.as_tensor(array)
            if spec.transpose:
                value = value.T
            if tuple(value.shape) != spec.shape:
                raise ValueError(
                    f"Keras weight {spec.keras_name} has shape {tuple(value.shape)}, "
                    f"expected {spec.shape}"
                )
            param = getattr(layer, spec.param)
            param.copy_(value.to(dtype=param.dtype, device=param.device))
