"""Measure attnclf on the real IMDB archive: data reading and encoding, training and inference
speed, accuracy, latency, memory, padding and FLOPs of each model, and (with --keras) the
tutorial's own Keras stack side by side in the same invocation.

    python benchmarks/benchmark.py                      # both models, 2 epochs, full data
    python benchmarks/benchmark.py --limit 2000 --epochs 1
    python benchmarks/benchmark.py --keras --limit 2000 --epochs 1
    python benchmarks/benchmark.py --compare --keras    # the issue's yardstick: whole commands

A script, not a test. TensorFlow is never imported here: the Keras stack runs in its own virtual
environment (/tmp/keras-seed-venv) in a subprocess.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import attnclf
from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.data.splits import load_dataset
from attnclf.errors import AttnclfError
from attnclf.evaluation.metrics import EVAL_BATCH_SIZE
from attnclf.models import get_family
from attnclf.models.registry import check_model_names
from attnclf.runtime.machine import cpu_family, cpu_isa, cpu_model  # for the others too
from attnclf.text.batches import PAD_MULTIPLE, EncodedTexts, batch_order, padding_share
from attnclf.text.tokens import Encoder, build_and_encode
from attnclf.training.presets import PRESETS
from attnclf.training.run import PreparedData, train_model

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "aclImdb_v1.tar.gz"
KERAS_DIR = REPO / ".." / "shared" / "anchors" / "keras_seed"
KERAS_VENV = Path("/tmp/keras-seed-venv")
KERAS_PACKAGES = [
    "tensorflow-cpu==2.15.1",
    "keras-self-attention==0.51.0",
    "keras-multi-head==0.29.0",
]
PEAK_MATMUL_SIZE = 2048  # square matrices whose product measures the CPU's matmul peak
# What limits oneDNN, ATen and MKL to AVX2 on a CPU that has more (AVX512, AVX512-BF16, AMX):
# `--isa avx2` re-runs the benchmark under these, to see the plain float32 path on any CPU.
AVX2_ONLY = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}
LATENCY_REVIEWS = 200
LATENCY_WARMUP = 10


# --- environment ------------------------------------------------------------------------------


def _best_gflops(product, flops: float, repeats: int) -> float:
    for _ in range(3):
        product()
    best = float("inf")
    for _ in range(3):  # the best of three rounds: the peak, not the noise of a shared machine
        start = time.perf_counter()
        for _ in range(repeats):
            product()
        best = min(best, (time.perf_counter() - start) / repeats)
    return flops / best / 1e9


def matmul_peaks_gflops(dtype: torch.dtype, repeats: int = 20) -> dict[str, float]:
    """This CPU's matrix-product throughput with torch's threads, measured now, by the two
    libraries PyTorch calls: `a @ b` (MKL for float32) and a 1x1 convolution (oneDNN, whose
    kernels the LSTMs use). On an AMD EPYC (family 26) MKL's float32 product ran at 214 GFLOP/s
    and oneDNN's at 367 (MKL does not take AVX512 there); limited to AVX2, 210 and 191. The
    larger is the yardstick every training and inference GFLOP/s figure is shown against."""
    generator = torch.Generator().manual_seed(0)
    size = PEAK_MATMUL_SIZE
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    image = torch.randn(1, size, 64, size // 64, generator=generator).to(dtype)  # 2048 pixels
    kernel = b[:, :, None, None].contiguous()  # (out, in, 1, 1)
    flops = 2 * size**3
    return {
        "matmul": round(_best_gflops(lambda: a @ b, flops, repeats), 1),
        "onednn_conv1x1": round(
            _best_gflops(lambda: torch.nn.functional.conv2d(image, kernel), flops, repeats), 1
        ),
    }


def environment() -> dict:
    from attnclf.runtime.device import bf16_is_native

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    limited = {key: os.environ[key] for key in AVX2_ONLY if key in os.environ}
    native_bf16 = bf16_is_native(torch.device("cpu"))
    fp32_peaks = matmul_peaks_gflops(torch.float32)
    bf16_peaks = matmul_peaks_gflops(torch.bfloat16) if native_bf16 else {}
    return {
        "cpu": cpu_model(),
        "isa": cpu_isa(),
        "isa_limits": limited,
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16,
        "cpu_family": cpu_family(),
        "fp32_peaks_gflops": fp32_peaks,
        "fp32_matmul_gflops": max(fp32_peaks.values()),
        "bf16_peaks_gflops": bf16_peaks,
        "bf16_matmul_gflops": max(bf16_peaks.values()) if bf16_peaks else None,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "attnclf": attnclf.__version__,
    }


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (not the current one)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


# --- data -------------------------------------------------------------------------------------


def timed_load(config: DataConfig):
    start = time.perf_counter()
    dataset = load_dataset(config)
    return dataset, time.perf_counter() - start


def cold_read_seconds(config: DataConfig) -> float:
    """Parse the archive with an empty cache: a temporary ATTNCLF_HOME, removed afterwards."""
    before = os.environ.get("ATTNCLF_HOME")
    home = tempfile.mkdtemp(prefix="attnclf-bench-home-")
    os.environ["ATTNCLF_HOME"] = home
    try:
        _, seconds = timed_load(config)
    finally:
        if before is None:
            os.environ.pop("ATTNCLF_HOME", None)
        else:
            os.environ["ATTNCLF_HOME"] = before
        shutil.rmtree(home, ignore_errors=True)
    return seconds


def prepare(data_path: Path, limit: int | None, cold: bool) -> tuple[PreparedData, dict]:
    """What training.run.prepare_data does, with each stage timed."""
    data_config = DataConfig(source=str(data_path), limit=limit)
    text_config = TextConfig()
    record: dict = {}
    if cold:
        record["cold_read_seconds"] = round(cold_read_seconds(data_config), 2)
    timed_load(data_config)  # makes sure the parsed-archive cache exists
    dataset, read_seconds = timed_load(data_config)
    record["cached_read_seconds"] = round(read_seconds, 2)

    start = time.perf_counter()
    vocab, train_ids = build_and_encode(dataset.train.texts, text_config)
    vocab_seconds = time.perf_counter() - start  # the train split: vocabulary and ids, one pass
    encoder = Encoder(vocab, text_config)
    start = time.perf_counter()
    splits = [EncodedTexts.from_sequences(train_ids, dataset.train.labels)] + [
        EncodedTexts.from_sequences(encoder.encode_many(split.texts), split.labels)
        for split in (dataset.validation, dataset.test)
    ]
    encode_seconds = time.perf_counter() - start
    reviews = sum(len(s) for s in splits)
    data = PreparedData(
        dataset, vocab, text_config, *splits, read_seconds + vocab_seconds + encode_seconds
    )
    train = data.train
    lengths = np.maximum(train.lengths, 1)
    rng = np.random.default_rng(0)
    padded = real = 0
    for index in batch_order(lengths, TrainConfig.batch_size, shuffle=True, rng=rng):
        width = -(-lengths[index].max() // PAD_MULTIPLE) * PAD_MULTIPLE
        padded += width * len(index)
        real += lengths[index].sum()
    record.update(
        {
            "reviews": reviews,
            "train": len(data.train),
            "validation": len(data.validation),
            "test": len(data.test),
            "train_vocab_and_encode_seconds": round(vocab_seconds, 2),
            "validation_test_encode_seconds": round(encode_seconds, 2),
            "tokenise_encode_seconds": round(vocab_seconds + encode_seconds, 2),
            "tokenise_encode_reviews_per_s": round(reviews / (vocab_seconds + encode_seconds), 1),
            "mean_tokens_train": round(float(train.lengths.mean()), 1),
            "mean_tokens_test": round(float(data.test.lengths.mean()), 1),
            # batches.padding_share: evaluation-order (length-sorted) batches of the train split
            "train_padding_share_sorted": round(padding_share(train, TrainConfig.batch_size), 4),
            # the shuffled, window-bucketed batches training actually sees (one epoch, seed 0)
            "train_padding_share_shuffled": round(float(1 - real / padded), 4),
        }
    )
    return data, record


# --- FLOPs ------------------------------------------------------------------------------------


def forward_flops(name: str, model: torch.nn.Module, tokens: float) -> dict:
    """Forward FLOPs of one review of `tokens` real tokens, by part, from the family's own
    count (multiply-add = 2 FLOPs; embedding lookups, activations and softmax exponentials are
    not counted), or, for a family without one, PyTorch's FLOP counter on one review of that
    length. `lstm_share` is the recurrent encoder's share where the parts name it."""
    family = get_family(name)
    if family.forward_flops is not None:
        flops = dict(family.forward_flops(model.config, tokens))
    else:
        from torch.utils.flop_counter import FlopCounterMode

        width = max(int(round(tokens)), 1)
        ids = torch.full((1, width), 2, dtype=torch.long)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model.eval()(ids, torch.tensor([width]))
        flops = {"total": float(counter.get_total_flops())}
    if "lstm" in flops and flops["total"]:
        flops["lstm_share"] = flops["lstm"] / flops["total"]
    return flops


