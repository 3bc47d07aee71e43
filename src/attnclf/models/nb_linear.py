"""The linear solvers behind NBSVM (models/families/nbsvm.py), on a binary n-gram matrix:
the naive Bayes log-count ratios, the NB-scaled linear models of one label against the rest
(scikit-learn's logistic regression, or its L2-loss SVM), the temperature that turns an SVM's
margins into probabilities (by the loss the training loop uses, objective.py's rule), and the
folds that choose between such fits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import AttnclfError

if TYPE_CHECKING:
    from scipy import sparse

# liblinear's iterations for the SVM: its default 1,000 stopped short at C 10 on TREC's n-grams
# (a ConvergenceWarning every fit); 10,000 converge there
MAX_ITER = 10_000


def nb_ratios(matrix: sparse.csr_matrix, positive: np.ndarray, alpha: float) -> np.ndarray:
    """(F,) r = log((p / |p|_1) / (q / |q|_1)): p = alpha + the sum of the binary rows where
    `positive`, q = alpha + the sum of the others."""
    p = alpha + np.asarray(matrix[positive].sum(axis=0), dtype=np.float64).ravel()
    q = alpha + np.asarray(matrix[~positive].sum(axis=0), dtype=np.float64).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


def fit_nbsvm(
    matrix: sparse.csr_matrix,
    labels: np.ndarray,
    outputs: int,
    alpha: float,
    c: float,
    seed: int,
    loss: str = "logistic",
) -> tuple[np.ndarray, np.ndarray]:
    """(F, C) weights (coef * r) and (C,) biases of the NB-scaled linear model with `loss` (a
    logistic regression, or an L2-loss SVM for "squared-hinge"): one for label 1 against 0
    (C = 1), else one per class against the rest."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    weights, biases = [], []
    for target in [1] if outputs == 1 else range(outputs):
        positive = labels == target
        if positive.all() or not positive.any():
            raise AttnclfError(
                f"nbsvm needs training texts of every label, and label {target} has "
                f"{'all' if positive.all() else 'none'} of them"
            )
        r = nb_ratios(matrix, positive, alpha)  # (F,)
        scaled = matrix @ sparse.diags(r)  # (N, F) x * r
        if loss == "squared-hinge":
            model = LinearSVC(C=c, loss="squared_hinge", max_iter=MAX_ITER, random_state=seed)
        else:
            model = LogisticRegression(C=c, solver="liblinear", random_state=seed)
        model.fit(scaled, positive)
        weights.append(model.coef_[0] * r)
        biases.append(float(model.intercept_[0]))
    return np.stack(weights, axis=1), np.array(biases)


def temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 whose logits * T have the least cross-entropy on `labels` (Guo et al. 2017's
    temperature scaling, here a sharpening or softening of an SVM's margins into probabilities);
    the argmax, and so the accuracy, does not change."""
    from scipy.optimize import minimize_scalar

    scores, truth = torch.from_numpy(logits), torch.from_numpy(labels)

    def loss(log_t: float) -> float:
        scaled = scores * float(np.exp(log_t))
        if logits.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(scaled[:, 0], truth.double()).item()
        return F.cross_entropy(scaled, truth).item()

    return float(np.exp(minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded").x))


def selection_folds(labels: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(fit rows, test rows) of stratified `folds`-fold cross-validation over the training
    labels; None where `folds` is 0 or a label has too few texts for two folds."""
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        return None
    smallest = int(np.unique(labels, return_counts=True)[1].min()) if len(labels) else 0
    folds = min(folds, smallest)
    if folds < 2:
        return None
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return list(split.split(np.zeros(len(labels)), labels))
