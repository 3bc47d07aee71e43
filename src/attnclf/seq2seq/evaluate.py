"""Scores of translations against references, as pure functions of token lists.

- exact match: the share of outputs equal to their reference, token for token.
- token accuracy: tokens equal to the reference's at the same position, over the longer of the
  two lengths, so a missing or an extra token counts as a wrong one.
- BLEU: sacrebleu's corpus BLEU (Papineni et al. 2002; Post 2018) on the detokenized texts,
  with its default 13a tokenization; its signature is reported beside the score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .translator import Translation, Translator


def token_matches(output: Sequence[str], reference: Sequence[str]) -> tuple[int, int]:
    """(tokens right at their position, the longer length)."""
    right = sum(a == b for a, b in zip(output, reference, strict=False))
    return right, max(len(output), len(reference))


def translation_metrics(
    outputs: Sequence[Sequence[str]], references: Sequence[Sequence[str]], joiner: str = " "
) -> dict:
    """Exact match, token accuracy and BLEU of `outputs` against `references` (token lists);
    `joiner` joins tokens back into text for BLEU ("" for characters)."""
    from sacrebleu.metrics import BLEU

    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} outputs for {len(references)} references")
    exact = sum(list(o) == list(r) for o, r in zip(outputs, references, strict=True))
    right = total = 0
    for output, reference in zip(outputs, references, strict=True):
        matched, longest = token_matches(output, reference)
        right, total = right + matched, total + longest
    bleu = BLEU()
    score = bleu.corpus_score(
        [joiner.join(o) for o in outputs], [[joiner.join(r) for r in references]]
    )
    count = len(outputs)
    return {
        "examples": count,
        "exact_match": exact / count if count else 0.0,
        "token_accuracy": right / total if total else 0.0,
        "bleu": score.score,
        "bleu_signature": str(bleu.get_signature()),
    }


def accuracy_by_length(
    lengths: Sequence[int],
    correct: Sequence[bool],
    edges: Sequence[int],
    matches: Sequence[tuple[int, int]] | None = None,
) -> list[dict]:
    """Exact match per source-length bin, [edges[k], edges[k + 1]) for each k, empty bins left
    out; with `matches` (token_matches() per pair), the token accuracy per bin as well."""
    lengths_array, correct_array = np.asarray(lengths), np.asarray(correct, dtype=bool)
    right, longest = np.asarray(matches or [], dtype=np.int64).reshape(-1, 2).T  # (N,) each
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=False):  # neighbouring edges
        inside = (lengths_array >= low) & (lengths_array < high)
        if not inside.any():
            continue
        row = {
            "lengths": f"{low}-{high - 1}",
            "low": int(low),
            "high": int(high - 1),
            "examples": int(inside.sum()),
            "exact_match": float(correct_array[inside].mean()),
        }
        if matches is not None:
            row["token_accuracy"] = float(right[inside].sum() / max(longest[inside].sum(), 1))
        rows.append(row)
    return rows


def evaluate_pairs(
    translator: Translator, pairs: Sequence[tuple[str, str]], beam: int = 1
) -> tuple[dict, list[Translation]]:
    """Translate every source and score the outputs against the targets, read with the model's
    own token settings; also the translations, in order."""
    started = time.perf_counter()
    translations = translator.translate([source for source, _ in pairs], beam=beam)
    seconds = time.perf_counter() - started
    references = [translator.tokenize(target) for _, target in pairs]
    joiner = translator.detokenize(["", ""])  # what joins two tokens
    metrics = translation_metrics([t.output_tokens for t in translations], references, joiner)
    metrics["beam"] = beam
    metrics["sources_per_s"] = round(len(pairs) / max(seconds, 1e-9), 1)
    return metrics, translations
