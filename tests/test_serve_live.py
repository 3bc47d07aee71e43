"""The server on a real socket (uvicorn in a thread on 127.0.0.1, configured as `attnclf serve`
configures it): `tritonclient.http` with its defaults, and the read limits (a client that
trickles its headers, a silent connection, a body that stalls, headers too large)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from test_serve import TEXT, build_models

from attnclf.serve import ServeSettings, create_app
from attnclf.serve.listener import MAX_HEADER_BYTES, uvicorn_config
from attnclf.serve.models import ServedModel

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SETTINGS = ServeSettings(read_timeout=1.0, threads=1)


@contextmanager
def serving(models: dict[str, ServedModel], settings: ServeSettings) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, as `attnclf serve` runs it: its base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(models, settings)
    config = uvicorn_config(app, "127.0.0.1", port, settings, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ServedModel]:
    return build_models(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def url(models: dict[str, ServedModel]) -> Iterator[str]:
    with serving(models, SETTINGS) as url:
        yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=15)


def closed_by_server(conn: socket.socket, wait: float = 0.0) -> bool:
    """Whether the server has closed the connection (EOF or reset), waiting at most `wait`."""
    readable, _, _ = select.select([conn], [], [], wait)
    if not readable:
        return False
    try:
        return conn.recv(65536) == b""
    except ConnectionError:
        return True


def read_until_closed(conn: socket.socket) -> bytes:
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


# --- tritonclient ---------------------------------------------------------------------------


def test_tritonclient_with_its_defaults_gets_the_predictions_of_predict(url):
    triton = pytest.importorskip("tritonclient.http")
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("mh")
    version = client.get_model_metadata("mh")["versions"][0]
    texts = [TEXT, "dull and awful", "naïve, charmant café"]
    tensor = triton.InferInput("text", [len(texts)], "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))

    result = client.infer("mh", [tensor])  # binary_data=True: the binary tensor extension
    predicted = httpx.post(f"{url}/models/mh/predict", json={"texts": texts}).json()
    labels = [label.decode() for label in result.as_numpy("label")]
    assert labels == [p[0]["label"] for p in predicted]
    assert result.as_numpy("score").tolist() == [p[0]["score"] for p in predicted]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(axis=1), 1)

    # the version the metadata lists, JSON in and out, one output asked for
    tensor.set_data_from_numpy(np.array(texts, dtype=np.object_), binary_data=False)
    wanted = [triton.InferRequestedOutput("label", binary_data=False)]
    again = client.infer("mh", [tensor], model_version=version, outputs=wanted)
    assert list(again.as_numpy("label")) == labels and again.as_numpy("score") is None
    translated = client.infer("dates", [tensor]).as_numpy("output")
    assert len(translated) == 3


# --- read limits ----------------------------------------------------------------------------


def test_a_client_that_trickles_its_headers_is_cut_off(url):
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with connect(url) as conn:
        sent = 0
        for byte in request:  # a byte every 0.5 s: 2 minutes if it were never cut off
            try:
                conn.sendall(bytes([byte]))
            except ConnectionError:
                break
            sent += 1
            if closed_by_server(conn, wait=0.5):
                break
        assert sent < len(request) and closed_by_server(conn, wait=5)


def test_a_silent_connection_is_closed(url):
    with connect(url) as conn:
        assert conn.recv(1) == b""  # EOF, well before the socket's own 15 s timeout


def test_the_next_request_on_a_kept_alive_connection_has_its_own_deadline(url):
    with connect(url) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" * 4:
            try:
                conn.sendall(bytes([byte]))
            except ConnectionError:
                break
            if closed_by_server(conn, wait=0.5):
                break
        assert closed_by_server(conn, wait=5)


def test_a_body_that_stalls_is_a_408(url):
    body = b'{"texts": ["A wonderful film"]}'
    head = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with connect(url) as conn:
        conn.sendall(head.encode() + body[:10])  # and never the rest
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408") and b"--read-timeout" in answer


def test_headers_over_the_limit_are_a_431(url):
    padding = "a" * (MAX_HEADER_BYTES + 1000)
    with connect(url) as conn:
        conn.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {padding}".encode())
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431") and b'"error"' in answer


def test_a_foreign_host_is_refused_on_the_wire_too(url):
    assert httpx.get(f"{url}/health", headers={"Host": "rebound.example"}).status_code == 400
    assert httpx.get(f"{url}/health").status_code == 200


def test_explain_drops_the_rest_of_its_work_when_the_client_goes(url, monkeypatch):
    from attnclf.serve.routes import explain as explain_route

    started, release, dropped = threading.Event(), threading.Event(), threading.Event()
    calls = []
    gradients = explain_route._gradients

    def held(*args: object) -> object:  # the first call waits until the client has gone
        calls.append(args)
        started.set()
        release.wait(timeout=30)
        return gradients(*args)

    monkeypatch.setattr(explain_route, "_gradients", held)
    monkeypatch.setattr(explain_route.log, "info", lambda *args: dropped.set())
    body = json.dumps({"texts": [TEXT], "methods": ["gradient_x_input", "integrated_gradients"]})
    head = (
        "POST /explain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with connect(url) as conn:
        conn.sendall(head.encode() + body.encode())
        assert started.wait(timeout=30)
    time.sleep(0.5)  # for the server to read the client's FIN
    release.set()
    assert dropped.wait(timeout=30)
    assert len(calls) < 8  # 4 classifiers x 2 methods had it gone on


def test_attnclf_serve_passes_its_read_timeout_and_allowed_hosts(tmp_path: Path, monkeypatch):
    import uvicorn

    from attnclf.cli.serve import serve

    seen = {}

    def run(self: uvicorn.Server) -> None:
        seen["config"], seen["settings"] = self.config, self.config.app.state.server.settings

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr("attnclf.serve.models.load_models", lambda *a, **k: {"m": object()})
    serve(["m"], host="127.0.0.2", port=0, allowed_host=["example.org"], read_timeout=3.0)
    settings = seen["settings"]
    assert settings.read_timeout == 3.0
    assert settings.allowed_hosts == ("example.org", "127.0.0.2")
    assert seen["config"].http.read_timeout == 3.0
