"""How faithful are token explanations? Erasure metrics and rank agreement with attention.

The scores of an explanation method (explain/attributions.py: attention, gradient x input,
integrated gradients, random) are judged by what the model does when tokens are deleted (ERASER,
DeYoung et al. 2020): comprehensiveness is p(predicted | text) - p(predicted | text without its
top k% tokens) and sufficiency is p(predicted | text) - p(predicted | only its top k% tokens),
each averaged over several k ("AOPC", area over the perturbation curve). Attention is also
compared with the other methods by per-text Spearman and Kendall rank correlation, as in Jain &
Wallace 2019.

Choices, and why:
- Deletion removes tokens from the sequence (no <unk> left in their place). A text left with no
  token becomes a single padding token, as `batches.collate` makes of an empty text: with the
  zero padding embedding that is the same "no evidence" input as integrated gradients' baseline.
- k% of a text's n tokens is round(k * n), halves rounded up, at least 1 and at most n.
- AOPC is the plain mean over the ks; the paper's formula divides by |ks| + 1 to count a k = 0
  bin, which adds nothing to comprehensiveness.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, rankdata

from ..errors import AttnclfError
from ..evaluation.metrics import predict_logits
from ..inference.classifier import TextClassifier
from ..models.objective import log_probabilities
from ..text.batches import EncodedTexts
from .attributions import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_IG_STEPS,
    METHODS,
    Scores,
    Texts,
    attribute,
    check_methods,
    class_probabilities,
    encode_texts,
    eval_mode,
)

DEFAULT_KS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.5)

FAITHFULNESS_EXPLAINED = (
    "Each explanation method ranks the tokens of a text by how much they support the class the "
    "model predicted: the model's own attention weights, for word-attention its signed "
    "attention (each weight times its word's vote, the word's term of the logit), gradient x "
    "input, integrated gradients (Sundararajan et al. 2017) and, as a floor, random scores. "
    "Following ERASER (DeYoung et al. "
    "2020), the ranking is tested by deleting tokens and asking the model again. "
    "Comprehensiveness is how much the predicted class's probability falls when the top k% of "
    "tokens are deleted: higher means the ranking found what the model relied on. Sufficiency is "
    "how much it falls when only the top k% are kept: lower (near zero, or below) means those "
    "tokens alone carry the decision. AOPC averages each over k = 1%, 5%, 10%, 20% and 50%. A "
    "method is only worth reading if it beats random clearly. Deleted text is text the model "
    "never saw in training, so these figures measure the model on unusual inputs as well as the "
    "explanation. The rank correlation columns say how far attention agrees with the gradient "
    "methods on the order of tokens (Spearman, per text, then mean and spread over texts): Jain & "
    "Wallace (2019) found that it often agrees only weakly and argued attention is not "
    "explanation; Wiegreffe & Pinter (2019) answered that this alone does not show attention is "
    "unfaithful. The erasure figures above are the direct test on this model."
)


def _sequences(data: EncodedTexts) -> list[np.ndarray]:
    return [data.ids[data.offsets[i] : data.offsets[i + 1]] for i in range(len(data))]


# --- erasure: comprehensiveness and sufficiency --------------------------------------------


def tokens_for_fraction(length: int, fraction: float) -> int:
    """How many of `length` tokens make `fraction` of them: rounded, halves up, in [1, length]."""
    return min(length, max(1, math.floor(fraction * length + 0.5)))


def top_tokens(scores: np.ndarray, count: int) -> np.ndarray:
    """Positions of the `count` highest scores, in text order; ties go to the earlier token."""
    ranked = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return np.sort(ranked[:count])


def erase(
    ids: np.ndarray, scores: np.ndarray, fraction: float, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(the text without its top `fraction` tokens, only those tokens in text order). A text
    left empty becomes one padding token."""
    keep = np.zeros(len(ids), dtype=bool)
    keep[top_tokens(scores, tokens_for_fraction(len(ids), fraction))] = True
    without, only = ids[~keep], ids[keep]
    empty = np.array([pad_id], dtype=ids.dtype)
    return (without if len(without) else empty), (only if len(only) else empty)


