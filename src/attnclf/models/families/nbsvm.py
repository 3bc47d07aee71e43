"""NBSVM: Wang & Manning 2012, "Baselines and Bigrams": a linear model on binarized word 1- to
3-grams whose features are scaled by naive Bayes log-count ratios, in the logistic-regression
form Mesnil et al. 2014 used (NBSVM-LR). Wang & Manning's own NBSVM is an L2-loss SVM whose
weights are interpolated towards their mean by beta = 0.25; the LR form needs no beta and its
decision value is the logit every family returns. `losses` may add the SVM's squared hinge
(without the interpolation), chosen against the LR on validation: on TREC's six classes it was
2-3 points better (docs/results/small-data.md); its margins become probabilities through one
temperature fitted on validation. Fitted by scikit-learn in one pass (`fit`,
which the experiment calls instead of the gradient loop); served as a torch module that reads
the same ids as every family.

Features: each distinct n-gram of a text counts once. With p = alpha + the sum of the binarized
rows of one class and q the same for the others, the NB ratios are
r = log((p / |p|_1) / (q / |q|_1)); the LR is fitted on x * r, so its logit is
(coef * r) . x + intercept = weight . x + bias, and the module keeps only `weight` and `bias`.
More than two classes: one such model per class against the rest, each with its own r; the
logits are their decision values (argmax: one-vs-rest's answer; their softmax is not
calibrated).

Keys: an n-gram of ids over a vocabulary of V ids is one int64: (a) -> a, (a, b) -> V + a V + b,
(a, b, c) -> V + V^2 + (a V + b) V + c: the unigrams, then the bigrams, then the trigrams, each
block in id order, so n-grams of different lengths never collide. The largest key,
V + V^2 + V^3 - 1, is 8.0e15 for V = 200,000, below 2^63 = 9.2e18 (trigrams fit up to
V = 2,097,151; NBSVMConfig checks).

Explanation: no attention. Each token gets its share of the logit: every distinct n-gram's weight
split evenly over the n-gram's occurrences in the text and over the n tokens of each, so a
text's token scores add up to its logit minus the bias (`ClassifierOutput.token_scores`).

Notation: B batch, T tokens, C logits, N longest n-gram, L = N T n-gram slots per text
(the n-gram starting at each token, for each length), F n-grams in the table, S tokens of a
split, M n-gram occurrences of a split.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import AttnclfError
from ...text.tokens import Vocab
from ..nb_linear import fit_nbsvm, selection_folds, temperature
from ..outputs import Classifier, ClassifierOutput
from ..registry import Family, register

if TYPE_CHECKING:
    from scipy import sparse

    from ...config import TrainConfig
    from ...text.batches import EncodedTexts

INT64_MAX = 2**63 - 1
# The weights of a table that fit has not filled: small and random, like any family's untrained
# weights, so that a tiny model's logits depend on its n-grams (tests, frozen values).
INIT_STD = 0.1
LOSSES = ("logistic", "squared-hinge")


@dataclass
class NBSVMConfig:
    vocab_size: int = 10_000
    num_outputs: int = 1
    pad_id: int = 0
    ngram: int = 3  # word n-grams of 1 to this many tokens (Wang & Manning: uni+bigrams; +tri)
    alpha: float = 1.0  # NB smoothing: added to every n-gram's count in each class
    # C of the logistic regression (inverse L2 strength; Mesnil et al.: liblinear's 1); with
    # several, fit keeps the one with the best validation accuracy (ties: the first)
    c_values: tuple[float, ...] = (0.1, 1.0)
    # the loss of each fit tried: "logistic" (NBSVM-LR, above) and/or "squared-hinge" (an
    # L2-loss SVM, Wang & Manning's own NBSVM without its interpolation); with several, fit
    # keeps the (loss, C) pair with the best validation accuracy, in the order loss, then C
    losses: tuple[str, ...] = ("logistic",)
    # how several (loss, C) pairs are chosen between: 0 on the validation split; k > 1 by
    # k-fold cross-validation on the training split (k + 1 fits a pair: steadier where the
    # validation split is a few hundred texts), the validation split kept for the temperature
    selection_folds: int = 0
    min_count: int = 1  # training texts an n-gram must occur in to be a feature (the papers: 1)
    max_features: int = 0  # keep only the n-grams found in the most training texts; 0: all
    # n-grams in the table. fit sets it and config.json keeps it, so that a saved folder's model
    # is built with the shapes its weights have. -1: every n-gram of the vocabulary (a tiny
    # vocabulary's, for tests); an unfitted table holds the first `features` keys
    features: int = 0
    c: float | None = None  # the C fit chose
    loss: str | None = None  # the loss fit chose

    def __post_init__(self) -> None:
        if not 1 <= self.ngram:
            raise AttnclfError(f"nbsvm ngram {self.ngram} must be at least 1")
        if all_ngrams(self.vocab_size, self.ngram) > INT64_MAX:
            raise AttnclfError(
                f"nbsvm n-grams of up to {self.ngram} ids over a vocabulary of {self.vocab_size} "
                "do not fit in int64 keys; use a smaller ngram or --vocab-size"
            )
        if not self.alpha > 0:
            raise AttnclfError(f"nbsvm alpha {self.alpha} must be above 0 (the papers: 1)")
        self.c_values = tuple(float(c) for c in self.c_values)
        if not self.c_values or min(self.c_values) <= 0:
            raise AttnclfError(
                f"nbsvm c_values {list(self.c_values)} must be positive, at least one"
            )
        if self.selection_folds < 0 or self.selection_folds == 1:
            raise AttnclfError(
                f"nbsvm selection_folds {self.selection_folds} must be 0 (choose on validation) "
                "or at least 2"
            )
        self.losses = tuple(str(loss) for loss in self.losses)
        unknown = [loss for loss in self.losses if loss not in LOSSES]
        if not self.losses or unknown:
            raise AttnclfError(
                f"nbsvm losses {list(self.losses)} must be one or more of {', '.join(LOSSES)}"
            )
        if self.features == -1:
            self.features = all_ngrams(self.vocab_size, self.ngram)
        if not 0 <= self.features <= all_ngrams(self.vocab_size, self.ngram):
            raise AttnclfError(
                f"nbsvm features {self.features} must be -1 (all) or between 0 and the "
                f"{all_ngrams(self.vocab_size, self.ngram)} n-grams of the vocabulary"
            )


def all_ngrams(vocab_size: int, ngram: int) -> int:
    """How many n-grams of 1 to `ngram` ids there are: V + V^2 + ... (one past the last key)."""
    return sum(vocab_size**n for n in range(1, ngram + 1))


def lower_bound(table: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """How many keys of the sorted (F,) `table` are below each query: torch.searchsorted's left
    side. searchsorted has no ONNX export, so while exporting it is a binary search unrolled over
    the table's size (ceil(log2(F + 1)) gathers), which ONNX Runtime runs as well."""
    if not torch.onnx.is_in_onnx_export():
        return torch.searchsorted(table, queries)
    size = int(table.shape[0])  # fixed in the graph, as the table is
    found = torch.zeros_like(queries)
    step = 1 << (size.bit_length() - 1)  # the largest power of two <= size
    while step:
        candidate = found + step  # could `candidate` keys lie below the query?
        key = table[(candidate - 1).clamp(max=size - 1)]
        found = torch.where((candidate <= size) & (key < queries), candidate, found)
        step >>= 1
    return found


