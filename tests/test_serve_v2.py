"""The Open Inference Protocol routes as Triton's clients use them: the binary tensor extension
(built by hand here; tests/test_serve_live.py drives tritonclient itself), the routes of the
version the metadata lists, and shapes that must hold their data."""

from __future__ import annotations

import json
import struct
import warnings

import numpy as np
import pytest
from test_serve import LABELS, TEXT, build_models, error_of

from attnclf.serve import ServeSettings, create_app

with warnings.catch_warnings():  # starlette's note that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TEXTS = [TEXT, "dull and awful", "naïve café"]
HEADER = "Inference-Header-Content-Length"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    models = build_models(tmp_path_factory.mktemp("v2"))
    app = create_app(models, ServeSettings(max_texts=4))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def text_input(texts: list[str], shape: list[int] | None = None, data: object = None) -> dict:
    given = texts if data is None else data
    return {"name": "text", "shape": shape or [len(texts)], "datatype": "BYTES", "data": given}


def binary_request(texts: list[bytes], parameters: dict | None = None) -> tuple[bytes, dict]:
    """A request as tritonclient.http sends it by default: JSON, then the texts' bytes."""
    blob = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    return raw_request(blob, parameters, len(texts))


def raw_request(blob: bytes, parameters: dict | None = None, count: int = 1) -> tuple[bytes, dict]:
    tensor = {"name": "text", "shape": [count], "datatype": "BYTES"}
    tensor["parameters"] = {"binary_data_size": len(blob)}
    header = json.dumps({"inputs": [tensor], "parameters": parameters or {}}).encode()
    return header + blob, {HEADER: str(len(header))}


def binary_outputs(body: bytes, header_length: int) -> dict[str, np.ndarray]:
    """Each output of a binary response, as tritonclient reads it."""
    header, offset, found = json.loads(body[:header_length]), header_length, {}
    for output in header["outputs"]:
        size = output["parameters"]["binary_data_size"]
        blob = body[offset : offset + size]
        offset += size
        if output["datatype"] == "BYTES":
            items, at = [], 0
            while at < len(blob):
                (n,) = struct.unpack_from("<I", blob, at)
                items.append(blob[at + 4 : at + 4 + n].decode())
                at += 4 + n
            found[output["name"]] = np.array(items)
        else:
            found[output["name"]] = np.frombuffer(blob, "<f4").reshape(output["shape"])
    assert offset == len(body)
    return found


def test_binary_tensor_data_in_and_out_as_tritonclient_sends_it(client):
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]
    as_json = client.post("/v2/models/mh/infer", json={"inputs": [text_input(TEXTS)]}).json()
    expected = {o["name"]: o["data"] for o in as_json["outputs"]}

    body, headers = binary_request([t.encode() for t in TEXTS], {"binary_data_output": True})
    response = client.post("/v2/models/mh/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    outputs = binary_outputs(response.content, int(response.headers[HEADER]))
    assert outputs["label"].tolist() == expected["label"]
    assert outputs["score"].tolist() == expected["score"]
    assert outputs["probabilities"].shape == (3, len(LABELS))

    # binary in, JSON out; an octet-stream type is fine with the extension's header
    body, headers = binary_request([t.encode() for t in TEXTS])
    headers["Content-Type"] = "application/octet-stream"
    plain = client.post("/v2/models/mh/infer", content=body, headers=headers)
    assert plain.status_code == 200, plain.text
    assert plain.json()["outputs"] == as_json["outputs"]


def test_binary_data_that_does_not_add_up_is_a_400_that_says_so(client):
    body, headers = binary_request([b"fine", b"also fine"])
    size = int(headers[HEADER])
    cases = [
        (body, {HEADER: str(len(body) + 1)}, "binary_data=False"),
        (body, {HEADER: "twelve"}, "binary_data=False"),
        (body + b"extra", headers, "5 bytes follow"),
        (body[:-3], headers, "binary_data_size"),
        (body[: size + 2], {HEADER: str(size)}, "binary_data_size"),
        (binary_request([b"caf\xe9"])[0], binary_request([b"caf\xe9"])[1], "not UTF-8"),
        (*raw_request(b"\x09\x00\x00\x00fine"), "element 1 is cut off"),
        (*raw_request(b"\x09\x00"), "length is cut off"),
    ]
    for content, given, fragment in cases:
        response = client.post("/v2/models/mh/infer", content=content, headers=given)
        error_of(response, 400, fragment)
    text_plain = {**headers, "Content-Type": "text/plain"}
    error_of(client.post("/v2/models/mh/infer", content=body, headers=text_plain), 415)


def test_a_body_that_is_not_json_shows_an_inference_request(client):
    message = error_of(client.post("/v2/models/mh/infer", content="{nope"), 422, "not valid JSON")
    assert '"inputs"' in message and '"texts"' not in message


def test_the_version_the_metadata_lists_has_its_routes(client):
    metadata = client.get("/v2/models/mh").json()
    (version,) = metadata["versions"]
    assert client.get(f"/v2/models/mh/versions/{version}").json() == metadata
    ready = client.get(f"/v2/models/mh/versions/{version}/ready")
    assert ready.json() == {"name": "mh", "ready": True}
    request = {"inputs": [text_input(TEXTS)]}
    versioned = client.post(f"/v2/models/mh/versions/{version}/infer", json=request)
    assert versioned.json() == client.post("/v2/models/mh/infer", json=request).json()
    for path in ("", "/ready"):
        error_of(client.get(f"/v2/models/mh/versions/1{path}"), 404, "no version '1'", version)
    error_of(client.post("/v2/models/mh/versions/1/infer", json=request), 404, version)
    error_of(client.get(f"/v2/models/nope/versions/{version}"), 404, "no model named 'nope'")


def test_a_shape_must_hold_the_data_without_overflowing(client):
    overflowing = [1099511627779, 6148914324732641281]
    assert int(np.prod(np.array(overflowing, dtype=np.int64))) == 3  # what int64 makes of it
    for shape in (overflowing, [-1, -3], [2], [3, 2], [4]):
        request = {"inputs": [text_input(TEXTS, shape)]}
        error_of(client.post("/v2/models/mh/infer", json=request), 400, f"shape {shape}")
    nested = {"inputs": [text_input(TEXTS, [3, 1], [[t] for t in TEXTS])]}
    assert client.post("/v2/models/mh/infer", json=nested).status_code == 200
    scalar = {"inputs": [text_input([TEXT], [])]}
    assert client.post("/v2/models/mh/infer", json=scalar).json()["outputs"][0]["shape"] == [1]


def test_texts_the_model_cannot_read_are_400_on_v2(client):
    for texts, fragment in (([TEXT, ",,,"], "text 2 has no words"), ([TEXT] * 5, "limit is 4")):
        request = {"inputs": [text_input(texts)]}
        error_of(client.post("/v2/models/mh/infer", json=request), 400, fragment)
    error_of(client.post("/v2/models/dates/infer", json={"inputs": [text_input([" "])]}), 400)
    no_data = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES"}]}
    error_of(client.post("/v2/models/mh/infer", json=no_data), 400, "no data")
