"""Named recipes for `attnclf compare --preset NAME`: which families to train side by side and
the training settings a family takes in that recipe (over the run's own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import AttnclfError

# How the tutorial's Keras code trained: Adam at Keras' default 1e-3, no gradient clipping, the
# last weights (no moving average).
KERAS_TRAINING: Mapping[str, Any] = {"lr": 1e-3, "grad_clip": 0.0, "ema_decay": 0.0}


@dataclass(frozen=True)
class Preset:
    summary: str
    models: tuple[str, ...]
    # per family, TrainConfig fields that replace the run's for that family
    training: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "tutorial": Preset(
        summary="the tutorial's two Keras models, exactly and trained as Keras did, beside "
        "attnclf's own two",
        models=("self-attention", "multihead", "tutorial-self-attention", "tutorial-multihead"),
        training={
            "tutorial-self-attention": KERAS_TRAINING,
            "tutorial-multihead": KERAS_TRAINING,
        },
    ),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise AttnclfError(f"--preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]