# --- attnclf models ---------------------------------------------------------------------------


def latency_ms(classifier, texts: list[str]) -> dict:
    for text in texts[:LATENCY_WARMUP]:
        classifier.predict([text])
    times = []
    for text in texts[LATENCY_WARMUP : LATENCY_WARMUP + LATENCY_REVIEWS]:
        start = time.perf_counter()
        classifier.predict([text])
        times.append((time.perf_counter() - start) * 1000)
    if not times:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    return {
        "p50": round(float(np.percentile(times, 50)), 2),
        "p95": round(float(np.percentile(times, 95)), 2),
        "mean": round(statistics.fmean(times), 2),
        "n": len(times),
    }


def bench_model(name: str, data: PreparedData, train_config: TrainConfig, env: dict) -> dict:
    print(
        f"training {name} ({train_config.epochs} epochs, {len(data.train)} reviews) ...", flush=True
    )
    start = time.perf_counter()
    classifier, record = train_model(name, data, train_config, out=None, progress=False)
    train_eval_seconds = time.perf_counter() - start
    epoch_seconds = record.epoch_seconds
    pure_train = sum(epoch_seconds)
    samples_per_s = record.train_samples_per_s
    infer_per_s = record.infer_samples_per_s
    flops = forward_flops(name, classifier.model, float(data.train.lengths.mean()))
    test_flops = forward_flops(name, classifier.model, float(data.test.lengths.mean()))
    train_gflops = 3 * flops["total"] * samples_per_s / 1e9
    bf16 = record.train_arithmetic == "bf16" and env.get("bf16_matmul_gflops")
    train_peak = env["bf16_matmul_gflops"] if bf16 else env["fp32_matmul_gflops"]
    infer_gflops = test_flops["total"] * infer_per_s / 1e9
    print(f"  measuring single-review latency over {LATENCY_REVIEWS} test reviews ...", flush=True)
    latency = latency_ms(classifier, data.dataset.test.texts)
    return {
        "params": record.params,
        "epoch_seconds": epoch_seconds,
        "train_seconds": round(pure_train, 2),
        "train_seconds_with_validation": record.train_seconds,
        "train_eval_seconds": round(train_eval_seconds, 2),
        "train_samples_per_s": samples_per_s,
        "train_arithmetic": record.train_arithmetic,
        "test_accuracy": round(record.test_accuracy, 4),
        "test_loss": round(record.test_loss, 4),
        "infer_reviews_per_s": infer_per_s,
        "infer_batch_size": EVAL_BATCH_SIZE,
        "latency_ms": latency,
        "peak_rss_mb_process": round(peak_rss_mb(), 1),
        "forward_mflop_per_review": round(flops["total"] / 1e6, 2),
        "forward_flops_breakdown": {k: round(v, 3) for k, v in flops.items()},
        "train_mflop_per_review": round(3 * flops["total"] / 1e6, 2),
        "train_gflops": round(train_gflops, 1),
        # against the peak of the arithmetic the training steps ran in (bf16 where native)
        "train_peak_gflops": train_peak,
        "train_share_of_peak": round(train_gflops / train_peak, 3),
        "infer_gflops": round(infer_gflops, 1),
        "infer_share_of_peak": round(infer_gflops / env["fp32_matmul_gflops"], 3),
    }


