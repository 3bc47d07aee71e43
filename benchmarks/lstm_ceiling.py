"""How fast can the LSTM of each tutorial model run on this CPU, on its own? The ceiling on
training and inference speed, since the LSTM is nearly all of a float32 step.

    python benchmarks/lstm_ceiling.py               # the CPU as it is
    python benchmarks/lstm_ceiling.py --isa avx2    # oneDNN, ATen and MKL limited to AVX2

For each model's LSTM shape (128 reviews of 200 tokens, 128-wide embeddings; self-attention: two
directions of 64 units, multihead: one of 128), it times forward + backward (training) and
forward alone on 256 reviews (inference) in float32, with oneDNN's LSTM (what PyTorch uses on
a CPU) and with PyTorch's own (oneDNN off), and prints GFLOP/s beside the CPU's fp32 matrix-product
peak measured in the same run (benchmark.matmul_peaks_gflops). A script, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings

# benchmark.AVX2_ONLY, repeated: that module imports torch, and the limits must come first
AVX2_ONLY = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}
TOKENS, EMBEDDING = 200, 128
SHAPES = {"self-attention (per direction)": 64, "multihead": 128}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=["native", "avx2"], default="native")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.isa == "avx2" and any(os.environ.get(k) != v for k, v in AVX2_ONLY.items()):
        # the limits must be in place before torch loads
        env = {**os.environ, **AVX2_ONLY}
        return subprocess.call([sys.executable, *sys.argv], env=env)

    import torch
    from torch import nn

    # torch.backends.mkldnn.flags() also sets a TF32 flag that only Intel GPUs use, and says so
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")

    def median_seconds(run, repeats: int) -> float:
        for _ in range(2):
            run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    from benchmark import PEAK_MATMUL_SIZE, matmul_peaks_gflops

    peaks = matmul_peaks_gflops(torch.float32)
    peak = max(peaks.values())
    limits = " ".join(f"{k}={os.environ[k]}" for k in AVX2_ONLY if k in os.environ)
    print(
        f"{torch.get_num_threads()} threads, ATen kernels {torch.backends.cpu.get_cpu_capability()}"
        f"{', ' + limits if limits else ''}; fp32 matrix-product peak ({PEAK_MATMUL_SIZE}x"
        f"{PEAK_MATMUL_SIZE}): {peak:.0f} GFLOP/s "
        f"(torch matmul {peaks['matmul']:.0f}, "
        f"oneDNN 1x1 convolution {peaks['onednn_conv1x1']:.0f})"
    )
    print("| LSTM | units | LSTM code | training GFLOP/s (share) | inference GFLOP/s (share) |")
    print("| --- | --- | --- | --- | --- |")
    torch.manual_seed(0)
    for name, hidden in SHAPES.items():
        lstm = nn.LSTM(EMBEDDING, hidden, batch_first=True)
        per_token = 4 * (EMBEDDING + hidden) * hidden * 2  # forward FLOPs of one token
        train_x = torch.randn(128, TOKENS, EMBEDDING, requires_grad=True)
        infer_x = torch.randn(256, TOKENS, EMBEDDING)

        def train_step(lstm: nn.LSTM = lstm, x: torch.Tensor = train_x) -> None:
            lstm(x)[0].sum().backward()

        def infer_step(lstm: nn.LSTM = lstm, x: torch.Tensor = infer_x) -> None:
            with torch.inference_mode():
                lstm(x)

        for code, enabled in (("oneDNN", True), ("PyTorch's own", False)):
            with torch.backends.mkldnn.flags(enabled=enabled):
                train = 3 * per_token * 128 * TOKENS / median_seconds(train_step, args.repeats)
                infer = per_token * 256 * TOKENS / median_seconds(infer_step, args.repeats)
            print(
                f"| {name} | {hidden} | {code} | {train / 1e9:.1f} ({train / 1e9 / peak:.0%}) "
                f"| {infer / 1e9:.1f} ({infer / 1e9 / peak:.0%}) |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
