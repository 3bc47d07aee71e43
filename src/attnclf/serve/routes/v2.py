"""The Open Inference Protocol v2 subset under `/v2` (KServe, Triton): server and model
metadata, liveness and readiness, and `infer` with one BYTES input of texts, as JSON or with
the binary tensor extension (binary.py, what `tritonclient.http` sends by default); each model
route also under `/versions/{version}`, the version its metadata lists. A request the model
cannot run (shape, datatype, outputs, texts) is a 400, as KServe and Triton answer it."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from ...errors import AttnclfError
from ...version import __version__
from .. import binary, schemas
from ..errors import ERRORS, LOOKUP_ERRORS, ApiError, responses
from ..models import ServedModel
from ..server import Server, ServerDep

router = APIRouter(tags=["v2"], route_class=binary.BinaryTensorRoute)
READY_ERRORS = {**LOOKUP_ERRORS, **responses(503)}
INFER_ERRORS = {
    **ERRORS,
    **responses(
        400,
        s400="an inference request the model cannot run (shape, datatype, outputs, texts), "
        "binary data that does not add up, a Host this server does not answer, or a body that "
        "is not UTF-8 JSON",
    ),
    200: {
        "description": "The outputs, as JSON or, where asked for, as binary data after the "
        "JSON (Inference-Header-Content-Length)",
        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
    },
}


@router.get("/v2")
async def v2_server() -> dict[str, Any]:
    """The Open Inference Protocol's server metadata: name, version and extensions."""
    return {"name": "attnclf", "version": __version__, "extensions": ["binary_tensor_data"]}


@router.get("/v2/health/live")
async def v2_live() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"live": True}


@router.get("/v2/health/ready", responses=responses(503))
async def v2_ready(server: ServerDep) -> Response:
    """Readiness: every model is loaded (503 until then)."""
    return JSONResponse({"ready": server.ready}, status_code=200 if server.ready else 503)


@router.get("/v2/models/{name}", response_model=schemas.ModelMetadata, responses=LOOKUP_ERRORS)
async def v2_model(name: str, server: ServerDep) -> dict[str, Any]:
    """A model's metadata: its versions, platform, inputs and outputs with their shapes."""
    return metadata(server.get(name))


@router.get(
    "/v2/models/{name}/versions/{version}",
    response_model=schemas.ModelMetadata,
    responses=LOOKUP_ERRORS,
)
async def v2_model_version(name: str, version: str, server: ServerDep) -> dict[str, Any]:
    """A model's metadata, at the version its metadata lists (404 for another)."""
    return metadata(_versioned(server, name, version))


@router.get("/v2/models/{name}/ready", responses=READY_ERRORS)
async def v2_model_ready(name: str, server: ServerDep) -> Response:
    """Whether this model is ready to infer."""
    return _readiness(server, server.get(name))


@router.get("/v2/models/{name}/versions/{version}/ready", responses=READY_ERRORS)
async def v2_model_version_ready(name: str, version: str, server: ServerDep) -> Response:
    """Whether this model, at this version, is ready to infer."""
    return _readiness(server, _versioned(server, name, version))


@router.post(
    "/v2/models/{name}/infer", response_model=schemas.InferResponse, responses=INFER_ERRORS
)
async def v2_infer(name: str, body: schemas.InferRequest, server: ServerDep) -> Response:
    """One BYTES input of texts; outputs label, score and probabilities (a classifier) or
    output (a seq2seq model)."""
    return await infer(server, server.get(name), body)


@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    response_model=schemas.InferResponse,
    responses=INFER_ERRORS,
)
async def v2_infer_version(
    name: str, version: str, body: schemas.InferRequest, server: ServerDep
) -> Response:
    """`infer` with the version the model's metadata lists."""
    return await infer(server, _versioned(server, name, version), body)