# --- the Keras stack --------------------------------------------------------------------------


def run_compare_command(data_path: Path, limit: int | None, precision: str) -> dict | None:
    """The default `attnclf compare` as a user runs it (a fresh process, report, plots and
    faithfulness table included), under /usr/bin/time -v."""
    out = Path(tempfile.mkdtemp(prefix="attnclf-bench-compare-"))
    command = [sys.executable, "-m", "attnclf", "compare", "--data", str(data_path)]
    command += ["--out", str(out), "--quiet", "--precision", precision]
    if limit:
        command += ["--limit", str(limit)]
    print(f"attnclf compare (the whole command, {' '.join(command[3:])}) ...", flush=True)
    try:
        code, _, fields, wall, stderr = run_timed(command, echo=False)
        if code != 0:
            print(f"attnclf compare failed (exit {code}): {stderr.strip()[-300:]}")
            return None
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "command": "attnclf compare --data ARCHIVE" + (f" --limit {limit}" if limit else ""),
        "wall_seconds": round(wall, 2),
        **fields,
        "test_accuracy": {
            name: round(m["test_accuracy"], 4) for name, m in metrics["models"].items()
        },
        "train_seconds": {name: m["train_seconds"] for name, m in metrics["models"].items()},
    }


def keras_python() -> Path | None:
    """The venv's python with the Keras stack installed, installing it if needed; None if the
    install fails."""
    python = KERAS_VENV / "bin" / "python"
    check = [str(python), "-c", "import tensorflow, keras_self_attention, keras_multi_head"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(
        f"installing the Keras stack into {KERAS_VENV} ({', '.join(KERAS_PACKAGES)}); "
        "this may take minutes ...",
        flush=True,
    )
    try:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(KERAS_VENV)], check=True, capture_output=True
            )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *KERAS_PACKAGES],
            check=True,
            capture_output=True,
        )
        subprocess.run(check, check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"keras: install failed ({type(error).__name__}); continuing without it")
        return None
    return python


