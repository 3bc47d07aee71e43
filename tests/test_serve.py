"""The HTTP API through httpx against the app (every route, every error status, the limits),
the batcher, `attnclf serve` for real, and `attnclf predict --data` for files.

The models are tiny and untrained (the registry's tiny configs), saved as folders; two more
are made here: one with a token-by-token attention matrix and one without attention."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest
import torch
from conftest import make_reviews
from helpers import assert_one_line_error, run_cli
from torch import nn

from attnclf.config import TextConfig
from attnclf.inference.classifier import TextClassifier
from attnclf.models import get_family
from attnclf.models.layers.attention import lengths_to_mask
from attnclf.models.outputs import Classifier, ClassifierOutput
from attnclf.serve import ServeSettings, create_app
from attnclf.serve.batching import Batcher
from attnclf.serve.models import ServedModel, load_models
from attnclf.text.tokens import Vocab, tokenize

with warnings.catch_warnings():  # starlette's note that it will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LABELS = ["neg", "pos"]
TEXT = "A wonderful, moving film."


def vocabulary() -> Vocab:
    return Vocab.build([tokenize(text) for text, _ in make_reviews(100)], 60)


def tiny_classifier(family_name: str) -> TextClassifier:
    torch.manual_seed(0)
    family, vocab = get_family(family_name), vocabulary()
    values = {**family.tiny, "vocab_size": len(vocab), "num_outputs": 1, "pad_id": vocab.pad_id}
    model = family.build(family.make_config(**values), vocab)
    metadata = {"metrics": {"test_accuracy": 0.5}}
    return TextClassifier(
        family_name, model, vocab, TextConfig(max_len=12), LABELS, metadata, device="cpu"
    )


class Matrix(Classifier):
    """Every token attends to every token (two heads), then mean pooling; three classes."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.config = None
        self.embedding = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.query = nn.Linear(8, 16)
        self.output = nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        x = self.embedding(ids)  # (B, T, E)
        q = self.query(x).view(x.shape[0], x.shape[1], 2, 8).transpose(1, 2)  # (B, nh, T, E)
        scores = q @ x[:, None].transpose(-1, -2)  # (B, nh, T, T)
        scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        weights = scores.softmax(-1) * mask[:, None, :, None]  # (B, nh, T, T)
        pooled = (x * mask[..., None]).sum(1) / lengths[:, None]  # (B, E)
        return ClassifierOutput(self.output(pooled), token_attention=weights)


class Plain(Classifier):
    """The mean of the embeddings: no attention at all."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.config = None
        self.embedding = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.output = nn.Linear(8, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1])[..., None]  # (B, T, 1)
        pooled = (self.embedding(ids) * mask).sum(1) / lengths[:, None]  # (B, E)
        return ClassifierOutput(self.output(pooled))


def in_memory(name: str, family: str, model: nn.Module, labels: list[str]) -> ServedModel:
    torch.manual_seed(0)
    classifier = TextClassifier(family, model, vocabulary(), TextConfig(), labels, device="cpu")
    return ServedModel.of_classifier(name, classifier)


def tiny_translator_folder(path: Path) -> Path:
    from attnclf.seq2seq.model import Seq2Seq, Seq2SeqConfig
    from attnclf.seq2seq.pairs import TokenConfig, build_vocab
    from attnclf.seq2seq.translator import Translator

    torch.manual_seed(0)
    source, target = build_vocab([list("abcdefgh ")], 50), build_vocab([list("0123456789-")], 50)
    config = Seq2SeqConfig(
        len(source), len(target), embedding_dim=8, hidden_size=8, decoder_size=8, attention_size=8
    )
    tokens = TokenConfig("char", lowercase=False, max_output_len=6)
    return Translator(Seq2Seq(config), source, target, tokens, device="cpu").save(path)


def build_models(root: Path) -> dict[str, ServedModel]:
    """self-attention and mh (folders), dates (a seq2seq folder), matrix and plain (in memory;
    plain's family name holds markup, to check that the page escapes it)."""
    sa = tiny_classifier("self-attention").save(root / "self-attention")
    mh = tiny_classifier("multihead").save(root / "multihead")
    dates = tiny_translator_folder(root / "dates")
    models = load_models([sa, f"mh={mh}", dates], device="cpu")
    size = len(vocabulary())
    models["matrix"] = in_memory("matrix", "matrix", Matrix(size), ["a", "b", "c"])
    models["plain"] = in_memory("plain", "<b>plain</b>", Plain(size), LABELS)
    return models


SETTINGS = ServeSettings(max_texts=4, max_text_chars=300, max_body_bytes=4000, max_explain_texts=3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ServedModel]]:
    root = tmp_path_factory.mktemp("served")
    return root, build_models(root)