class TokenPresence(nn.Module):
    """(B, T) ids -> (B, T, 1): 1 at a token, 0 at the padding id. The model's logit is linear in
    it (each token's score times its presence), so this is what `input_embeddings()` gives the
    gradient explanations: gradient x input is then the token's own score, and integrated
    gradients from the all-padding baseline grows every token from absent to present."""

    def __init__(self, pad_id: int):
        super().__init__()
        self.pad_id = pad_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return (ids != self.pad_id).float()[..., None]  # (B, T, 1)


class NBSVMClassifier(Classifier):
    def __init__(self, config: NBSVMConfig, vocab: Vocab | None = None):
        super().__init__()
        self.config = config
        self.presence = TokenPresence(config.pad_id)
        features, outputs = config.features, config.num_outputs
        self.register_buffer("keys", torch.arange(features, dtype=torch.int64))  # (F,) sorted
        self.weight = nn.Parameter(torch.randn(features, outputs) * INIT_STD)  # (F, C): coef * r
        self.bias = nn.Parameter(torch.zeros(outputs))  # (C,)

    def input_embeddings(self) -> nn.Module:
        return self.presence

    def set_table(self, keys: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Replace the n-gram table: sorted distinct (F,) keys, (F, C) weights, (C,) bias."""
        device = self.bias.device
        self.keys = keys.to(device, torch.int64)
        self.weight = nn.Parameter(weight.to(device, torch.float32))
        self.bias = nn.Parameter(bias.to(device, torch.float32))

    def ngram_keys(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, L) the key of the n-gram of each length starting at each token, lengths 1 to N in
        blocks of T; -1 (below every key) where the n-gram would run past its text."""
        vocab, width = self.config.vocab_size, ids.shape[1]
        positions = torch.arange(width, device=ids.device)
        code, following, offset = torch.zeros_like(ids), ids, 0
        keys = []
        for n in range(1, self.config.ngram + 1):
            code = code * vocab + following  # (B, T) the ids of tokens t..t+n-1, in base V
            inside = positions[None, :] + n <= lengths[:, None]  # (B, T)
            keys.append((code + offset).masked_fill(~inside, -1))
            offset += vocab**n
            following = F.pad(following[:, 1:], (0, 1))  # (B, T) token t+n's id
        return torch.cat(keys, dim=1)  # (B, L)

    def token_contributions(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, C) each token's share of each logit (bias left out), 0 on padding."""
        batch, width = ids.shape
        outputs, features = self.config.num_outputs, self.keys.numel()
        if features == 0:  # nothing fitted yet: every logit is the bias
            return torch.zeros(batch, width, outputs, device=ids.device)
        keys = self.ngram_keys(ids, lengths)  # (B, L)
        # Sorting each row puts the occurrences of an n-gram side by side: one run per distinct
        # n-gram, whose length is how often the text has it (binarized: its weight counts once)
        ordered, order = torch.sort(keys, dim=1)  # (B, L)
        starts = torch.cat(
            [torch.ones_like(ordered[:, :1], dtype=torch.bool), ordered[:, 1:] != ordered[:, :-1]],
            dim=1,
        )  # (B, L) True at the first of each run
        run = starts.long().cumsum(dim=1) - 1  # (B, L) which run of its row
        sizes = torch.zeros_like(run).scatter_add(1, run, torch.ones_like(run))  # (B, L)
        occurrences = sizes.gather(1, run)  # (B, L) how often the text has this n-gram
        slot = lower_bound(self.keys, ordered).clamp(max=features - 1)  # (B, L)
        known = self.keys[slot] == ordered  # (B, L) in the table (never a -1 slot)
        weight = self.weight[slot] * known[..., None]  # (B, L, C)
        share = weight / occurrences[..., None]  # (B, L, C) each occurrence's part
        unsorted = torch.zeros_like(share).scatter(
            1, order[..., None].expand(-1, -1, outputs), share
        )  # (B, L, C) back in n-gram slot order
        per_length = unsorted.view(batch, self.config.ngram, width, outputs)  # (B, N, T, C)
        scores = torch.zeros_like(per_length[:, 0])  # (B, T, C)
        for n in range(1, self.config.ngram + 1):
            part = per_length[:, n - 1] / n  # (B, T, C) for each of the n-gram's n tokens
            scores = scores + part
            for j in range(1, n):  # token t + j of the n-gram starting at t
                scores = scores + F.pad(part, (0, 0, j, 0))[:, :-j]
        return scores  # (B, T, C)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        contributions = self.token_contributions(ids, lengths)  # (B, T, C)
        present = self.presence(ids)  # (B, T, 1)
        logits = self.bias + (contributions * present).sum(dim=1)  # (B, C)
        if self.config.num_outputs == 1:
            scores = contributions[..., 0]  # (B, T) towards the second label
        else:  # towards the predicted class
            picked = logits.argmax(dim=1)[:, None, None].expand(-1, ids.shape[1], 1)
            scores = contributions.gather(2, picked)[..., 0]  # (B, T)
        return ClassifierOutput(logits, token_scores=scores)


# --- fitting with scikit-learn --------------------------------------------------------------


@dataclass
class DirectFit:
    """What `fit` reports, with the fields run.train_model reads of loop.FitResult."""

    history: list[dict]
    best_epoch: int
    train_seconds: float
    train_samples_per_s: float


def ngram_occurrences(
    texts: EncodedTexts, vocab_size: int, ngram: int
) -> tuple[np.ndarray, np.ndarray]:
    """(M,) text index and (M,) key of every n-gram occurrence in `texts`, never across two
    texts; the keys as NBSVMClassifier.ngram_keys makes them."""
    ids = texts.ids.astype(np.int64)  # (S,)
    lengths = texts.lengths
    ends = np.repeat(texts.offsets[1:], lengths)  # (S,) where each token's text ends
    text = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)  # (S,)
    positions = np.arange(len(ids))
    code, offset = np.zeros_like(ids), 0
    rows, keys = [], []
    for n in range(1, ngram + 1):
        following = np.zeros_like(ids)
        following[: len(ids) - n + 1] = ids[n - 1 :]  # token t+n-1's id
        code = code * vocab_size + following
        inside = positions + n <= ends
        rows.append(text[inside])
        keys.append(code[inside] + offset)
        offset += vocab_size**n
    return np.concatenate(rows), np.concatenate(keys)


