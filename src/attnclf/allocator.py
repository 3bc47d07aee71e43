"""The C allocator's setting, applied when a command starts; no torch is imported here.

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
each evaluation pass), where the cost of faulting them in again is paid once, not every step,
and every `train.TRIM_EVERY_STEPS` (25) steps within an epoch: one epoch of multihead on 800
tokens (`attnclf train --model multihead --max-len 800 --vocab-size 50000 --epochs 1`) peaked at
4.5 GB with trims between phases only, 1.7 GB with them every 25 steps (35 s of training both;
1.4 GB and 44 s with glibc's own setting).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

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