@pytest.fixture(scope="module")
def client(folders):
    with TestClient(create_app(folders[1], SETTINGS), raise_server_exceptions=False) as client:
        yield client


def error_of(response: httpx.Response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text and 'File "' not in response.text
    message = response.json()["error"]
    assert isinstance(message, str) and "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# --- the Hugging Face shape -----------------------------------------------------------------


def test_predict_has_the_hugging_face_pipeline_shape_field_by_field(client):
    body = client.post("/predict", json={"texts": [TEXT, "dull and awful"]}).json()
    assert isinstance(body, list) and len(body) == 2
    for per_text in body:
        assert isinstance(per_text, list) and len(per_text) == 1  # top_k defaults to 1
        (entry,) = per_text
        assert set(entry) == {"label", "score"}
        assert entry["label"] in LABELS
        assert isinstance(entry["score"], float) and 0.5 <= entry["score"] <= 1

    every = client.post("/predict", json={"texts": [TEXT], "top_k": None}).json()[0]
    assert [e["label"] for e in every] != [] and sorted(e["label"] for e in every) == LABELS
    assert every[0]["score"] >= every[1]["score"]
    assert sum(e["score"] for e in every) == pytest.approx(1, abs=1e-6)
    assert every[0] == body[0][0]

    # the Inference API's names: one string as "inputs", top_k under "parameters"
    hf = client.post("/predict", json={"inputs": TEXT, "parameters": {"top_k": None}}).json()
    assert hf == [every]
    assert len(client.post("/predict", json={"texts": [TEXT], "top_k": 5}).json()[0]) == 2


def test_a_form_body_as_curl_d_sends_it_is_415_naming_the_json_header(client):
    # a form body is what a page of another site may send without asking (issue 34, item 1)
    response = client.post(
        "/predict",
        content=json.dumps({"texts": [TEXT]}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    error_of(response, 415, "application/json", "--json")
    untyped = client.post("/predict", content=json.dumps({"texts": [TEXT]}))
    assert untyped.status_code == 200 and len(untyped.json()) == 1


def test_attention_adds_tokens_weights_heads_and_the_matrix(client):
    sa = client.post("/predict", json={"texts": [TEXT], "attention": True}).json()[0]
    assert sa["tokens"] == ["a", "wonderful", "moving", "film"] and sa["truncated"] is False
    assert sum(sa["attention"]) == pytest.approx(1, abs=1e-4)
    assert sa["head_attention"] is None and sa["token_attention"] is None
    assert [set(e) for e in sa["labels"]] == [{"label", "score"}]

    mh = client.post("/models/mh/predict", json={"texts": [TEXT], "attention": True}).json()[0]
    heads = mh["head_attention"]
    assert len(heads) == get_family("multihead").tiny["num_heads"]
    assert all(len(row) == 4 and sum(row) == pytest.approx(1, abs=1e-4) for row in heads)

    matrix = client.post(
        "/models/matrix/predict", json={"texts": [TEXT], "attention": True, "top_k": None}
    ).json()[0]
    assert len(matrix["labels"]) == 3 and matrix["attention"] is None
    grid = matrix["token_attention"]
    assert len(grid) == 2 and all(len(rows) == 4 and len(rows[0]) == 4 for rows in grid)
    assert sum(grid[0][0]) == pytest.approx(1, abs=1e-4)

    plain = client.post("/models/plain/predict", json={"texts": [TEXT], "attention": True})
    assert plain.json()[0]["attention"] is None and plain.json()[0]["tokens"]

    long = client.post("/predict", json={"texts": ["word " * 30], "attention": True}).json()[0]
    assert long["truncated"] is True and len(long["tokens"]) == 12


def test_explain_gives_attention_and_the_gradients_on_request(client):
    body = client.post(
        "/explain",
        json={
            "texts": [TEXT],
            "methods": ["attention", "gradient_x_input", "integrated_gradients"],
        },
    ).json()
    names = [m["name"] for m in body["models"]]
    assert names == ["self-attention", "mh", "matrix", "plain"]  # every classifier, in order
    for model in body["models"]:
        (explained,) = model["explanations"]
        n = len(explained["tokens"])
        assert len(explained["gradient_x_input"]) == n == len(explained["integrated_gradients"])
        assert explained["label"] == explained["labels"][0]["label"]
    plain = body["models"][3]
    assert plain["has_attention"] is False and "attention" in plain["unavailable"]
    assert plain["explanations"][0]["attention"] is None

    only = client.post("/explain", json={"texts": [TEXT], "models": ["mh"]}).json()["models"]
    assert len(only) == 1 and "gradient_x_input" not in only[0]["explanations"][0]
    error_of(client.post("/explain", json={"texts": [TEXT], "methods": ["lime"]}), 422, "methods")
    error_of(client.post("/explain", json={"texts": [TEXT] * 4}), 422, "limit is 3")


def test_explain_gives_word_attentions_signed_attention_towards_the_predicted_label():
    word, family = tiny_classifier("word-attention"), get_family("word-attention")
    size = len(vocabulary())
    three = family.build(
        family.make_config(**{**family.tiny, "vocab_size": size, "num_outputs": 3})
    )
    models = {
        "word": ServedModel.of_classifier("word", word),
        "three": in_memory("three", "word-attention", three, ["a", "b", "c"]),
        "sa": ServedModel.of_classifier("sa", tiny_classifier("self-attention")),
        "plain": in_memory("plain", "plain", Plain(size), LABELS),
    }
    methods = ["attention", "signed_attention"]
    with TestClient(create_app(models, SETTINGS), raise_server_exceptions=False) as client:
        body = client.post("/explain", json={"texts": [TEXT], "methods": methods}).json()
        alone = client.post("/explain", json={"texts": [TEXT], "models": ["word"]}).json()
    found = {model["name"]: model for model in body["models"]}
    (explained,) = found["word"]["explanations"]
    signed, terms = explained["signed_attention"], explained["token_scores"]
    assert len(signed) == len(explained["tokens"]) == len(terms)
    assert not found["word"]["unavailable"]
    towards = 1 if explained["label"] == "pos" else -1  # one logit: towards the second label
    assert signed == pytest.approx([towards * t for t in terms], abs=1e-6)
    p = next(s["score"] for s in explained["labels"] if s["label"] == "pos")
    logit, bias = math.log(p / (1 - p)), float(word.model.bias.detach())
    # the terms add up to the logit minus the bias: signed, to the predicted label's log-odds
    assert sum(signed) + towards * bias == pytest.approx(abs(logit), abs=1e-4)
    (explained,) = found["three"]["explanations"]  # several classes: the predicted one's terms
    assert explained["signed_attention"] == explained["token_scores"]
    for name, reason in [
        ("sa", "this model's attention pools no per-word votes, so its weights have no sign"),
        ("plain", "this model pools without attention"),
    ]:
        assert found[name]["unavailable"]["signed_attention"] == reason
        assert found[name]["explanations"][0]["signed_attention"] is None
    assert found["sa"]["explanations"][0]["attention"]  # the rest of its answer is there
    assert "signed_attention" not in alone["models"][0]["explanations"][0]  # not asked for


def test_translate_for_seq2seq_folders(client):
    body = client.post("/translate", json={"texts": ["abc", "h"]}).json()
    assert body["model"] == "dates" and len(body["translations"]) == 2
    first = body["translations"][0]
    assert first["source"] == "abc" and first["source_tokens"] == ["a", "b", "c"]
    rows = len(first["output_tokens"]) + first["ended"]
    assert len(first["alignment"]) == rows and len(first["alignment"][0]) == 3
    bare = client.post("/models/dates/translate", json={"texts": ["abc"], "alignment": False})
    assert "alignment" not in bare.json()["translations"][0]
    error_of(client.post("/models/mh/translate", json={"texts": ["abc"]}), 422, "classifier")
    error_of(client.post("/models/dates/predict", json={"texts": ["abc"]}), 422, "seq2seq")


def test_health_and_models(client, folders):
    assert client.get("/health").json() == {
        "status": "ok",
        "models": ["self-attention", "mh", "dates", "matrix", "plain"],
    }
    models = {m["name"]: m for m in client.get("/models").json()}
    sa = models["self-attention"]
    assert sa["kind"] == "classifier" and sa["family"] == "self-attention"
    assert sa["labels"] == LABELS and sa["metrics"] == {"test_accuracy": 0.5}
    assert re.fullmatch(r"[0-9a-f]{12}", sa["version"]) and sa["attnclf_version"]
    assert models["dates"]["kind"] == "seq2seq" and models["dates"]["labels"] is None
    assert models["plain"]["has_attention"] is False
    assert client.get("/models/mh").json()["family"] == "multihead"


# --- the Open Inference Protocol ------------------------------------------------------------


def test_open_inference_protocol(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/mh/ready").json() == {"name": "mh", "ready": True}
    meta = client.get("/v2/models/mh").json()
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "score", "probabilities"]
    request = {
        "id": "42",
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": [TEXT, "dull"]}],
    }
    body = client.post("/v2/models/mh/infer", json=request).json()
    assert body["model_name"] == "mh" and body["id"] == "42"
    assert body["model_version"] == meta["versions"][0]
    label, score_, probabilities = body["outputs"]
    assert label["datatype"] == "BYTES" and label["shape"] == [2]
    assert set(label["data"]) <= set(LABELS)
    assert probabilities["shape"] == [2, 2] and len(probabilities["data"]) == 4
    predicted = client.post("/models/mh/predict", json={"texts": [TEXT, "dull"]}).json()
    assert score_["data"] == [p[0]["score"] for p in predicted]

    chosen = client.post("/v2/models/mh/infer", json={**request, "outputs": [{"name": "label"}]})
    assert [o["name"] for o in chosen.json()["outputs"]] == ["label"]
    translated = client.post("/v2/models/dates/infer", json=request).json()
    assert translated["outputs"][0]["name"] == "output"

    wrong_type = {"inputs": [{**request["inputs"][0], "datatype": "FP32"}]}
    error_of(client.post("/v2/models/mh/infer", json=wrong_type), 400, "BYTES")
    wrong_shape = {"inputs": [{**request["inputs"][0], "shape": [3]}]}
    error_of(client.post("/v2/models/mh/infer", json=wrong_shape), 400, "shape [3]")
    unknown = {**request, "outputs": [{"name": "logits"}]}
    error_of(client.post("/v2/models/mh/infer", json=unknown), 400, "no output logits")
    error_of(client.get("/v2/models/nope"), 404, "no model named 'nope'")
    error_of(client.post("/v2/models/nope/infer", json=request), 404, "nope")


# --- bad input, clear errors ----------------------------------------------------------------


def test_limits_and_bad_input_are_json_errors_with_the_right_status(client):
    error_of(client.post("/predict", json={"texts": ["x"] * 5}), 422, "5 texts", "limit is 4")
    error_of(client.post("/predict", json={"texts": ["x" * 301]}), 422, "text 1 has 301", "300")
    error_of(client.post("/predict", json={"texts": []}), 422, "no texts")
    error_of(client.post("/predict", json={}), 422, "no texts")
    error_of(client.post("/predict", json={"texts": [TEXT, ",,,"]}), 422, "text 2 has no words")
    error_of(client.post("/predict", json={"texts": [1]}), 422, "texts.0")
    error_of(client.post("/predict", json={"text": [TEXT]}), 422, "text", "Extra inputs")
    error_of(client.post("/predict", json={"texts": [TEXT], "top_k": 0}), 422, "top_k")
    error_of(client.post("/predict", content="{not json"), 422, "not valid JSON")
    error_of(client.post("/predict", json={"texts": [TEXT], "model": "nope"}), 404, "nope")
    error_of(client.post("/models/nope/predict", json={"texts": [TEXT]}), 404, "loaded: ")
    mismatch = client.post("/models/mh/predict", json={"texts": [TEXT], "model": "plain"})
    error_of(mismatch, 422, "the path names model 'mh'")
    error_of(client.get("/no/such/route"), 404, "no such route")
    error_of(client.get("/predict"), 405)


def test_the_body_limit_is_413_declared_or_streamed(client):
    big = json.dumps({"texts": [TEXT]}) + " " * 4000
    error_of(client.post("/predict", content=big), 413, "limit of 4,000 bytes")

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(10):
            yield b" " * 1000

    error_of(client.post("/predict", content=chunks()), 413, "--max-body-bytes")
    assert client.get("/health").status_code == 200


def test_a_bug_is_a_500_without_a_stack_trace(client, monkeypatch):
    server = client.app.state.server

    def broken(texts):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(server.batchers["mh"], "run", broken)
    message = error_of(client.post("/models/mh/predict", json={"texts": [TEXT]}), 500)
    assert "secret" not in message and "RuntimeError" in message


def test_every_json_response_forbids_loading_anything(client):
    for response in (client.get("/models"), client.post("/predict", json={})):
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_page_is_self_contained_with_a_policy_that_allows_its_own_script(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    page = response.text
    assert "script-src 'self'" in page  # the <meta> policy too
    assert "&lt;b&gt;plain&lt;/b&gt;" in page and "<b>plain</b>" not in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from elsewhere
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/page.js">']
    script = client.get("/page.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text and "textContent" in script.text
    assert "fetch(" in script.text and not re.search(r"https?://", script.text)


# --- batching -------------------------------------------------------------------------------


def concurrent_predictions(models: dict[str, ServedModel], batching: bool) -> tuple[list, int]:
    settings = ServeSettings(batching=batching, batch_window_ms=20)

    async def main() -> tuple[list, int]:
        app = create_app(models, settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
                texts = [text for text, _ in make_reviews(16)]
                responses = await asyncio.gather(
                    *(http.post("/models/mh/predict", json={"texts": [t]}) for t in texts)
                )
            batcher = app.state.server.batchers["mh"]
            return [r.json() for r in responses], batcher.batches - 1  # less the warm-up

    return asyncio.run(main())


def test_concurrent_requests_are_batched_with_the_same_answers(folders):
    models = {"mh": folders[1]["mh"]}
    batched, passes = concurrent_predictions(models, batching=True)
    alone, single_passes = concurrent_predictions(models, batching=False)
    assert passes < 16 // 2 and single_passes == 16
    for a, b in zip(batched, alone, strict=True):
        assert a[0][0]["label"] == b[0][0]["label"]
        assert a[0][0]["score"] == pytest.approx(b[0][0]["score"], abs=1e-5)


def test_the_batcher_respects_its_maximum_and_finishes_queued_work_on_stop():
    from concurrent.futures import ThreadPoolExecutor

    sizes: list[int] = []

    def run(texts: list[str]) -> list[str]:
        sizes.append(len(texts))
        return [text.upper() for text in texts]

    async def main() -> list[list[str]]:
        with ThreadPoolExecutor(1) as executor:
            batcher: Batcher[str] = Batcher(run, executor, max_batch_size=4, window=0.05)
            batcher.start()
            tasks = [asyncio.create_task(batcher.submit([f"t{i}", "x"])) for i in range(5)]
            await asyncio.sleep(0)
            await batcher.stop()  # graceful: every queued request is answered
            return [task.result() for task in tasks]

    results = asyncio.run(main())
    assert results == [[f"T{i}", "X"] for i in range(5)]
    assert max(sizes) <= 4 and sum(sizes) == 10


def test_the_inference_thread_runs_with_the_threads_it_was_given(folders, monkeypatch):
    from attnclf.serve.settings import inference_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    assert inference_threads(ServeSettings()) == 1  # 2 cores: one for the event loop
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(16)), raising=False)
    assert inference_threads(ServeSettings()) == 15
    assert inference_threads(ServeSettings(threads=3)) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0}, raising=False)
    assert inference_threads(ServeSettings()) == 1

    main_threads = torch.get_num_threads()

    async def main() -> int:
        app = create_app({"mh": folders[1]["mh"]}, ServeSettings(threads=1))
        async with app.router.lifespan_context(app):
            executor = app.state.server.executor
            return await asyncio.get_running_loop().run_in_executor(executor, torch.get_num_threads)

    assert asyncio.run(main()) == 1
    assert torch.get_num_threads() == main_threads  # the test process keeps its own


# --- the command --------------------------------------------------------------------------


def test_serve_stops_at_a_folder_it_cannot_load(tmp_path, folders):
    result = run_cli("serve", folders[0] / "self-attention", tmp_path)
    assert_one_line_error(result, f"cannot serve {tmp_path}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    assert_one_line_error(run_cli("serve", tmp_path / "broken"), "broken", "not valid JSON")
    twice = run_cli("serve", folders[0] / "multihead", f"multihead={folders[0] / 'dates'}")
    assert_one_line_error(twice, "two models are named 'multihead'", "NAME=PATH")


def test_serve_says_when_the_port_is_taken(folders):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("serve", folders[0] / "multihead", "--port", port)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}", "--port")


def test_serve_help_says_what_0_0_0_0_exposes():
    result = run_cli("serve", "--help")
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert "127.0.0.1" in text and "0.0.0.0" in text and "without authentication" in text


def test_serve_runs_and_shuts_down_gracefully(folders):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "attnclf", "serve", str(folders[0] / "multihead"), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        url = f"http://127.0.0.1:{found.group(1)}"
        for _ in range(100):
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            import time

            time.sleep(0.1)
        answer = httpx.post(f"{url}/predict", json={"texts": [TEXT]}, timeout=10)
        assert answer.status_code == 200 and answer.json()[0][0]["label"] in LABELS
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[1]
    # uvicorn finishes the requests in flight, runs the shutdown, then re-raises the signal
    assert process.returncode in (0, -signal.SIGTERM), rest
    assert "Application shutdown complete" in rest and "Traceback" not in rest


# --- attnclf predict --data ---------------------------------------------------------------


def test_predict_a_file_reports_unreadable_rows_by_line_and_goes_on(tmp_path, folders):
    source = tmp_path / "reviews.csv"
    source.write_bytes(
        b"id,review,label\n"
        b"1,A wonderful film,pos\n"
        b"2,too,many,fields\n"
        b'3,",,,",neg\n'
        b"4,,neg\n"
        b"5,caf\xe9 was dull,neg\n"
        b'6,"two\nlines, superb",pos\n'
    )
    out = tmp_path / "predictions.csv"
    result = run_cli(
        "predict", folders[0] / "self-attention", "--data", source, "--text-column", "review",
        "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if "skipped:" in line]
    assert [line.split(":")[1] for line in skipped] == ["3", "4", "5", "6"]
    assert "fields where the header has 3" in skipped[0] and "no words" in skipped[1]
    assert "empty text" in skipped[2] and "not UTF-8" in skipped[3]
    assert "wrote 2 predictions" in result.stderr and "4 rows skipped" in result.stderr
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["1", "6"] and rows[1]["review"] == "two\nlines, superb"
    assert list(rows[0]) == [
        "id", "review", "label", "predicted_label", "predicted_probability",
        "predicted_probability_neg", "predicted_probability_pos",
    ]  # fmt: skip
    p = float(rows[0]["predicted_probability_neg"]) + float(rows[0]["predicted_probability_pos"])
    assert p == pytest.approx(1)


def test_predict_a_jsonl_file_into_tsv_and_jsonl(tmp_path, folders):
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"text": "superb", "n": 1}\nnot json\n[1]\n{"text": "dull", "n": 2}\n')
    out = tmp_path / "out.jsonl"
    result = run_cli("predict", folders[0] / "multihead", "--data", source, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert "reviews.jsonl:2: skipped: not a JSON object" in result.stderr
    assert "reviews.jsonl:3: skipped: a JSON list" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["n"] for r in rows] == [1, 2] and rows[0]["label"] in LABELS
    assert set(rows[0]) == {
        "text",
        "n",
        "label",
        "probability",
        *(f"probability_{x}" for x in LABELS),
    }
    tsv = tmp_path / "out.tsv"
    assert (
        run_cli("predict", folders[0] / "multihead", "--data", source, "--out", tsv, "-q").exit_code
        == 0
    )
    assert (
        tsv.read_text().splitlines()[0]
        == "text\tn\tlabel\tprobability\tprobability_neg\tprobability_pos"
    )


def test_predict_a_file_mistakes_are_one_line(tmp_path, folders):
    model = folders[0] / "multihead"
    assert_one_line_error(run_cli("predict", model, "--data", tmp_path / "x.csv"), "--out")
    source = tmp_path / "in.csv"
    source.write_text("review\nfine\n")
    result = run_cli("predict", model, "--data", source, "--out", tmp_path / "o.csv")
    assert_one_line_error(result, "no column 'text'", "--text-column")
    result = run_cli("predict", model, "--data", source, "--out", tmp_path / "o.parquet")
    assert_one_line_error(result, "o.parquet", ".jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("nope\n")
    result = run_cli("predict", model, "--data", empty, "--out", tmp_path / "o.csv", "-q")
    assert result.exit_code == 2 and "no row that could be classified" in result.stderr


def test_the_docs_page_loads_swagger_ui_from_this_server_not_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "/docs-assets/swagger-ui-bundle.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "'self'" in policy and "cdn" not in policy
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert len(script.content) > 100_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    error_of(client.get("/docs-assets/../../etc/passwd"), 404)
    error_of(client.get("/docs-assets/index.html"), 404, "no docs file")