def time_v_fields(stderr: str) -> dict:
    """Peak RSS and wall time from `/usr/bin/time -v`'s report."""
    fields = {}
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if match:
        fields["peak_rss_mb"] = round(int(match.group(1)) / 1024, 1)
    match = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    if match:
        seconds = 0.0
        for part in match.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        fields["wall_seconds"] = round(seconds, 2)
    return fields


def run_timed(command: list[str], echo: bool) -> tuple[int, list[str], dict, float, str]:
    timer = shutil.which("time") and Path("/usr/bin/time").exists()
    full = ["/usr/bin/time", "-v", *command] if timer else command
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=err, text=True)
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if echo and not line.startswith("{"):
                print(f"  keras| {line.rstrip()}", flush=True)
        code = process.wait()
        err.seek(0)
        stderr = err.read()
    wall = time.perf_counter() - start
    return code, lines, time_v_fields(stderr) if timer else {}, wall, stderr


# attnclf's models and the Keras model each stands beside: the tutorial families are the same
# architecture as the Keras ones; attnclf's own two are what it offers in their place.
TUTORIAL_TRAINING = PRESETS["tutorial"].training
KERAS_COUNTERPART = {
    "self-attention": "self-attention",
    "multihead": "multihead",
    "tutorial-self-attention": "self-attention",
    "tutorial-multihead": "multihead",
}


