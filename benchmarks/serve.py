"""Load test of `attnclf serve` on 127.0.0.1: a fixed number of POST /predict requests at a few
concurrency levels, with adaptive batching on and off; prints requests/s, texts/s and the p50
and p99 latency as a markdown table.

The server runs as its own process (`python -m attnclf serve MODEL --port 0`); the client is a
minimal HTTP/1.1 keep-alive client on asyncio (one connection per concurrent caller), so the
figures are the server's and not an HTTP library's. Both share this machine's cores.

    python benchmarks/serve.py --model runs/compare/self-attention
    python benchmarks/serve.py --data ../shared/data/aclImdb_v1.tar.gz --limit 2000   # trains one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "aclImdb_v1.tar.gz"


def train_model(data: Path, limit: int, out: Path) -> tuple[Path, list[str]]:
    from attnclf.config import DataConfig, TextConfig, TrainConfig
    from attnclf.training.run import prepare_data, train_model

    prepared = prepare_data(DataConfig(source=str(data), limit=limit), TextConfig())
    train_model("self-attention", prepared, TrainConfig(epochs=1), out=out, progress=False)
    return out, list(prepared.dataset.test.texts)


def start_server(
    model: Path, batching: bool, window_ms: float, runtime: str = "torch"
) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "attnclf", "serve", str(model), "--port", "0"]
    command += ["--runtime", runtime]
    command += ["--log-level", "warning", "--batch-window-ms", str(window_ms)]
    command += [] if batching else ["--no-batching"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not found:
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
    return process, found.group(1)


async def wait_ready(port: str) -> None:
    for _ in range(300):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
            writer.write(b"GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the server never became ready")


def request_bytes(texts: list[str]) -> bytes:
    body = json.dumps({"texts": texts}).encode()
    head = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    if b" 200 " not in status:
        raise SystemExit(f"request failed: {status!r}")


async def load(port: str, requests: list[bytes], concurrency: int) -> tuple[float, np.ndarray]:
    latencies: list[float] = []
    queue = iter(requests)

    async def caller() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(port))
        for data in queue:
            start = time.perf_counter()
            await call(reader, writer, data)
            latencies.append(time.perf_counter() - start)
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - start, np.asarray(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="A classifier folder; default: train one.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="IMDB archive.")
    parser.add_argument("--limit", type=int, default=2000, help="Reviews to train on, and test.")
    parser.add_argument("--requests", type=int, default=2000, help="Requests per level.")
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--concurrency", default="1,8,32,64", help="Comma-separated levels.")
    parser.add_argument("--batch-window-ms", type=float, default=5.0)
    parser.add_argument(
        "--runtime", default="torch", help="torch, or onnx (the model folder needs model.onnx)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.model is None:
            print(f"training self-attention on {args.limit} reviews of {args.data}", flush=True)
            model, texts = train_model(args.data, args.limit, Path(tmp) / "self-attention")
        else:
            model = args.model
            texts = [f"review {i}: the acting was superb but the plot was thin" for i in range(500)]
        if args.runtime == "onnx" and not (model / "model.onnx").exists():
            from attnclf.interop.onnx_export import export_folder

            export_folder(model)  # into the folder, as `attnclf export MODEL` writes it
        rng = np.random.default_rng(0)
        n = args.texts_per_request
        requests = [
            request_bytes([texts[i] for i in rng.integers(0, len(texts), n)])
            for _ in range(args.requests)
        ]
        mean_words = np.mean([len(t.split()) for t in texts])
        levels = [int(c) for c in args.concurrency.split(",")]
        print(
            f"{os.cpu_count()} CPUs; {args.requests} requests per level, {n} text(s) each, "
            f"texts of {mean_words:.0f} words on average; model {model}\n"
        )
        print("| batching | concurrency | requests/s | texts/s | p50 ms | p99 ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for batching in (True, False):
            process, port = start_server(model, batching, args.batch_window_ms, args.runtime)
            try:
                asyncio.run(wait_ready(port))
                asyncio.run(load(port, requests[:50], 4))  # warm up
                for concurrency in levels:
                    wall, latencies = asyncio.run(load(port, requests, concurrency))
                    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
                    rate = len(requests) / wall
                    print(
                        f"| {'on' if batching else 'off'} | {concurrency} | {rate:,.0f} | "
                        f"{rate * n:,.0f} | {p50:.1f} | {p99:.1f} |",
                        flush=True,
                    )
            finally:
                process.terminate()
                process.wait(timeout=60)


if __name__ == "__main__":
    main()
