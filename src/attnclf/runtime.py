"""Process-wide settings that make training and inference faster on the CPU.

glibc returns large freed blocks to the operating system at once (they are mmap-ed), so every
training step page-faults its LSTM buffers back in. Measured with `benchmarks/benchmark.py
--models self-attention --epochs 1` on a 2-core machine: 28.8 s per epoch with 19 s of system
time and 11.3M page faults; keeping freed memory in the heap (no mmap for large blocks, no
trimming) gave 22.2 s, 0.9 s of system time, 0.4M faults, the same accuracy, and inference
from 2,661 to 3,820 reviews/s, for 0.3 GB more peak memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h
_tuned = False


def tune_memory_allocator() -> bool:
    """Keep freed memory for reuse instead of handing it back to the kernel after every step.
    Linux with glibc only; `ATTNCLF_KEEP_MALLOC=1` leaves the allocator alone. True if applied."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("ATTNCLF_KEEP_MALLOC"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    _tuned = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _tuned
