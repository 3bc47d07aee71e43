"""`POST /predict` and `POST /models/{name}/predict`: the Hugging Face text-classification
shape, per text `[{"label", "score"}]`, most probable first (`top_k`, null for every label);
`"attention": true` adds the tokens and the attention."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .. import schemas
from ..answers import attention_of, label_scores
from ..errors import ERRORS, ApiError
from ..server import Server, ServerDep

router = APIRouter()
PREDICTIONS = list[list[schemas.LabelScore]] | list[schemas.AttentionPrediction]


@router.post("/predict", response_model=PREDICTIONS, responses=ERRORS)
async def predict(body: schemas.PredictRequest, server: ServerDep) -> Response:
    """Classify texts: per text `[{"label", "score"}]`, the Hugging Face pipeline's shape."""
    return await classify(server, body, body.model)


@router.post("/models/{name}/predict", response_model=PREDICTIONS, responses=ERRORS)
async def predict_with(name: str, body: schemas.PredictWithRequest, server: ServerDep) -> Response:
    """Classify texts with the model called `name`."""
    if body.model not in (None, name):
        raise ApiError(422, f"the path names model {name!r} and the body {body.model!r}")
    return await classify(server, body, name)


async def classify(server: Server, body: schemas.PredictRequest, name: str | None) -> Response:
    if body.texts is not None and body.inputs is not None:
        raise ApiError(422, 'give the texts as "texts" or as "inputs", not both')
    given = body.texts if body.texts is not None else body.inputs
    if given is None:
        raise ApiError(422, 'no texts; send them as {"texts": ["..."]}')
    texts = server.check_texts(
        [given] if isinstance(given, str) else given, server.settings.max_texts, "--max-texts"
    )
    top_k = body.top_k
    if body.parameters is not None and "top_k" in body.parameters.model_fields_set:
        top_k = body.parameters.top_k
    served = server.classifier(name)
    labels = served.labels or []
    results = await server.scored(served, texts)
    if not body.attention:
        return JSONResponse([label_scores(r.probabilities, labels, top_k) for r in results])
    return JSONResponse(
        [
            {"labels": label_scores(r.probabilities, labels, top_k), **attention_of(r)}
            for r in results
        ]
    )
