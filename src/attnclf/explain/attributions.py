"""Explanation methods: one score per real token of each text, higher meaning "more support for
the class the model predicted" (explain/faithfulness.py judges them by erasure).

- `attention`: the model's own attention weights (Jain & Wallace 2019, "Attention is not
  Explanation"; Wiegreffe & Pinter 2019, "Attention is not not Explanation").
- `signed_attention`: for a family whose attention pools each word's own vote (word-attention),
  each weight times its word's vote: the token's exact term of the logit, signed towards the
  predicted class. The weights say how much the pooling took of each word, the votes which way
  and how far that word pushes; deleting a token removes exactly its term. Other families' values
  carry context (BiLSTM states), so their weights have no such sign and the method is skipped.
- `gradient_x_input`: gradient of the predicted class's log-probability with respect to the
  embedding output, times the embedding, summed over the embedding axis.
- `integrated_gradients`: the same product averaged along a straight path from an all-padding
  input (the zero embedding) to the text (Sundararajan, Taly & Yan 2017).
- `random`: seeded uniform scores, the floor every method should clear.

Choices, and why:
- Gradients target the predicted class's log-probability rather than a raw logit: it is the same
  quantity for a single sigmoid logit (log sigmoid(+-z)) and for a softmax, and unlike a softmax
  logit it does not change when a constant is added to every logit.
- Gradient scores keep their sign (positive = pushes toward the predicted class). ERASER deletes
  the top-ranked tokens and measures the drop in the predicted class's probability; an absolute
  value would rank counter-evidence ("...but the ending is awful" in a positive review) among the
  top tokens, and deleting it raises that probability. Attention has no sign to begin with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import captum.attr
import numpy as np
import torch
from torch import nn

from ..errors import AttnclfError
from ..evaluation.metrics import predict_logits
from ..inference.classifier import TextClassifier
from ..models.objective import log_probabilities, probabilities
from ..models.outputs import ClassifierOutput, input_embeddings, logits_only
from ..text.batches import EncodedTexts, iterate_batches

METHODS: tuple[str, ...] = (
    "attention",
    "signed_attention",
    "gradient_x_input",
    "integrated_gradients",
    "random",
)
DEFAULT_BATCH_SIZE = 256  # rows per inference pass
DEFAULT_IG_STEPS = 32
# Rows per pass of the gradient methods (integrated gradients counts each step as a row). The
# backward pass through the LSTM holds a few MB per 200-token row on CPU: measured on IMDB, 256
# rows raised the peak resident memory by ~1 GB and 64 rows by ~250 MB, for ~1.2x the time.
GRADIENT_ROWS = 64

Texts = Sequence[str] | EncodedTexts
Scores = list[np.ndarray]  # one float32 array per text, one score per real token


# --- texts and probabilities ---------------------------------------------------------------


def encode_texts(classifier: TextClassifier, texts: Texts) -> EncodedTexts:
    """Token ids as the classifier reads them (its tokenizer, vocabulary and truncation). A text
    with no words is an error, as in `TextClassifier.predict`."""
    if isinstance(texts, EncodedTexts):
        data = texts
    else:
        data = EncodedTexts.from_sequences(classifier.encoder.encode_many(list(texts)))
    empty = np.flatnonzero(data.lengths == 0)
    if len(empty):
        raise AttnclfError(
            f"text {int(empty[0]) + 1} has no words the model reads; "
            "faithfulness needs at least one token per text: drop empty texts first"
        )
    return data


def class_probabilities(
    classifier: TextClassifier, texts: Texts, batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """(N, K) class probabilities in eval mode, in the order of `texts`."""
    data = texts if isinstance(texts, EncodedTexts) else encode_texts(classifier, texts)
    with eval_mode(classifier.model):
        logits = predict_logits(classifier.model, data, batch_size, classifier.device)
    return probabilities(logits)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Dropout off for the duration, then the model's own mode back."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextmanager
def _gradients_on(device: torch.device) -> Iterator[None]:
    """Autograd on, even inside a caller's no_grad or inference_mode. cuDNN's LSTM refuses
    backward in eval mode, so on CUDA it is switched off for the duration (only `enabled`:
    `cudnn.flags()` would also reset the caller's `deterministic` and `benchmark`); on the CPU
    this changes nothing."""
    cudnn = torch.backends.cudnn
    was_enabled = cudnn.enabled
    if device.type == "cuda":
        cudnn.enabled = False
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        cudnn.enabled = was_enabled


def _log_probabilities(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def forward(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        with logits_only(model):
            return log_probabilities(model(ids, lengths).logits)  # (B, K)

    return forward


# --- explanation methods -------------------------------------------------------------------


def _forward_scores(
    classifier: TextClassifier,
    texts: Texts,
    batch_size: int,
    read: Callable[[ClassifierOutput], torch.Tensor | None],
    missing: str,
) -> Scores:
    """One forward pass over `texts` in batches, each text's scores `read` from the model's
    output (B, T); `missing` is the error where `read` finds nothing."""
    data = encode_texts(classifier, texts)
    model, device = classifier.model, classifier.device
    scores: Scores = [np.zeros(0, np.float32)] * len(data)
    with eval_mode(model), torch.inference_mode():
        for batch in iterate_batches(data, batch_size):
            values = read(model(batch.ids.to(device), batch.lengths.to(device)))  # (B, T)
            if values is None:
                raise AttnclfError(f"{classifier.architecture} {missing}")
            _scatter(scores, values.float().cpu().numpy(), batch.lengths, batch.index)
    return scores


def attention(
    classifier: TextClassifier, texts: Texts, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Scores:
    """The model's attention weight on each token (the mean over heads for multi-head models)."""
    return _forward_scores(
        classifier,
        texts,
        batch_size,
        lambda output: output.attention,
        "has no attention to measure; leave 'attention' out of the methods",
    )


def signed_attention(
    classifier: TextClassifier, texts: Texts, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> Scores:
    """Each token's attention weight times its word's vote (`token_scores`: its term of the
    logit), signed towards the class the model predicts: for one logit, its sign; for several,
    the predicted class's terms. Only for a model that gives both attention and token scores."""

    def towards_predicted(output: ClassifierOutput) -> torch.Tensor | None:
        if output.attention is None or output.token_scores is None:
            return None
        terms = output.token_scores.float()  # (B, T)
        if output.logits.shape[-1] == 1:  # towards label 1: flip where 0 was predicted
            terms = terms * torch.where(output.logits.float() > 0, 1.0, -1.0)
        return terms

    return _forward_scores(
        classifier,
        texts,
        batch_size,
        towards_predicted,
        "has no signed attention (its attention does not pool per-word votes); leave "
        "'signed_attention' out of the methods",
    )


def gradient_x_input(
    classifier: TextClassifier,
    texts: Texts,
    *,
    targets: np.ndarray | None = None,
    batch_size: int = GRADIENT_ROWS,
) -> Scores:
    """sum_e (d log p(target) / d x_te) * x_te over the embedding output x (B, T, E); signed,
    positive for support of the target. `targets` defaults to the predicted classes."""
    data = encode_texts(classifier, texts)
    targets = _targets(classifier, data, targets, batch_size)
    model, device = classifier.model, classifier.device
    method = captum.attr.LayerGradientXActivation(
        _log_probabilities(model), input_embeddings(model)
    )
    scores: Scores = [np.zeros(0, np.float32)] * len(data)
    with eval_mode(model), _gradients_on(device):
        for batch in iterate_batches(data, batch_size):
            lengths = batch.lengths.to(device)
            products = method.attribute(
                batch.ids.to(device),
                target=torch.from_numpy(targets[batch.index]).to(device),
                additional_forward_args=(lengths,),
            )  # (B, T, E)
            _scatter(scores, products.sum(-1).detach().float().cpu().numpy(), lengths, batch.index)
    return scores


def integrated_gradients(
    classifier: TextClassifier,
    texts: Texts,
    *,
    targets: np.ndarray | None = None,
    steps: int = DEFAULT_IG_STEPS,
    batch_size: int = GRADIENT_ROWS,
) -> Scores:
    """Integrated gradients of log p(target) on the embedding output, from an all-padding
    baseline (the zero vector for attnclf's models, whose padding row is zero), summed over the
    embedding axis; `steps` Gauss-Legendre points. Each text's scores add up to
    log p(target | text) - log p(target | baseline), up to the quadrature error."""
    if steps < 1:
        raise AttnclfError(f"integrated gradients needs at least 1 step, not {steps}")
    data = encode_texts(classifier, texts)
    targets = _targets(classifier, data, targets, batch_size)
    model, device = classifier.model, classifier.device
    pad_id = getattr(classifier.vocab, "pad_id", 0)
    method = captum.attr.LayerIntegratedGradients(
        _log_probabilities(model), input_embeddings(model)
    )
    scores: Scores = [np.zeros(0, np.float32)] * len(data)
    texts_per_pass = max(1, batch_size // steps)  # each text is run once per step
    with eval_mode(model), _gradients_on(device):
        for batch in iterate_batches(data, texts_per_pass):
            ids, lengths = batch.ids.to(device), batch.lengths.to(device)
            attributions = method.attribute(
                ids,
                baselines=torch.full_like(ids, pad_id),
                target=torch.from_numpy(targets[batch.index]).to(device),
                additional_forward_args=(lengths,),
                n_steps=steps,
            )  # (B, T, E)
            summed = attributions.sum(-1).detach().float().cpu().numpy()  # (B, T)
            _scatter(scores, summed, lengths, batch.index)
    return scores


def random(classifier: TextClassifier, texts: Texts, *, seed: int = 0) -> Scores:
    """Uniform [0, 1) scores from one generator seeded with `seed`, drawn text after text."""
    data = encode_texts(classifier, texts)
    rng = np.random.default_rng(seed)
    return [rng.random(int(n), dtype=np.float32) for n in data.lengths]


def attribute(
    method: str,
    classifier: TextClassifier,
    texts: Texts,
    *,
    targets: np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    ig_steps: int = DEFAULT_IG_STEPS,
    seed: int = 0,
) -> Scores:
    """Scores of the method called `method` (one of METHODS), with the settings it uses."""
    check_methods([method])
    if method == "attention":
        return attention(classifier, texts, batch_size=batch_size)
    if method == "signed_attention":
        return signed_attention(classifier, texts, batch_size=batch_size)
    rows = min(batch_size, GRADIENT_ROWS)
    if method == "gradient_x_input":
        return gradient_x_input(classifier, texts, targets=targets, batch_size=rows)
    if method == "integrated_gradients":
        return integrated_gradients(
            classifier, texts, targets=targets, steps=ig_steps, batch_size=rows
        )
    return random(classifier, texts, seed=seed)


def _targets(
    classifier: TextClassifier, data: EncodedTexts, targets: np.ndarray | None, batch_size: int
) -> np.ndarray:
    if targets is None:
        return class_probabilities(classifier, data, batch_size).argmax(axis=1)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (len(data),):
        raise AttnclfError(f"{len(targets)} targets given for {len(data)} texts; give one each")
    return targets


def _scatter(scores: Scores, rows: np.ndarray, lengths: torch.Tensor, index: np.ndarray) -> None:
    """Row r of a (B, T) batch result becomes text index[r]'s scores, padding cut off."""
    for row, (i, n) in enumerate(zip(index, lengths.tolist(), strict=True)):
        scores[i] = rows[row, :n].astype(np.float32)


def check_methods(methods: Sequence[str]) -> list[str]:
    """`methods` without repeats, in order; an unknown or missing one is an error naming the
    choices."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise AttnclfError(
            f"unknown explanation method(s) {unknown or '(none given)'}; "
            f"choose from {', '.join(METHODS)}"
        )
    return list(dict.fromkeys(methods))


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_IG_STEPS",
    "METHODS",
    "Scores",
    "Texts",
    "attention",
    "attribute",
    "check_methods",
    "class_probabilities",
    "encode_texts",
    "eval_mode",
    "gradient_x_input",
    "integrated_gradients",
    "random",
    "signed_attention",
]
