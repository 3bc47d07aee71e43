"""The JSON of one scored text, shared by /predict and /explain: the labels most probable
first, the tokens and the attention (rounded to six places)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..inference.classifier import Scored


def label_scores(
    probabilities: np.ndarray, labels: Sequence[str], top_k: int | None
) -> list[dict[str, Any]]:
    """[{"label", "score"}] most probable first, `top_k` of them (None: every label)."""
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [{"label": labels[i], "score": float(probabilities[i])} for i in order]


def attention_of(result: Scored) -> dict[str, Any]:
    return {
        "tokens": result.tokens,
        "truncated": result.truncated,
        "attention": rounded(result.attention),
        "head_attention": rounded(result.head_attention),
        "token_attention": rounded(result.token_attention),
        "token_scores": rounded(result.token_scores),
    }


def rounded(values: np.ndarray | None) -> Any:
    return np.round(values.astype(np.float64), 6).tolist() if values is not None else None
