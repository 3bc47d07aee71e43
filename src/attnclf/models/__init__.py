"""Model families by name: each has a Config dataclass and an nn.Module built from it."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from .layers import ClassifierOutput
from .multihead import MultiHeadClassifier, MultiHeadConfig
from .self_attention import SelfAttentionClassifier, SelfAttentionConfig

FAMILIES: dict[str, tuple[type, type[nn.Module]]] = {
    "self-attention": (SelfAttentionConfig, SelfAttentionClassifier),
    "multihead": (MultiHeadConfig, MultiHeadClassifier),
}


def model_config(name: str, **values: Any) -> Any:
    """The Config of family `name`, from keyword values (unknown keys are an error)."""
    config_cls, _ = FAMILIES[name]
    known = {field.name for field in dataclasses.fields(config_cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{name} has no settings {sorted(unknown)}; it has {sorted(known)}")
    return config_cls(**values)


def build_model(name: str, config: Any) -> nn.Module:
    _, model_cls = FAMILIES[name]
    return model_cls(config)


__all__ = ["FAMILIES", "ClassifierOutput", "build_model", "model_config"]