def run_keras(
    data_path: Path,
    names: list[str],
    epochs: int,
    limit: int | None,
    save: Path | None = None,
) -> dict | None:
    python = keras_python()
    if python is None:
        return None
    npz = Path(tempfile.gettempdir()) / "attnclf-bench-imdb_10k_200.npz"
    print("keras: prepare.py (parsing the archive) ...", flush=True)
    code, _, prep_fields, prep_wall, stderr = run_timed(
        [str(python), str(KERAS_DIR / "prepare.py"), str(data_path), str(npz)], echo=True
    )
    if code != 0:
        print(f"keras: prepare.py failed ({stderr.strip().splitlines()[-1:]}); continuing")
        return None
    wrapper = [str(REPO / "tools" / "keras_seed_saved.py"), str(save)] if save else []
    command = [
        str(python),
        *(wrapper or [str(KERAS_DIR / "keras_seed.py")]),
        str(npz),
        *names,
        "--epochs",
        str(epochs),
    ]
    if limit:
        command += ["--limit", str(limit)]
    print("keras: keras_seed.py (training) ...", flush=True)
    code, lines, fields, wall, stderr = run_timed(command, echo=True)
    models = {}
    for line in lines:
        if line.startswith("{"):
            try:
                row = json.loads(line)
                models[row["model"]] = row
            except (ValueError, KeyError):
                pass
    if code != 0 or not models:
        tail = stderr.strip().splitlines()[-1:] if stderr.strip() else ["no output"]
        print(f"keras: keras_seed.py failed (exit {code}: {tail[0]}); continuing")
        if not models:
            return None
    return {
        "models": models,
        "prepare": {"seconds": round(prep_wall, 2), **prep_fields},
        "train": {"seconds": round(wall, 2), **fields},
        "wall_seconds": round(prep_wall + wall, 2),
        "peak_rss_mb": max(prep_fields.get("peak_rss_mb", 0), fields.get("peak_rss_mb", 0)) or None,
        "note": "keras_seed --limit takes the first N train and N test reviews; attnclf --limit "
        "a stratified N of each, of which 10% validate",
    }


# --- report -----------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _peaks(peaks: dict[str, float]) -> str:
    shown = " / ".join(f"{value:.0f} ({name})" for name, value in peaks.items())
    return f"{max(peaks.values()):.0f} GFLOP/s [{shown}]"