def binary_matrix(
    rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    """(texts, features) 1 where a text has the feature, however often."""
    from scipy import sparse

    pairs = np.unique(rows * shape[1] + columns)  # one per (text, feature)
    ones = np.ones(len(pairs), dtype=np.float64)
    return sparse.csr_matrix((ones, (pairs // shape[1], pairs % shape[1])), shape=shape)


def select_ngrams(
    rows: np.ndarray, keys: np.ndarray, texts: int, min_count: int, max_features: int
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The kept n-grams' sorted (F,) keys and the (texts, F) binary matrix of the training
    texts over them. Kept: those in at least `min_count`
    texts, at most `max_features` of them (the ones in the most texts; ties: the lower key)."""
    unique, column = np.unique(keys, return_inverse=True)
    matrix = binary_matrix(rows, column.ravel(), (texts, len(unique)))
    in_texts = np.asarray(matrix.sum(axis=0)).ravel()  # (U,) document frequency
    kept = np.flatnonzero(in_texts >= min_count)
    if max_features and len(kept) > max_features:
        by_count = kept[np.argsort(-in_texts[kept], kind="stable")]
        kept = np.sort(by_count[:max_features])
    return unique[kept], matrix[:, kept].tocsr()


def lookup_matrix(
    rows: np.ndarray, keys: np.ndarray, table: np.ndarray, texts: int
) -> sparse.csr_matrix:
    """(texts, F) binary matrix over the sorted `table`; n-grams it lacks are left out."""
    column = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    known = table[column] == keys
    return binary_matrix(rows[known], column[known], (texts, len(table)))


def _loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The training loop's loss (objective.py's rule) and accuracy of (N, C) logits."""
    scores, truth = torch.from_numpy(logits), torch.from_numpy(labels)
    if logits.shape[1] == 1:
        loss = F.binary_cross_entropy_with_logits(scores[:, 0], truth.double())
        predicted = (scores[:, 0] > 0).long()
    else:
        loss = F.cross_entropy(scores, truth)
        predicted = scores.argmax(dim=1)
    return loss.item(), (predicted == truth).double().mean().item()


def fit(
    model: NBSVMClassifier,
    train: EncodedTexts,
    validation: EncodedTexts,
    train_config: TrainConfig,
) -> DirectFit:
    """Fit `model` on the training split: the binary n-gram matrix, the NB ratios and the
    linear model for each loss and C of its config, keeping the pair with the best validation
    accuracy (the first without validation texts), or with `selection_folds`, the best mean
    accuracy over that many folds of the training split, refitted on all of it; an SVM's
    margins are scaled by the temperature that makes them the best probabilities on
    validation. Fill its table and update `model.config` (features, c, loss), which the model
    folder saves."""
    start = time.perf_counter()
    config: NBSVMConfig = model.config
    vocab, ngram = config.vocab_size, config.ngram
    rows, keys = ngram_occurrences(train, vocab, ngram)
    table, matrix = select_ngrams(rows, keys, len(train), config.min_count, config.max_features)
    if not len(table):
        raise AttnclfError(
            f"no n-gram is in {config.min_count} training texts, so nbsvm has no features; "
            "lower its min_count or give more texts"
        )
    held_out = lookup_matrix(*ngram_occurrences(validation, vocab, ngram), table, len(validation))
    pairs = [(loss, c) for loss in config.losses for c in config.c_values]
    folds = selection_folds(train.labels, config.selection_folds) if len(pairs) > 1 else None

    def fitted(pair: tuple[str, float], rows: np.ndarray | None = None):
        loss, c = pair
        chosen_rows = matrix if rows is None else matrix[rows]
        labels = train.labels if rows is None else train.labels[rows]
        return fit_nbsvm(
            chosen_rows, labels, config.num_outputs, config.alpha, c, train_config.seed, loss
        )

    if folds is not None:  # the pair with the best mean accuracy over the folds (ties: first)
        scores = []
        for pair in pairs:
            accuracies = []
            for fit_rows, test_rows in folds:
                w, b = fitted(pair, fit_rows)
                accuracies.append(
                    _loss_and_accuracy(matrix[test_rows] @ w + b, train.labels[test_rows])[1]
                )
            scores.append(float(np.mean(accuracies)))
        chosen_loss, chosen = pairs[int(np.argmax(scores))]
        weights, biases = fitted((chosen_loss, chosen))
        selection = {"selection": f"{len(folds)}-fold cross-validation", "cv_accuracy": max(scores)}
    else:  # each pair fitted on the whole split, the best on validation kept (first: none)
        best: tuple[float, np.ndarray, np.ndarray, float, str] | None = None
        for loss, c in pairs:
            weights, biases = fitted((loss, c))
            accuracy = -1.0  # without validation texts the first pair stays
            if len(validation):
                _, accuracy = _loss_and_accuracy(held_out @ weights + biases, validation.labels)
            if best is None or accuracy > best[0]:
                best = (accuracy, weights, biases, c, loss)
        assert best is not None
        _, weights, biases, chosen, chosen_loss = best
        selection = {"selection": "validation" if len(validation) else "the first"}
    if len(pairs) == 1:
        selection = {}
    scale = 1.0
    if chosen_loss == "squared-hinge" and len(validation):
        scale = temperature(held_out @ weights + biases, validation.labels)
        weights, biases = weights * scale, biases * scale
    model.set_table(torch.from_numpy(table), torch.from_numpy(weights), torch.from_numpy(biases))
    model.config = dataclasses.replace(config, features=len(table), c=chosen, loss=chosen_loss)
    seconds = time.perf_counter() - start
    train_loss, train_accuracy = _loss_and_accuracy(matrix @ weights + biases, train.labels)
    record: dict[str, Any] = {
        "epoch": 1,
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "seconds": seconds,
        "samples_per_s": len(train) / max(seconds, 1e-9),
        "C": chosen,
        "objective": chosen_loss,
        "temperature": scale,
        **selection,
    }
    if len(validation):
        logits = held_out @ weights + biases
        record["val_loss"], record["val_accuracy"] = _loss_and_accuracy(logits, validation.labels)
    return DirectFit([record], 1, seconds, record["samples_per_s"])


FAMILY = register(
    Family(
        name="nbsvm",
        summary="Wang & Manning 2012: NB-weighted logistic regression on binarized word "
        "1-3-grams, fitted by scikit-learn; no attention, a score per token",
        config=NBSVMConfig,
        build=NBSVMClassifier,
        tiny=dict(features=-1),  # every n-gram of the tests' tiny vocabulary, random weights
        fit=fit,
    )
)
