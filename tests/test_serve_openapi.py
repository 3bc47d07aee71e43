"""The OpenAPI document says what the server does: schemathesis, with every check, over the
app in process (a request the document calls valid is answered, one it calls invalid is
refused, every status and body is declared); the limits and statuses by hand; the serving
guide's word on a body that is not UTF-8."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta

import pytest
from conftest import REPO
from test_serve import TEXT, build_models, error_of

from attnclf.serve import ServeSettings, create_app

with warnings.catch_warnings():  # starlette's note that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402 (after schemathesis, which needs it)
from schemathesis.config import SchemathesisConfig  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CLASSIFIERS = 4
# The /explain budget is a product of three fields, which JSON Schema cannot state: this one
# holds every request the document allows (3 texts x 4 classifiers x 130 steps)
SETTINGS = ServeSettings(
    max_texts=4, max_text_chars=300, max_explain_texts=3, max_explain_steps=3 * CLASSIFIERS * 130
)
# An inference request must have as many texts as its shape says, and ask a model for the
# outputs of its kind: rules across fields that JSON Schema cannot state either, so a valid
# request may get the Open Inference Protocol's 400 for them
V2_INFER = {
    "include-path-regex": "/infer$",
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]}},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    return create_app(build_models(tmp_path_factory.mktemp("openapi")), SETTINGS)


@pytest.fixture(scope="module")
def api(app):
    config = SchemathesisConfig.from_dict({"operations": [V2_INFER]})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=timedelta(seconds=60),  # a hang, not a slow shared core
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_server_does_what_its_openapi_document_says(case):
    case.call_and_validate()  # every check schemathesis has


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_texts_are_declared_with_the_servers_limits(client):
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for name, most in (("PredictRequest", 4), ("ExplainRequest", 3), ("TranslateRequest", 4)):
        texts = components[name]["properties"]["texts"]
        assert (texts["minItems"], texts["maxItems"]) == (1, most), name
        assert texts["items"]["maxLength"] == 300 and texts["items"]["pattern"]
    models = components["ExplainRequest"]["properties"]["models"]["anyOf"][0]
    assert models["maxItems"] == CLASSIFIERS and len(models["items"]["enum"]) == CLASSIFIERS
    error_of(client.post("/predict", json={"texts": []}), 422, "no texts")
    error_of(client.post("/explain", json={"texts": []}), 422, "no texts")
    error_of(client.post("/translate", json={"texts": []}), 422, "no texts")
    words = components["PredictRequest"]["properties"]["texts"]["items"]["pattern"]
    assert re.search(words, TEXT) and re.search(words, "日本") and not re.search(words, ",,, ")


def test_every_status_the_server_sends_is_declared(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert "400" in declared, (method, path)  # a foreign Host, on every route
            if method == "post":
                assert {"400", "403", "404", "408", "413", "415", "422"} <= declared, path
            if "{name}" in path:
                assert "404" in declared, (method, path)
    assert (
        "application/octet-stream"
        in paths["/v2/models/{name}/infer"]["post"]["responses"]["200"]["content"]
    )


def test_the_serving_guide_and_the_server_agree_on_a_body_that_is_not_utf8(client):
    serving = (REPO / "docs" / "guides" / "serving.md").read_text(encoding="utf-8")
    (row,) = [line for line in serving.splitlines() if line.startswith("| 400 |")]
    assert "a body that is not UTF-8" in row
    latin1 = '{"texts": ["café"]}'.encode("latin-1")
    response = client.post("/predict", content=latin1, headers={"Content-Type": "application/json"})
    error_of(response, 400, "not UTF-8")
