"""What a web page, a fuzzer or a hostile client can no longer make the server do (issue 34):
send it a cross-site request (415 for a body that is not JSON, 403 for a page of another site,
400 for a foreign Host), make /explain work for hours (422 before any work is queued), keep it
working for a client that has gone, or make it fail on a body it cannot read (400)."""

from __future__ import annotations

import asyncio
import json
import sys
import warnings

import pytest
from test_serve import TEXT, build_models, error_of

from attnclf.serve import ServeSettings, create_app
from attnclf.serve.models import ServedModel
from attnclf.serve.routes import explain as explain_route

with warnings.catch_warnings():  # starlette's note that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
BODY = json.dumps({"texts": [TEXT]})
EVERY_CLASSIFIER = ["self-attention", "mh", "matrix", "plain"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ServedModel]:
    return build_models(tmp_path_factory.mktemp("guarded"))


def client_of(models: dict[str, ServedModel], **settings: object) -> TestClient:
    app = create_app(models, ServeSettings(**settings))  # type: ignore[arg-type]
    return TestClient(app, base_url="http://localhost:8000", raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(models):
    with client_of(models) as client:
        yield client


def work_done(client: TestClient) -> tuple[int, int]:
    batchers = client.app.state.server.batchers.values()
    return sum(b.batches for b in batchers), sum(b.texts for b in batchers)


# --- a page of another site -------------------------------------------------------------------


def test_a_cross_origin_text_plain_post_is_415_and_a_foreign_host_400(client):
    page = {"Origin": "http://attacker.example"}
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"):
        response = client.post("/explain", content=BODY, headers={**page, "Content-Type": kind})
        error_of(response, 415, "application/json", kind.split(";")[0])
    # a page can also send a body without a type (a Blob): its Origin gives it away
    error_of(client.post("/predict", content=BODY, headers=page), 403, "attacker.example")
    same = {"Origin": "http://localhost:8000"}
    assert client.post("/predict", content=BODY, headers=same).status_code == 200

    # DNS rebinding: the page's own name, pointed at 127.0.0.1, is in the Host header
    for method in ("GET", "POST"):
        rebound = client.request(method, "/models", headers={"Host": "attacker.example:8000"})
        error_of(rebound, 400, "'attacker.example'", "--allowed-host attacker.example")
    error_of(client.post("/predict", content=BODY, headers={"Host": ""}), 400, "--allowed-host")
    for host in ("localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST."):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_add_names_subdomains_or_any(models):
    with client_of(models, allowed_hosts=("example.org", "*.corp.test")) as client:
        for host in ("example.org", "Example.org:443", "api.corp.test"):
            assert client.get("/health", headers={"Host": host}).status_code == 200, host
        for host in ("corp.test", "example.org.attacker.example", "fooexample.org"):
            assert client.get("/health", headers={"Host": host}).status_code == 400, host
        proxied = {"Host": "127.0.0.1:8000", "Origin": "https://example.org"}
        assert client.post("/predict", content=BODY, headers=proxied).status_code == 200
    with client_of(models, allowed_hosts=("*",)) as client:
        anywhere = {"Host": "anything.example", "Origin": "http://elsewhere.example"}
        assert client.post("/predict", content=BODY, headers=anywhere).status_code == 200


# --- /explain: a budget, checked before any work ------------------------------------------


def test_the_explain_amplification_is_a_422_before_any_work(client, monkeypatch):
    calls = []
    monkeypatch.setattr(explain_route, "_gradients", lambda *args: calls.append(args))
    before = work_done(client)
    request = {
        "texts": [TEXT] * 16,
        "models": ["mh"] * 20_000,
        "methods": ["attention", "integrated_gradients"],
        "ig_steps": 128,
    }
    error_of(client.post("/explain", json=request), 422, "20,000 models", "at most once")
    error_of(client.post("/explain", json={**request, "models": []}), 422, "models is empty")
    assert work_done(client) == before and calls == []


def test_explain_over_its_budget_says_how_to_split_it(models, monkeypatch):
    calls, gradients = [], explain_route._gradients
    counted = lambda *args: calls.append(args) or gradients(*args)  # noqa: E731
    monkeypatch.setattr(explain_route, "_gradients", counted)
    with client_of(models, max_explain_steps=1000) as client:
        before = work_done(client)
        request = {"texts": [TEXT] * 3, "methods": ["integrated_gradients"], "ig_steps": 128}
        message = error_of(client.post("/explain", json=request), 422, "--max-explain-steps")
        assert "3 texts x 4 models x 129 steps = 1,548" in message
        assert "budget is 1,000" in message and "at most 2 models per request" in message
        assert work_done(client) == before and calls == []
        two = client.post("/explain", json={**request, "models": ["mh", "plain"]})
        assert two.status_code == 200 and len(calls) == 2
        one_text = {**request, "texts": [TEXT] * 16, "models": ["mh"]}
        error_of(client.post("/explain", json=one_text), 422, "at most 7 texts per request")


def test_explain_names_each_model_once(client):
    body = client.post("/explain", json={"texts": [TEXT], "models": ["mh", "plain", "mh"]})
    assert [m["name"] for m in body.json()["models"]] == ["mh", "plain"]


def test_explain_stops_when_the_client_has_gone(models, monkeypatch):
    calls = []
    monkeypatch.setattr(explain_route, "_gradients", lambda *args: calls.append(args) or [])
    checks = 0

    async def gone() -> bool:  # the client leaves once the first model is under way
        nonlocal checks
        checks += 1
        return checks > 1

    async def main() -> tuple[int, int]:
        app = create_app(models, ServeSettings())
        async with app.router.lifespan_context(app):
            server = app.state.server
            start = sum(b.texts for b in server.batchers.values())
            body = explain_route.schemas.ExplainRequest(
                texts=[TEXT], methods=["gradient_x_input", "integrated_gradients"]
            )
            with pytest.raises(explain_route.ClientGone):
                await explain_route.explanations(server, body, gone)
            scored = sum(b.texts for b in server.batchers.values()) - start
            return scored, len(calls)

    scored, gradients = asyncio.run(main())
    assert (scored, gradients) == (1, 0)  # one model scored, then nothing: 4 x 3 passes asked


# --- bodies that cannot be read ------------------------------------------------------------


def test_a_body_that_is_not_utf8_or_nests_too_deeply_is_a_400(client):
    json_type = {"Content-Type": "application/json"}
    latin1 = '{"texts": ["café"]}'.encode("latin-1")
    error_of(client.post("/predict", content=latin1, headers=json_type), 400, "not UTF-8")
    deep = b"[" * 50_000 + b"]" * 50_000
    error_of(client.post("/predict", content=deep, headers=json_type), 400, "nests too deeply")
    # nesting json reads but a recursive walk of it would not: a 400 or an answer, never a 500
    depth = sys.getrecursionlimit() - 50
    nested = "[" * depth + json.dumps(TEXT) + "]" * depth
    tensor = f'{{"name": "text", "shape": [1], "datatype": "BYTES", "data": [{nested}]}}'
    response = client.post("/v2/models/mh/infer", content=f'{{"inputs": [{tensor}]}}')
    assert response.status_code in (200, 400), response.text