@dataclass
class Erasure:
    """p(predicted class) for each text, whole and with tokens deleted, at each k."""

    ks: list[float]
    predicted: np.ndarray  # (N,) class index predicted on the whole text
    full: np.ndarray  # (N,) p(predicted | whole text)
    without_top: np.ndarray  # (N, K) p(predicted | top k deleted)
    only_top: np.ndarray  # (N, K) p(predicted | only the top k kept)

    @property
    def comprehensiveness(self) -> np.ndarray:
        return self.full[:, None] - self.without_top  # (N, K)

    @property
    def sufficiency(self) -> np.ndarray:
        return self.full[:, None] - self.only_top  # (N, K)


def erasure(
    classifier: TextClassifier,
    texts: Texts,
    scores: Scores,
    ks: Sequence[float] = DEFAULT_KS,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    full_probabilities: np.ndarray | None = None,
) -> Erasure:
    """Delete each text's top-k tokens by `scores`, or keep only them, for every k, and read the
    predicted class's probability. All 2 x len(ks) variants of all texts go through the model
    together, in length-sorted batches. `full_probabilities` (N, K) skips the whole-text pass."""
    ks = _check_ks(ks)
    data = encode_texts(classifier, texts)
    if len(scores) != len(data):
        raise AttnclfError(f"{len(scores)} score arrays given for {len(data)} texts; give one each")
    full = (
        full_probabilities
        if full_probabilities is not None
        else class_probabilities(classifier, data, batch_size)
    )
    predicted = full.argmax(axis=1)
    pad_id = getattr(classifier.vocab, "pad_id", 0)
    variants: list[np.ndarray] = []
    for ids, text_scores in zip(_sequences(data), scores, strict=True):
        if len(text_scores) != len(ids):
            raise AttnclfError(
                f"a text of {len(ids)} tokens got {len(text_scores)} scores; give one per token"
            )
        for k in ks:
            variants += erase(ids, text_scores, k, pad_id)
    probs = class_probabilities(classifier, EncodedTexts.from_sequences(variants), batch_size)
    chosen = probs[np.arange(len(variants)), np.repeat(predicted, 2 * len(ks))]
    chosen = chosen.reshape(len(data), len(ks), 2)  # (N, K, without/only)
    rows = np.arange(len(data))
    return Erasure(ks, predicted, full[rows, predicted], chosen[..., 0], chosen[..., 1])


