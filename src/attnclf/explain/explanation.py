"""The Explanation: one text as the model read it (tokens after truncation) with what the
model gave on each token, and explain(), which makes one per text from a classifier. The
views that draw it sit above it: terminal.py, html.py, png.py and matrix.py (the
token-by-token matrix); this module imports none of them.

The weights are the pooling attention on each token: one row, plus one row per head for
multi-head models, renormalised to sum to 1. Attention weights show where the pooling looked,
not why the model decided (Jain & Wallace 2019, "Attention is not Explanation"); the views say
"attention", never "importance".

A model that pools without attention (a max-pooling BiLSTM baseline, say) gives no weights:
its Explanation has `weights` None, and every view shows the words uncoloured with NO_ATTENTION
rather than failing or inventing an even spread, which would read as "every word mattered
equally".

A model without attention that adds its logit up from the tokens (nbsvm) gives each token its
signed share of the logit instead (`token_scores`; see models/outputs.py); `score_legend` says
what their colours (or signs) mean for the explanation's labels.

A model whose attention pools each word's own vote (word-attention) gives both: the weights, and
as `token_scores` its signed attention, each weight times its word's vote, the word's exact term
of the logit (`has_signed_attention`). Ranking the words by that term is as faithful as
integrated gradients, where the plain weights are not, so the views draw it first, as the row
SIGNED_ATTENTION on the signed ramp, with the weights below it; `signed_attention_legend` says
what its colours (or signs) mean.

Models where every token attends to every token (the tutorial families, the transformer) also
give a token-by-token matrix per head (and per layer): row t holds token t's weights over the
tokens. The Explanation keeps it (`token_attention`, (nh, T, T), with a name per map). For the
tutorial families the per-token weights are how much attention each token receives, averaged
over the query rows (and heads), scaled to sum to 1; the transformer's are its pooling
attention, which the matrix does not give (matrix.weights_are_received tells which).

A notebook shows an Explanation as its HTML card: the HTML view registers how
(`show_in_notebooks`), and importing attnclf.explain imports that view.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AttnclfError
from ..text.tokens import tokenize

if TYPE_CHECKING:
    from ..inference.classifier import Prediction, Scored, TextClassifier

NO_ATTENTION = (
    "this model has no attention weights to show (it pools without attention); "
    "try `attnclf faithfulness` for gradient-based explanations"
)
# The name of the row of signed attention (word-attention's token scores) in every view
SIGNED_ATTENTION = "signed attention"
# How a notebook draws an Explanation (its _repr_html_): set by the HTML view, which sits above
# this module, through show_in_notebooks.
_notebook_view: Callable[[Explanation], str] | None = None


@dataclass
class Explanation:
    """One text, the tokens the model read, and the attention on each of them (None for a
    model without attention)."""

    text: str
    tokens: list[str]  # what the model read, after truncation
    # (T,) one per token, sums to 1; the mean over heads for multi-head; None: no attention
    weights: list[float] | None
    label: str  # predicted
    probability: float  # of the predicted label
    probabilities: dict[str, float]
    label_names: list[str]
    truncated: bool
    model_name: str
    head_weights: list[list[float]] | None = None  # (nh, T), each row sums to 1
    true_label: str | None = None  # known for test reviews
    # (maps, T, T) float32 for layers where every token attends to every token: row t is token
    # t's weights over the tokens; one map per head (per layer and head for several layers)
    token_attention: np.ndarray | None = field(default=None, repr=False, compare=False)
    token_attention_names: list[str] | None = None  # one per map: "head 1", "layer 2, head 1"
    # (T,) signed share of the logit per token, for a model that adds its logit up from the
    # tokens: nbsvm (no attention), and word-attention, where it is its signed attention, each
    # weight times its word's vote, the word's term of the logit; positive: towards the second
    # label (more labels: the predicted one)
    token_scores: list[float] | None = None
    # shown instead of NO_ATTENTION for a model without attention (an ensemble says why)
    note: str | None = None
    tokenizer: str = "attnclf"  # how `text` became tokens (TextConfig.tokenizer)

    @classmethod
    def from_prediction(
        cls,
        prediction: Prediction,
        label_names: Sequence[str],
        model_name: str,
        true_label: str | None = None,
    ) -> Explanation:
        attention = prediction.attention
        # Heads without a pooled row cannot happen in a real model; drop them rather than draw
        # head rows under a "no attention" note.
        heads = prediction.head_attention if attention is not None else None
        return cls(
            text=prediction.text,
            tokens=list(prediction.tokens),
            weights=_sum_to_one(attention) if attention is not None else None,
            label=prediction.label,
            probability=float(prediction.probability),
            probabilities=dict(prediction.probabilities),
            label_names=list(label_names),
            truncated=bool(prediction.truncated),
            model_name=model_name,
            head_weights=[_sum_to_one(row) for row in heads] if heads is not None else None,
            true_label=true_label,
            token_scores=(
                [float(v) for v in prediction.token_scores]
                if prediction.token_scores is not None
                else None
            ),
        )

    @classmethod
    def from_scored(
        cls,
        text: str,
        scored: Scored,
        label_names: Sequence[str],
        model_name: str,
        true_label: str | None = None,
        map_names: Sequence[str] | None = None,
        tokenizer: str = "attnclf",
    ) -> Explanation:
        """From `TextClassifier.infer`, which also gives the token-by-token matrix; its maps
        are named by `map_names`, else "head 1", "head 2", ...; `tokenizer` is the one that
        made `scored.tokens` (TextConfig.tokenizer)."""
        probs = np.asarray(scored.probabilities, dtype=np.float64)  # (K,)
        best = int(probs.argmax())
        attention, heads, matrix = scored.attention, scored.head_attention, scored.token_attention
        if matrix is not None:
            matrix = np.asarray(matrix, dtype=np.float32)  # (maps, T, T)
            count = matrix.shape[0]
            if map_names is None or len(map_names) != count:
                map_names = [f"head {i}" for i in range(1, count + 1)]
        else:
            map_names = None
        return cls(
            text=text,
            tokens=list(scored.tokens),
            weights=_sum_to_one(attention) if attention is not None else None,
            label=label_names[best],
            probability=float(probs[best]),
            probabilities=dict(zip(label_names, map(float, probs), strict=True)),
            label_names=list(label_names),
            truncated=bool(scored.truncated),
            model_name=model_name,
            head_weights=(
                [_sum_to_one(row) for row in heads]
                if heads is not None and attention is not None
                else None
            ),
            true_label=true_label,
            token_attention=matrix,
            token_attention_names=list(map_names) if map_names is not None else None,
            token_scores=(
                [float(v) for v in scored.token_scores] if scored.token_scores is not None else None
            ),
            tokenizer=tokenizer,
        )

    @property
    def has_attention(self) -> bool:
        """Whether the model gave attention weights; False for one that pools without."""
        return self.weights is not None

    @property
    def has_scores(self) -> bool:
        """Whether the views colour signed token scores: a model without attention that gave
        them."""
        return self.weights is None and self.token_scores is not None

    @property
    def has_signed_attention(self) -> bool:
        """Whether the model gave both attention and token scores (word-attention): its token
        scores are then its signed attention, which the views draw before the weights."""
        return self.weights is not None and self.token_scores is not None

    @property
    def has_matrix(self) -> bool:
        """Whether the model gave a token-by-token matrix (token_attention)."""
        return self.token_attention is not None and len(self.token_attention) > 0

    @property
    def correct(self) -> bool | None:
        """Whether the prediction matches the true label; None when that is unknown."""
        return None if self.true_label is None else self.label == self.true_label

    def rows(self) -> list[tuple[str, list[float]]]:
        """(name, weights) per row to draw: the mean and then each head, or the one row; none
        for a model without attention."""
        if self.weights is None:
            return []
        if not self.head_weights:
            return [("attention", self.weights)]
        heads = [(f"head {h}", row) for h, row in enumerate(self.head_weights, start=1)]
        return [("mean", self.weights), *heads]

    def cut(self) -> tuple[int, int] | None:
        """Where the text was cut, as (position among `tokens`, number of tokens left out), or
        None when it was not. Found by matching the full tokenization, so it works for every
        truncation mode ("head" cuts at the end, "tail" at the start, "head+tail" inside)."""
        if not self.truncated:
            return None
        full, n = tokenize(self.text, self.tokenizer), len(self.tokens)
        dropped = len(full) - n
        if dropped <= 0:
            return (n, 0)
        for position in (n // 4, n, 0, *range(n + 1)):
            if (
                self.tokens[:position] == full[:position]
                and self.tokens[position:] == full[len(full) - (n - position) :]
            ):
                return (position, dropped)
        return (n, dropped)

    def _repr_html_(self) -> str:
        if _notebook_view is None:  # the HTML view was never imported: the plain repr
            return f"<pre>{html.escape(repr(self))}</pre>"
        return _notebook_view(self)


def show_in_notebooks(view: Callable[[Explanation], str]) -> None:
    """Draw every Explanation in a notebook with `view` (the HTML view's card)."""
    global _notebook_view
    _notebook_view = view


def explain(
    classifier: TextClassifier,
    texts: str | Sequence[str],
    true_labels: Sequence[str | None] | None = None,
) -> list[Explanation]:
    """One Explanation per text, in order, from `classifier.infer` (which, unlike `predict`,
    also gives the token-by-token matrix). A text with no words is an error."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    labels = [None] * len(texts) if true_labels is None else list(true_labels)
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} true labels")
    scored = classifier.infer(texts)
    explanations = []
    for number, (text, found, truth) in enumerate(zip(texts, scored, labels, strict=True), 1):
        if found is None:
            raise AttnclfError(f"text {number} has no words to explain: {text!r}")
        names = None
        if found.token_attention is not None:
            names = map_names(classifier.model, len(found.token_attention))
        explanations.append(
            Explanation.from_scored(
                text,
                found,
                classifier.label_names,
                classifier.architecture,
                truth,
                names,
                tokenizer=classifier.text_config.tokenizer,
            )
        )
    return explanations


def map_names(model: Any, count: int) -> list[str]:
    """The model's names for the `count` maps of its token_attention ("layer 1, head 2"), or
    "head 1", "head 2", ... for a model that does not name them (or names another count)."""
    name = getattr(model, "token_attention_names", None)
    if callable(name):
        try:
            names = [str(n) for n in name(count)]
        except (TypeError, ValueError):
            names = []
        if len(names) == count:
            return names
    return [f"head {i}" for i in range(1, count + 1)]


def _sum_to_one(row: Sequence[float] | np.ndarray) -> list[float]:
    values = np.asarray(row, dtype=np.float64)
    total = values.sum()
    if not np.isfinite(total) or total <= 0:
        return [1.0 / len(values)] * len(values) if len(values) else []
    return (values / total).tolist()


def _towards(explanation: Explanation, colours: bool) -> str:
    """Which way a signed token score points, for this explanation's labels: in colours (red,
    blue) or, without `colours`, in signs."""
    names = explanation.label_names
    up, down = ("red", "blue") if colours else ("+", "-")
    if len(names) == 2:
        return f"{up}: evidence for {names[1]}, {down}: evidence for {names[0]}"
    return f"{up}: evidence for the predicted {explanation.label}, {down}: against it"


def score_legend(explanation: Explanation, colours: bool = True) -> str:
    """What the colours (or, without `colours`, the signs) of token scores mean for this
    explanation's labels."""
    what, scale = (
        ("colour", "; darkest = the text's largest share") if colours else ("word(score)", "")
    )
    return (
        f"{what}: each word's share of the logit ({_towards(explanation, colours)}{scale}); every "
        "n-gram's weight is split equally over its words, so the shares add up to the logit "
        "minus the bias"
    )


def signed_attention_legend(explanation: Explanation, colours: bool = True) -> str:
    """What the colours (or, without `colours`, the signs) of the signed attention row mean for
    this explanation's labels, and how it reads beside the plain weights."""
    what, scale = (
        (f"{SIGNED_ATTENTION}:", "; darkest = the text's largest term")
        if colours
        else (f"word(term): {SIGNED_ATTENTION},", "")
    )
    return (
        f"{what} each attention weight times its word's vote, the word's term of the logit "
        f"({_towards(explanation, colours)}{scale}); the attention row under it gives the plain "
        "weights, how much the pooling took of each word"
    )


__all__ = [
    "NO_ATTENTION",
    "SIGNED_ATTENTION",
    "Explanation",
    "explain",
    "map_names",
    "score_legend",
    "show_in_notebooks",
    "signed_attention_legend",
]
