"""`POST /explain`: per model and text, the labels, the attention and, on request, the signed
attention (word-attention's token scores towards the predicted class, from the prediction),
gradient x input or integrated gradients (explain/attributions.py), each computed in the
inference thread. A request's cost (texts x distinct models x steps) is checked against the
server's budget before any work starts, and the work stops between models and methods when the
client has gone."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ...errors import AttnclfError
from .. import schemas
from ..answers import attention_of, label_scores, rounded
from ..errors import ERRORS, ApiError
from ..models import ServedModel
from ..server import Server, ServerDep

if TYPE_CHECKING:
    from ...inference.classifier import Scored

router = APIRouter()
log = logging.getLogger("attnclf.serve")
# Methods the prediction itself gives: no pass of their own
FROM_THE_PREDICTION = ("attention", "signed_attention")


class ClientGone(Exception):
    """The client closed the connection: nobody is left to read the rest of the work."""


@router.post("/explain", response_model=schemas.ExplainResponse, responses=ERRORS)
async def explain(body: schemas.ExplainRequest, request: Request, server: ServerDep) -> Response:
    """Tokens with attention and, on request, signed attention, gradient x input or integrated
    gradients."""
    try:
        return JSONResponse(await explanations(server, body, request.is_disconnected))
    except ClientGone:
        log.info("/explain: the client went away; the rest of its work was dropped")
        return Response(status_code=499)  # nginx's "client closed request", read by nobody


async def explanations(
    server: Server,
    body: schemas.ExplainRequest,
    gone: Callable[[], Awaitable[bool]] | None = None,
) -> dict[str, Any]:
    texts = server.check_texts(body.texts, server.settings.max_explain_texts, "--max-explain-texts")
    chosen = _chosen(server, body.models)
    methods: list[str] = list(dict.fromkeys(body.methods))
    _check_budget(server, len(texts), len(chosen), methods, body.ig_steps)
    found = []
    for served in chosen:
        if gone is not None and await gone():
            raise ClientGone
        results = await server.scored(served, texts)
        gradients: dict[str, list[np.ndarray] | None] = {}
        unavailable: dict[str, str] = {}
        for method in methods:
            if method in FROM_THE_PREDICTION:
                continue
            if gone is not None and await gone():
                raise ClientGone
            work = functools.partial(_gradients, served, texts, method, body.ig_steps)
            try:
                gradients[method] = await server.off_loop(work)
            except AttnclfError as error:
                unavailable[method] = str(error)
        if not served.has_attention:
            unavailable.setdefault("attention", "this model pools without attention")
        signed = "signed_attention" in methods
        if signed and not _has_signed_attention(served):
            unavailable["signed_attention"] = (
                "this model's attention pools no per-word votes, so its weights have no sign"
                if served.has_attention
                else "this model pools without attention"
            )
            signed = False
        labels = served.labels or []
        explained = []
        for i, result in enumerate(results):
            best = int(np.argmax(result.probabilities))
            entry = {
                "label": labels[best],
                "score": float(result.probabilities[best]),
                "labels": label_scores(result.probabilities, labels, None),
                **attention_of(result),
            }
            if "signed_attention" in methods:
                entry["signed_attention"] = rounded(_signed_attention(result)) if signed else None
            for method, scores in gradients.items():
                entry[method] = rounded(scores[i]) if scores is not None else None
            explained.append(entry)
        found.append(
            {
                "name": served.name,
                "family": served.family,
                "has_attention": served.has_attention,
                "explanations": explained,
                "unavailable": unavailable,
            }
        )
    return {"models": found}


def _has_signed_attention(served: ServedModel) -> bool:
    """Whether the model gives attention and token scores (word-attention)."""
    return served.classifier is not None and served.classifier.has_signed_attention


def _signed_attention(result: Scored) -> np.ndarray:
    """(T,) the token scores signed towards the predicted class, as attributions.signed_attention
    signs them: one logit's scores point towards the second label, so they are flipped where the
    first is predicted; several classes' are the predicted class's terms already."""
    assert result.token_scores is not None
    probabilities = np.asarray(result.probabilities)  # (K,)
    if len(probabilities) == 2 and int(probabilities.argmax()) == 0:
        return -result.token_scores
    return result.token_scores


def _gradients(served: ServedModel, texts: list[str], method: str, steps: int) -> list[np.ndarray]:
    from ...explain import attributions  # captum, on the first request that asks for gradients
    from ...inference.classifier import TextClassifier

    if not isinstance(served.classifier, TextClassifier):
        raise AttnclfError(
            "an ensemble has no gradients of its own; serve its members (members/NAME) to see "
            "theirs"
        )
    if method == "gradient_x_input":
        return attributions.gradient_x_input(served.classifier, texts)
    return attributions.integrated_gradients(served.classifier, texts, steps=steps)


def _chosen(server: Server, names: list[str] | None) -> list[ServedModel]:
    """The classifiers named, each once, in order (default: every one)."""
    classifiers = [m for m in server.models.values() if m.classifier is not None]
    if names is None:
        if not classifiers:
            raise ApiError(404, "no classifier is loaded to explain")
        return classifiers
    if not names:
        raise ApiError(422, "models is empty; name a model, or leave models out for every one")
    if len(names) > len(classifiers):
        raise ApiError(
            422,
            f"models names {len(names):,} models; this server has {len(classifiers)} "
            "classifiers: name each at most once",
        )
    return [server.classifier(name) for name in dict.fromkeys(names)]


def _check_budget(server: Server, texts: int, models: int, methods: list[str], ig: int) -> None:
    """A 422 for a request over --max-explain-steps, before any of its work is queued."""
    per_text = 1 + ("gradient_x_input" in methods) + ig * ("integrated_gradients" in methods)
    cost, budget = texts * models * per_text, server.settings.max_explain_steps
    if cost <= budget:
        return
    if budget // (texts * per_text):
        advice = f"name at most {budget // (texts * per_text)} models per request"
    elif budget // per_text:
        advice = f"send at most {budget // per_text} texts per request, one model each"
    else:
        advice = f"lower ig_steps to at most {max(budget - 2, 2)}"
    raise ApiError(
        422,
        f"this request costs {texts} texts x {models} models x {per_text} steps = {cost:,} "
        f"steps; the server's budget is {budget:,} per request (--max-explain-steps); split "
        f"it: {advice}",
    )