# --- rank agreement ------------------------------------------------------------------------


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rho of two score arrays (average ranks for ties); None when either is
    constant or shorter than 2, where it is undefined."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def kendall(a: np.ndarray, b: np.ndarray) -> float | None:
    """Kendall's tau-b of two score arrays; None where undefined, as for `spearman`."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(kendalltau(a, b).statistic)


def rank_correlation(first: Scores, second: Scores) -> dict:
    """Per-text Spearman and Kendall correlations, then their mean and std over the texts where
    they are defined (`texts` says how many)."""
    rhos: list[float] = []
    taus: list[float] = []
    for a, b in zip(first, second, strict=True):
        rho, tau = spearman(a, b), kendall(a, b)
        if rho is not None and tau is not None:
            rhos.append(rho)
            taus.append(tau)
    return {
        "spearman_mean": _mean(rhos),
        "spearman_std": _std(rhos),
        "kendall_mean": _mean(taus),
        "kendall_std": _std(taus),
        "texts": len(rhos),
    }


# --- the report ----------------------------------------------------------------------------


def faithfulness_report(
    classifier: TextClassifier,
    texts: Texts,
    ks: Sequence[float] = DEFAULT_KS,
    methods: Sequence[str] = METHODS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    ig_steps: int = DEFAULT_IG_STEPS,
) -> dict:
    """Comprehensiveness and sufficiency at each k and their AOPC means (with standard errors
    over texts) for each method, the rank correlation of attention with each other method (when
    attention is among `methods`), and seconds per method (its scores plus its erasure passes).
    JSON-ready: per-k keys are the fractions as strings ("0.01"); undefined values are None."""
    ks = _check_ks(ks)
    methods = check_methods(methods)
    skipped = {}
    if "attention" in methods and not classifier.has_attention:
        methods = [name for name in methods if name != "attention"]
        skipped["attention"] = "the model has no attention"
    if "signed_attention" in methods and not classifier.has_signed_attention:
        methods = [name for name in methods if name != "signed_attention"]
        skipped["signed_attention"] = (
            "the model's attention pools no per-word votes, so its weights have no sign"
            if classifier.has_attention
            else "the model has no attention"
        )
    started = time.perf_counter()
    data = encode_texts(classifier, texts)
    if not len(data):
        raise AttnclfError("no texts to measure faithfulness on; give at least one")
    full = class_probabilities(classifier, data, batch_size)  # (N, K)
    predicted = full.argmax(axis=1)
    scores: dict[str, Scores] = {}
    results: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for name in methods:
        start = time.perf_counter()
        scores[name] = attribute(
            name,
            classifier,
            data,
            targets=predicted,
            batch_size=batch_size,
            ig_steps=ig_steps,
            seed=seed,
        )
        erased = erasure(
            classifier, data, scores[name], ks, batch_size=batch_size, full_probabilities=full
        )
        results[name] = _summarise(erased)
        if name == "integrated_gradients":
            results[name].update(
                _completeness(classifier, data, scores[name], predicted, batch_size)
            )
        seconds[name] = round(time.perf_counter() - start, 3)
    correlations = (
        {
            name: rank_correlation(scores["attention"], scores[name])
            for name in methods
            if name != "attention"
        }
        if "attention" in scores
        else {}
    )
    return {
        "n": len(data),
        "ks": ks,
        "methods": results,
        "rank_correlation_with_attention": correlations,
        "seconds": seconds,
        "seconds_total": round(time.perf_counter() - started, 3),
        "settings": {"seed": seed, "ig_steps": ig_steps, "batch_size": batch_size},
        "predicted_probability_mean": float(full[np.arange(len(data)), predicted].mean()),
        **({"skipped": skipped} if skipped else {}),
    }


def _completeness(
    classifier: TextClassifier,
    data: EncodedTexts,
    scores: Scores,
    predicted: np.ndarray,
    batch_size: int,
) -> dict:
    """How far each text's integrated gradients fall from adding up to log p(predicted | text)
    - log p(predicted | all padding), the completeness property of Sundararajan et al. 2017. A
    gap that is large next to the change means the path has steep stretches that `ig_steps`
    points resolve poorly; the token ranking is usually still stable (compare two step counts)."""
    pad_id = getattr(classifier.vocab, "pad_id", 0)
    baseline = EncodedTexts.from_sequences([np.full(n, pad_id, np.int32) for n in data.lengths])
    rows, model, device = np.arange(len(data)), classifier.model, classifier.device
    with eval_mode(model):
        text = log_probabilities(predict_logits(model, data, batch_size, device)).numpy()
        empty = log_probabilities(predict_logits(model, baseline, batch_size, device)).numpy()
    change = text[rows, predicted] - empty[rows, predicted]  # (N,)
    gap = np.array([s.sum(dtype=np.float64) for s in scores]) - change  # (N,)
    return {
        "completeness_gap_mean": float(np.abs(gap).mean()),
        "log_probability_change_mean": float(np.abs(change).mean()),
    }


def _summarise(erased: Erasure) -> dict:
    comprehensiveness, sufficiency = erased.comprehensiveness, erased.sufficiency  # (N, K)
    keys = [_k_key(k) for k in erased.ks]
    return {
        "comprehensiveness": dict(zip(keys, map(float, comprehensiveness.mean(0)), strict=True)),
        "sufficiency": dict(zip(keys, map(float, sufficiency.mean(0)), strict=True)),
        "aopc_comprehensiveness": float(comprehensiveness.mean()),
        "aopc_sufficiency": float(sufficiency.mean()),
        "aopc_comprehensiveness_sem": _sem(comprehensiveness.mean(1)),
        "aopc_sufficiency_sem": _sem(sufficiency.mean(1)),
    }


def faithfulness_table(report: dict) -> str:
    """The report as two aligned Markdown tables: AOPC and rank agreement, then each k."""
    ks = report["ks"]
    correlations = report.get("rank_correlation_with_attention", {})
    summary = [["method", "AOPC compr.", "AOPC suff.", "Spearman vs attention", "seconds"]]
    for name, result in report["methods"].items():
        rho = correlations.get(name)
        summary.append(
            [
                name,
                _pm(result["aopc_comprehensiveness"], result.get("aopc_comprehensiveness_sem")),
                _pm(result["aopc_sufficiency"], result.get("aopc_sufficiency_sem")),
                _pm(rho["spearman_mean"], rho["spearman_std"]) if rho else "-",
                f"{report['seconds'].get(name, float('nan')):.1f}",
            ]
        )
    per_k = [["method", "metric"] + [f"k={k * 100:g}%" for k in ks]]
    for name, result in report["methods"].items():
        for metric in ("comprehensiveness", "sufficiency"):
            per_k.append([name, metric] + [f"{result[metric][_k_key(k)]:.3f}" for k in ks])
    notes = ""
    ig = report["methods"].get("integrated_gradients", {})
    if "completeness_gap_mean" in ig:
        notes = (
            f"\nIntegrated gradients ({report.get('settings', {}).get('ig_steps', '?')} steps) "
            f"miss completeness by {ig['completeness_gap_mean']:.3f} on average, against a mean "
            f"|log p(text) - log p(baseline)| of {ig['log_probability_change_mean']:.3f}.\n"
        )
    for name, why in report.get("skipped", {}).items():
        notes += f"\nNot measured: {name} ({why}).\n"
    return (
        f"Faithfulness on {report['n']} texts (ERASER): comprehensiveness, higher = more "
        "faithful;\nsufficiency, lower = more faithful; +- is the standard error over texts, or "
        "the std for Spearman.\n\n"
        f"{_markdown(summary, numeric_from=1)}\n\n{_markdown(per_k, numeric_from=2)}\n{notes}"
    )


def _markdown(rows: list[list[str]], numeric_from: int) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(w) if c >= numeric_from else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if c >= numeric_from else "-" * w for c, w in enumerate(widths)]
    return "\n".join([line(rows[0]), line(rule)] + [line(row) for row in rows[1:]])


def _pm(value: float | None, spread: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if spread is None else f"{value:.3f} +- {spread:.3f}"


def _k_key(k: float) -> str:
    return f"{k:g}"


def _check_ks(ks: Sequence[float]) -> list[float]:
    ks = [float(k) for k in ks]
    if not ks or any(not 0 < k <= 1 for k in ks):
        raise AttnclfError(f"ks must be fractions of a text in (0, 1], like 0.05; got {ks}")
    return sorted(set(ks))


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _std(values: list[float]) -> float | None:
    return float(np.std(values)) if values else None


def _sem(values: np.ndarray) -> float | None:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None


__all__ = [
    "DEFAULT_KS",
    "FAITHFULNESS_EXPLAINED",
    "Erasure",
    "erase",
    "erasure",
    "faithfulness_report",
    "faithfulness_table",
    "kendall",
    "rank_correlation",
    "spearman",
    "tokens_for_fraction",
    "top_tokens",
]
