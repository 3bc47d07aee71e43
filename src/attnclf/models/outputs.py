"""The contract every classifier family keeps, whatever it computes inside.

A model is an `nn.Module` built from its family's Config (see `registry.py`) that maps a padded
batch, `ids` (B, T) with `lengths` (B,) and padding at the end of each row, to one
`ClassifierOutput`. Training, evaluation, the model folder, the views, faithfulness, the server
and the exporter read nothing else from it but `input_embeddings()`.

Notation: B batch, T tokens, C logits, nh heads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import AttnclfError


@dataclass
class ClassifierOutput:
    """What every classifier returns; the classification loss lives in `objective.py`."""

    logits: torch.Tensor  # (B, C): C = 1 for two classes (sigmoid), else one per class
    # (B, T) weight per token, 0 on padding, each row sums to 1; None for a model that pools
    # without attention (every view then says so)
    attention: torch.Tensor | None = None
    head_attention: torch.Tensor | None = None  # (B, nh, T) per head, for multi-head pooling
    # (B, nh, T, T) for layers where every token attends to every token: row t holds token t's
    # weights over the tokens (nh = 1 for a single-head layer)
    token_attention: torch.Tensor | None = None
    # () a penalty the training loop adds to the classification loss (for example Lin et al.
    # 2017's ||A A^T - I||_F^2); None when the model asks for none
    auxiliary_loss: torch.Tensor | None = None
    # (B, T) signed share of the logit per token, 0 on padding, for a model that adds its logit
    # up from the tokens (nbsvm; word-attention, where it is each attention weight times its
    # word's vote: its signed attention): each row sums to the logit minus its bias. For C = 1 it
    # is the logit (positive: towards the second label), for C > 1 the predicted class's logit
    token_scores: torch.Tensor | None = None


class Classifier(nn.Module):
    """The base of every family's model: `config` is the dataclass it was built from (saved in
    the model folder), `forward(ids, lengths)` returns a ClassifierOutput, and
    `input_embeddings()` names the module whose output (B, T, E) the gradient explanations
    (gradient x input, integrated gradients) attribute to."""

    config: Any
    # True inside `logits_only(model)`. There, and in training mode, the caller reads the
    # logits (and auxiliary loss) alone: a family may skip what only the views read, as the
    # transformer skips its (B, nh, T, T) maps
    views_unread: bool = False

    @property
    def skip_views(self) -> bool:
        """Whether this forward pass may leave out the views' outputs (attention, maps)."""
        return self.training or self.views_unread

    def input_embeddings(self) -> nn.Module:
        embedding = getattr(self, "embedding", None)
        if isinstance(embedding, nn.Module):
            return embedding
        raise AttnclfError(
            f"{type(self).__name__} has no input embeddings; gradient explanations need a model "
            "that embeds its tokens (override Classifier.input_embeddings)"
        )

    def token_attention_names(self, count: int) -> list[str]:
        """A name for each of the `count` maps of `token_attention` (B, count, T, T), in order,
        for the views; a model whose maps come from several layers overrides it."""
        return [f"head {i + 1}" for i in range(count)]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        raise NotImplementedError


@contextmanager
def logits_only(model: nn.Module) -> Iterator[None]:
    """Inside, `model` is asked for its logits alone (evaluation passes, faithfulness curves):
    a Classifier may then return no attention or maps. Other modules are left as they are."""
    if not isinstance(model, Classifier):
        yield
        return
    before = model.views_unread
    model.views_unread = True
    try:
        yield
    finally:
        model.views_unread = before


def input_embeddings(model: nn.Module) -> nn.Module:
    """`model.input_embeddings()` of a Classifier, else its `embedding` attribute (a model made
    outside the registry); a clear error when it has neither."""
    if isinstance(model, Classifier):
        return model.input_embeddings()
    return Classifier.input_embeddings(model)  # type: ignore[arg-type]
