"""Settings that make training and inference faster: the C allocator, and the arithmetic
precision of training steps.

glibc returns large freed blocks to the operating system at once (they are mmap-ed), so every
training step page-faults its LSTM buffers back in. Measured with `benchmarks/benchmark.py
--models self-attention --epochs 1` on a 2-core machine: 28.8 s per epoch with 19 s of system
time and 11.3M page faults; keeping freed memory in the heap (no mmap for large blocks) gave
22.2 s, 0.9 s of system time, 0.4M faults, the same accuracy, and inference from 2,661 to
3,820 reviews/s.

Kept without a bound, though, the heap grows with fragmentation (batches of 25 widths free and
reuse blocks of many sizes): the peak resident memory of the same `attnclf compare` was 1.2 GB
in one run and 2.4 GB in another. So the heap keeps at most `HEAP_KEEP_MB` free at its top, and
`release_free_memory()` hands every free page back between phases (after each epoch, around
each evaluation pass), where the cost of faulting them in again is paid once, not every step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from .errors import AttnclfError

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h
HEAP_KEEP_MB = 128
_libc: ctypes.CDLL | None = None


def tune_memory_allocator() -> bool:
    """Keep freed memory for reuse (up to `HEAP_KEEP_MB` at the heap's top) instead of handing
    it back to the kernel after every step. Linux with glibc only; `ATTNCLF_KEEP_MALLOC=1`
    leaves the allocator alone. True if applied."""
    global _libc
    if _libc is not None:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("ATTNCLF_KEEP_MALLOC"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.malloc_trim  # noqa: B018 (glibc's; musl and others have neither)
    except (OSError, AttributeError):
        return False
    if mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_MB * 2**20):
        _libc = libc
    return _libc is not None


def release_free_memory() -> None:
    """Give the free pages the tuned heap holds back to the kernel (glibc's malloc_trim);
    nothing where the allocator was left alone."""
    if _libc is not None:
        _libc.malloc_trim(0)


@functools.cache
def bf16_is_native(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware (else autocast to it would be slower, or
    fail). On a CPU the flags are not enough: oneDNN may be limited to AVX2
    (`ONEDNN_MAX_CPU_ISA=AVX2`) on a CPU that has AVX512-BF16, and then it cannot build a bf16
    LSTM, so a tiny LSTM step under bf16 autocast is tried once and its answer kept."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):
        return False
    return _bf16_lstm_step_runs()


def _bf16_lstm_step_runs() -> bool:
    generator_state = torch.random.get_rng_state()  # the probe must not shift a seeded run
    try:
        lstm = nn.LSTM(8, 8, batch_first=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            states, _ = lstm(torch.randn(2, 3, 8))
        states.float().sum().backward()
        return True
    except RuntimeError:
        return False
    finally:
        torch.random.set_rng_state(generator_state)


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto" becomes "bf16" where the hardware has it, else "fp32"; "bf16" where the
    hardware lacks it is an error (emulated bf16 would be slower than float32)."""
    if precision == "auto":
        return "bf16" if bf16_is_native(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise AttnclfError(f"unknown precision {precision!r}; use auto, fp32 or bf16")
    if precision == "bf16" and not bf16_is_native(device):
        raise AttnclfError(
            f"--precision bf16 needs native bfloat16, which this {device.type.upper()} lacks "
            "(or oneDNN is limited below it); use --precision fp32, or auto to pick for you"
        )
    return precision


def mixed_precision(precision: str, device: torch.device) -> AbstractContextManager:
    """The autocast context for a training step at `precision` ("fp32": none)."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