def report(result: dict) -> str:
    env, data = result["environment"], result["data"]
    out = [
        f"environment: {env['cpu']}"
        + (f" ({env['cpu_family']})" if env.get("cpu_family") else "")
        + f", {env['cores']} cores ({env['usable_cores']} usable), "
        f"torch threads {env['torch_threads']}; python {env['python']}, torch {env['torch']}, "
        f"numpy {env['numpy']}, attnclf {env['attnclf']}; training arithmetic "
        f"{', '.join(sorted({m['train_arithmetic'] for m in result['models'].values()}))}",
        f"CPU instruction sets: {', '.join(env['isa']) or 'unknown'}"
        + (
            f"; limited by {' '.join(f'{k}={v}' for k, v in env['isa_limits'].items())}"
            if env["isa_limits"]
            else ""
        )
        + f" (ATen kernels: {env['aten_capability']}); native bf16: "
        f"{'yes' if env['native_bf16'] else 'no'}; matrix-product peak measured in this run "
        f"({PEAK_MATMUL_SIZE}x{PEAK_MATMUL_SIZE}, {env['torch_threads']} threads, the larger of "
        f"torch's matmul and oneDNN's 1x1 convolution): fp32 {_peaks(env['fp32_peaks_gflops'])}"
        + (f", bf16 {_peaks(env['bf16_peaks_gflops'])}" if env["bf16_peaks_gflops"] else ""),
        "",
    ]
    cold = f"{data['cold_read_seconds']:.1f}" if "cold_read_seconds" in data else "not run"
    out.append(
        table(
            ["data", "value"],
            [
                [
                    "reviews (train / validation / test)",
                    f"{data['reviews']:,} ({data['train']:,} / {data['validation']:,}"
                    f" / {data['test']:,})",
                ],
                ["read, parsed-archive cache hit", f"{data['cached_read_seconds']:.1f} s"],
                [
                    "read, cold parse of the archive (--cold)",
                    cold + (" s" if "cold_read_seconds" in data else ""),
                ],
                [
                    "tokenise + build vocabulary + encode, all splits",
                    f"{data['tokenise_encode_seconds']:.1f} s "
                    f"({data['tokenise_encode_reviews_per_s']:,.0f} reviews/s)",
                ],
                [
                    "mean real tokens per review (train / test)",
                    f"{data['mean_tokens_train']} / {data['mean_tokens_test']}",
                ],
                [
                    "padding share of train batches (sorted; shuffled as trained)",
                    f"{data['train_padding_share_sorted']:.1%}; "
                    f"{data['train_padding_share_shuffled']:.1%}",
                ],
            ],
        )
    )
    out.append("")
    rows = []
    for name, m in result["models"].items():
        rows.append(
            [
                name,
                f"{m['params']:,}",
                f"{m['train_seconds']:.1f} ({' + '.join(f'{s:.1f}' for s in m['epoch_seconds'])})",
                f"{m['train_samples_per_s']:,.0f}",
                f"{m['test_accuracy']:.4f}",
                f"{m['infer_reviews_per_s']:,.0f}",
                f"{m['latency_ms']['p50']:.1f} / {m['latency_ms']['p95']:.1f}",
                f"{m['peak_rss_mb_process']:,.0f}",
                f"{m['forward_mflop_per_review']:.1f}",
                f"{m['train_gflops']:.1f} ({m['train_share_of_peak']:.0%} of "
                f"{m['train_peak_gflops']:.0f}, {m['train_arithmetic']})",
                f"{m['infer_gflops']:.1f} ({m['infer_share_of_peak']:.0%} of "
                f"{env['fp32_matmul_gflops']:.0f})",
            ]
        )
    out.append(
        table(
            [
                "model",
                "params",
                "train s (epochs)",
                "train samples/s",
                "test acc",
                f"inference reviews/s (batch {EVAL_BATCH_SIZE})",
                "latency p50 / p95 ms",
                "process peak RSS MB",
                "fwd MFLOP/review",
                "train GFLOP/s (share of the matmul peak of its arithmetic)",
                "inference GFLOP/s",
            ],
            rows,
        )
    )
    keras = result.get("keras")
    if keras:
        out += [
            "",
            "side by side with the tutorial's Keras stack (same invocation, one after the "
            "other; ratio = attnclf / keras):",
            "",
        ]
        rows = []
        for name, m in result["models"].items():
            k = keras["models"].get(KERAS_COUNTERPART.get(name, name))
            if not k:
                continue

            def ratio(a: float, b: float) -> str:
                return f"{a / b:.2f}" if b else "-"

            rows.append(
                [
                    name,
                    f"{m['train_seconds']:.1f} / {k['train_seconds']:.1f} = "
                    f"{ratio(m['train_seconds'], k['train_seconds'])}",
                    f"{m['train_samples_per_s']:,.0f} / {k['train_samples_per_s']:,.0f} = "
                    f"{ratio(m['train_samples_per_s'], k['train_samples_per_s'])}",
                    f"{m['infer_reviews_per_s']:,.0f} / {k['infer_samples_per_s']:,.0f} = "
                    f"{ratio(m['infer_reviews_per_s'], k['infer_samples_per_s'])}",
                    f"{m['test_accuracy']:.4f} / {k['test_accuracy']:.4f} = "
                    f"{ratio(m['test_accuracy'], k['test_accuracy'])}",
                    f"{k['train_size']:,} / {k['test_size']:,}",
                ]
            )
        out.append(
            table(
                [
                    "model",
                    "train s",
                    "train samples/s",
                    "inference reviews/s",
                    "test accuracy",
                    "keras train / test reviews",
                ],
                rows,
            )
        )
        a_wall, k_wall = result["attnclf_wall_seconds"], keras["wall_seconds"]
        out += [
            "",
            f"whole wall time (data + training + test evaluation of all models): attnclf "
            f"{a_wall:.1f} s / keras {k_wall:.1f} s = {a_wall / k_wall:.2f}; peak RSS "
            f"attnclf {result['peak_rss_mb_process']:,.0f} MB (whole benchmark process), "
            f"keras {keras.get('peak_rss_mb') or float('nan'):,.0f} MB (/usr/bin/time -v)",
        ]
    whole = result.get("compare")
    if whole:
        accuracy = ", ".join(f"{n} {a:.4f}" for n, a in whole["test_accuracy"].items())
        line = (
            f"the whole `{whole['command']}` (fresh process; report, plots and faithfulness "
            f"table included): {whole['wall_seconds']:.1f} s wall, "
            f"{whole.get('peak_rss_mb', float('nan')):,.0f} MB peak RSS; test accuracy {accuracy}"
        )
        if keras:
            line += (
                f"; / keras {keras['wall_seconds']:.1f} s = "
                f"{whole['wall_seconds'] / keras['wall_seconds']:.2f} of its wall time"
            )
        out += ["", line]
    out += ["", f"benchmark wall time: {result['wall_seconds']:.1f} s"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="the IMDB archive aclImdb_v1.tar.gz (default: %(default)s)",
    )
    parser.add_argument("--models", default="self-attention,multihead")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="N train and N test reviews (stratified), for quick runs",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also time a cold parse of the archive into a temporary ATTNCLF_HOME",
    )
    parser.add_argument(
        "--keras",
        action="store_true",
        help="also run the tutorial's Keras stack (keras_seed) in a venv",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also time the whole default `attnclf compare` command in a fresh process",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="arithmetic of the training steps (attnclf's --precision)",
    )
    parser.add_argument(
        "--isa",
        choices=["native", "avx2"],
        default="native",
        help="avx2: run everything (attnclf and the Keras stack) with oneDNN, ATen and MKL "
        "limited to AVX2, as on a CPU without AVX512 or native bf16 (%(default)s: the CPU's own)",
    )
    parser.add_argument(
        "--keras-save",
        type=Path,
        default=None,
        help="with --keras: save each Keras model as DIR/NAME.h5 with its test predictions "
        "(tools/keras_seed_saved.py), for benchmarks/keras_import_parity.py",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark.json"))
    args = parser.parse_args(argv)
    if args.isa == "avx2" and any(os.environ.get(k) != v for k, v in AVX2_ONLY.items()):
        # the limits are read when the libraries load: start again with them in place
        print(f"re-running with {' '.join(f'{k}={v}' for k, v in AVX2_ONLY.items())}", flush=True)
        env = {**os.environ, **AVX2_ONLY}
        rest = sys.argv[1:] if argv is None else argv
        return subprocess.run([sys.executable, __file__, *rest], env=env).returncode
    from attnclf.runtime.heap import tune_memory_allocator

    # What the attnclf command does at start; ATTNCLF_KEEP_MALLOC=1 measures without it.
    print(f"allocator tuned (attnclf.runtime.heap): {tune_memory_allocator()}", flush=True)

    data_path = args.data.resolve()
    if not data_path.exists():
        print(
            f"benchmark: no IMDB archive at {data_path}; pass --data PATH/aclImdb_v1.tar.gz",
            file=sys.stderr,
        )
        return 2
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    try:
        check_model_names(names)
    except AttnclfError as error:
        print(f"benchmark: {error}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    result: dict = {
        "command": " ".join(["benchmarks/benchmark.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "settings": {
            "data": str(data_path),
            "models": names,
            "epochs": args.epochs,
            "limit": args.limit,
            "batch_size": TrainConfig.batch_size,
            "precision": args.precision,
            "isa": args.isa,
        },
        "environment": environment(),
    }
    print(f"reading {data_path}{' (cold parse too)' if args.cold else ''} ...", flush=True)
    data, result["data"] = prepare(data_path, args.limit, args.cold)
    train_config = TrainConfig(epochs=args.epochs, precision=args.precision)
    result["models"] = {}
    for name in names:
        # the tutorial's exact models train as Keras did (the tutorial preset's settings)
        own = TUTORIAL_TRAINING.get(name, {})
        config = dataclasses.replace(train_config, **own) if own else train_config
        result["models"][name] = bench_model(name, data, config, result["environment"])
        result["models"][name]["training_overrides"] = dict(own)
    # comparable with keras' prepare + train + evaluate: the timed cache-hit read, vocabulary and
    # encoding, and each model's training, validation and test evaluation (no cold parse, no
    # cache-warming read, no latency probe)
    attnclf_wall = data.seconds + sum(m["train_eval_seconds"] for m in result["models"].values())
    result["attnclf_wall_seconds"] = round(attnclf_wall, 2)
    result["peak_rss_mb_process"] = round(peak_rss_mb(), 1)
    if args.compare:
        result["compare"] = run_compare_command(data_path, args.limit, args.precision)
    if args.keras:
        counterparts = list(dict.fromkeys(KERAS_COUNTERPART.get(n, n) for n in names))
        result["keras"] = run_keras(
            data_path, counterparts, args.epochs, args.limit, save=args.keras_save
        )
    result["wall_seconds"] = round(time.perf_counter() - start, 2)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print()
    print(report(result))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