def metadata(served: ServedModel) -> dict[str, Any]:
    text = _tensor("text", "BYTES", [-1], [])
    if served.translator is not None:
        outputs = [_tensor("output", "BYTES", [-1], [])]
    else:
        outputs = [
            _tensor("label", "BYTES", [-1], []),
            _tensor("score", "FP32", [-1], []),
            _tensor("probabilities", "FP32", [-1, len(served.labels or [])], []),
        ]
    for tensor in [text, *outputs]:
        tensor.pop("data")
    return {
        "name": served.name,
        "versions": [served.version],
        "platform": f"attnclf_{served.kind}",
        "inputs": [text],
        "outputs": outputs,
    }


async def infer(server: Server, served: ServedModel, body: schemas.InferRequest) -> Response:
    texts = _texts(server, served, body.inputs)
    try:
        outputs = await _outputs(server, served, texts)
    except (ApiError, AttnclfError) as error:  # a text with no words, or nothing to translate
        raise ApiError(400, error.message if isinstance(error, ApiError) else str(error)) from None
    if body.outputs is not None:
        known = {o["name"]: o for o in outputs}
        unknown = [o.name for o in body.outputs if o.name not in known]
        if unknown:
            raise ApiError(
                400, f"{served.name} has no output {', '.join(unknown)}; it has {', '.join(known)}"
            )
        outputs = [known[o.name] for o in body.outputs]
    every = bool(body.parameters and body.parameters.binary_data_output)
    asked = {
        o.name: o.parameters.binary_data
        for o in body.outputs or []
        if o.parameters is not None and o.parameters.binary_data is not None
    }
    response = {
        "model_name": served.name,
        "model_version": served.version,
        "id": body.id,
        "outputs": outputs,
    }
    return binary.answer(response, lambda name: bool(asked.get(name, every)))


def _texts(server: Server, served: ServedModel, inputs: list[schemas.InferInput]) -> list[str]:
    if len(inputs) != 1 or inputs[0].datatype != "BYTES":
        given = ", ".join(f"{i.name} ({i.datatype})" for i in inputs) or "none"
        raise ApiError(400, f"{served.name} takes one BYTES input of texts; got {given}")
    tensor = inputs[0]
    if tensor.data is None:
        raise ApiError(400, f"input {tensor.name} has no data; send its texts as data")
    data = _flatten(tensor.data)
    # math.prod, not numpy's int64 product, which wraps around to a small number
    if any(d < 0 for d in tensor.shape) or math.prod(tensor.shape) != len(data):
        raise ApiError(
            400, f"input {tensor.name} has shape {tensor.shape} but {len(data)} elements"
        )
    try:
        return server.check_texts(data, server.settings.max_texts, "--max-texts")
    except ApiError as error:
        raise ApiError(400, error.message) from None


async def _outputs(server: Server, served: ServedModel, texts: list[str]) -> list[dict[str, Any]]:
    count = len(texts)
    if served.translator is not None:
        translations = await server.off_loop(functools.partial(served.translator.translate, texts))
        return [_tensor("output", "BYTES", [count], [t.output for t in translations])]
    labels = served.labels or []
    results = await server.scored(served, texts)
    probabilities = np.stack([r.probabilities for r in results])  # (N, K)
    best = probabilities.argmax(axis=1)
    return [
        _tensor("label", "BYTES", [count], [labels[i] for i in best]),
        _tensor("score", "FP32", [count], probabilities.max(axis=1).tolist()),
        _tensor("probabilities", "FP32", [count, len(labels)], probabilities.ravel().tolist()),
    ]


def _versioned(server: Server, name: str, version: str) -> ServedModel:
    served = server.get(name)
    if version != served.version:
        raise ApiError(404, f"model {name!r} has no version {version!r}; it has {served.version!r}")
    return served


def _readiness(server: Server, served: ServedModel) -> Response:
    ready = server.ready
    return JSONResponse({"name": served.name, "ready": ready}, status_code=200 if ready else 503)


def _tensor(name: str, datatype: str, shape: list[int], data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def _flatten(data: list[object]) -> list[object]:
    """Nested lists in row-major order, without recursion (a body may nest them deeply)."""
    flat: list[object] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat
