"""An ensemble explained: its own answer (it has no attention of its own) beside each member's
explanation of the same text, as the columns of a side-by-side view."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import AttnclfError
from ..inference.ensemble import Ensemble
from .explanation import Explanation, explain

ENSEMBLE_NOTE = (
    "an ensemble has no attention of its own: its probabilities are its members' averaged, "
    "and each member's explanation stands beside it"
)


def explain_ensemble(
    ensemble: Ensemble, texts: Sequence[str], true_labels: Sequence[str | None] | None = None
) -> tuple[list[str], list[list[Explanation]]]:
    """Per text, the ensemble's answer (no attention of its own) and each member's explanation
    of it, as the columns of a side-by-side view; with the columns' names."""
    texts = list(texts)
    labels = [None] * len(texts) if true_labels is None else list(true_labels)
    names = [f"ensemble ({ensemble.describe()})"] + [
        f"{m.name} (weight {w:.3f})"
        for m, w in zip(ensemble.members, ensemble.weights, strict=True)
    ]
    own = []
    for number, (text, found, truth) in enumerate(
        zip(texts, ensemble.infer(texts), labels, strict=True), start=1
    ):
        if found is None:
            raise AttnclfError(f"text {number} has no words to explain: {text!r}")
        answer = Explanation.from_scored(text, found, ensemble.label_names, names[0], truth)
        answer.note = ENSEMBLE_NOTE
        own.append(answer)
    columns = [own]
    for member, name in zip(ensemble.members, names[1:], strict=True):
        explained = explain(member.classifier, texts, labels)
        for explanation in explained:
            explanation.model_name = name
        columns.append(explained)
    return names, [list(row) for row in zip(*columns, strict=True)]


__all__ = ["ENSEMBLE_NOTE", "explain_ensemble"]
