"""The Open Inference Protocol's binary tensor data extension, as Triton serves it and
`tritonclient.http` sends by default: the body is the JSON request, `Inference-Header-Content-
Length` bytes long, then each binary tensor's bytes in the order of the tensors; a BYTES tensor
holds, per element, its length (4 bytes, little-endian) and then its bytes; an FP32 tensor its
little-endian floats. `BinaryTensorRoute` turns such a request into plain JSON before FastAPI
reads it; `answer` sends the outputs that were asked for as binary data."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

HEADER = "Inference-Header-Content-Length"
_LENGTH = struct.Struct("<I")  # a BYTES element's length


class BinaryTensorRequest(Request):
    """A request whose body is JSON alone: binary inputs are read into their `data`."""

    async def body(self) -> bytes:
        if not hasattr(self, "_json_body"):
            raw = await super().body()
            declared = self.headers.get(HEADER)
            self._json_body = raw if declared is None else as_json(raw, declared)
        return self._json_body


class BinaryTensorRoute(APIRoute):
    """A route that reads the binary tensor extension (FastAPI's custom request recipe)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            scope = request.scope
            if HEADER in request.headers:  # what FastAPI reads from it is the JSON alone
                kept = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
            return await handler(BinaryTensorRequest(scope, request.receive))

        return route


def as_json(body: bytes, declared: str) -> bytes:
    """The request's JSON with each binary BYTES input decoded into its `data`."""
    if not declared.isdigit() or int(declared) > len(body):
        raise _refused(
            f"{HEADER} is {declared!r}, but the body has {len(body):,} bytes; give the length "
            "of the JSON part, or send JSON alone (tritonclient: binary_data=False)"
        )
    size = int(declared)
    try:
        request = json.loads(body[:size])
    except (ValueError, RecursionError):
        raise _refused(f"the first {size:,} bytes ({HEADER}) are not a JSON request") from None
    rest, offset = body[size:], 0
    inputs = request.get("inputs") if isinstance(request, dict) else None
    for tensor in inputs if isinstance(inputs, list) else []:
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
            continue
        length = parameters.pop("binary_data_size")
        if not isinstance(length, int) or length < 0 or offset + length > len(rest):
            raise _refused(
                f"input {tensor.get('name')!r} declares binary_data_size {length!r}, but "
                f"{len(rest) - offset:,} bytes of binary data are left"
            )
        if tensor.get("datatype") == "BYTES":
            tensor["data"] = _texts(rest[offset : offset + length], tensor.get("name"))
        offset += length
    if offset != len(rest):
        raise _refused(
            f"{len(rest) - offset:,} bytes follow the binary tensors; each input's "
            "binary_data_size should add up to the body after the JSON"
        )
    return json.dumps(request).encode()


def answer(response: dict[str, Any], binary: Callable[[str], bool]) -> Response:
    """The inference response, with each output `binary(name)` selects sent as binary data."""
    outputs = response["outputs"]
    chosen = [output for output in outputs if binary(output["name"])]
    if not chosen:
        return JSONResponse(response)
    blobs = []
    for output in chosen:
        blob = _encoded(output["datatype"], output.pop("data"))
        output["parameters"] = {"binary_data_size": len(blob)}
        blobs.append(blob)
    header = json.dumps(response, separators=(",", ":")).encode()
    return Response(
        b"".join([header, *blobs]),
        media_type="application/octet-stream",
        headers={HEADER: str(len(header))},
    )


def _texts(data: bytes, name: object) -> list[str]:
    texts: list[str] = []
    offset = 0
    while offset < len(data):
        if offset + 4 > len(data):
            raise _refused(f"input {name!r}: a BYTES element's length is cut off")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += 4
        if offset + length > len(data):
            raise _refused(f"input {name!r}: element {len(texts) + 1} is cut off")
        try:
            texts.append(data[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise _refused(f"input {name!r}: element {len(texts) + 1} is not UTF-8") from None
        offset += length
    return texts


def _encoded(datatype: str, data: list[Any]) -> bytes:
    if datatype == "BYTES":
        return b"".join(_LENGTH.pack(len(item)) + item for item in (s.encode() for s in data))
    return np.asarray(data, dtype="<f4").tobytes()  # FP32, the only other datatype served


def _refused(message: str) -> HTTPException:
    return HTTPException(400, message)
