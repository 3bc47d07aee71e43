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
each evaluation pass), where the cost of faulting them in again is paid once, not every step.
Within a phase the holes still add up. Measured step by step (multihead, one epoch on IMDB,
AMD EPYC with bf16), the resident size between steps climbed by about 20 MB a step, from 550 MB
to 1,080 MB in 25 steps, while one step's own tensors took under 100 MB; how fast it climbs
depends on the order of the widths, and so does the peak, from run to run. Trimming more often
costs more than it saves: every step (multihead, one epoch) made the epoch 50% longer, trimming
whenever the process had grown 256 MB since the last trim made it 20% longer (22-24 s against
27-31 s, 3 runs each). So the trim every `train.TRIM_EVERY_STEPS` steps stays, and
`release_if_grown()`, called after every training step and every inference batch, is the
ceiling above it: it trims only once the process has grown past a bound (at first 512 MB past
its size after the last trim; now as below), which a usual run never reaches and an unlucky one
no longer passes.
Reading that size costs microseconds.

Measured again on 2026-12-03 by counting page faults per training step (AMD EPYC, 2 cores,
batches of 128 x 200 tokens), every step still faulted its buffers back in, three ways: a
step left more than 128 MB free at the heap's top, which glibc trimmed (87 MB a step for the
float32 self-attention model, 137 MB for multihead); the bf16 LSTM takes some buffers from
oneDNN's worker thread, which glibc served from a second arena of 64 MB heaps, unmapped as they
emptied (122 MB a step); and the growth ceiling, counted from just after a trim, counted one
step's own buffers as growth, so it trimmed 14-16 more times an epoch. Now the heap
keeps up to `HEAP_KEEP_MB` (384) at its top, every thread allocates from one arena
(`MALLOC_ARENAS`), and the ceiling counts `HEAP_GROWTH_MB` (256) from the first step after a
trim.
The default `attnclf compare` under AVX2 limits: 36.7M page faults and 106 s of system time
before, 9.8-12.3M and 31-37 s after, 279 s -> 213-240 s wall (three runs), same accuracy
(docs/results/speed.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8  # mallopt parameters, glibc's malloc.h
HEAP_KEEP_MB = 384
MALLOC_ARENAS = 1  # every thread allocates from the main heap (0: glibc's default, one a thread)
HEAP_GROWTH_MB = 256
_libc: ctypes.CDLL | None = None
_working_set_mb: float | None = None  # resident MB after the first step since a trim
_PAGE_MB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) / 2**20


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
    if MALLOC_ARENAS:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)  # before torch starts its threads
    if mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_MB * 2**20):
        _libc = libc
    return _libc is not None


def resident_mb() -> float:
    """This process's resident memory now, in MB (Linux; 0 where /proc is absent)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


def release_free_memory() -> None:
    """Give the free pages the tuned heap holds back to the kernel (glibc's malloc_trim);
    nothing where the allocator was left alone."""
    global _working_set_mb
    if _libc is not None:
        _libc.malloc_trim(0)
        _working_set_mb = None  # measured again after the next step


def release_if_grown() -> None:
    """`release_free_memory()` once the process holds `HEAP_GROWTH_MB` more than it did after
    the first step (or inference batch) that followed the last release: between steps of a
    phase, so that holes left by batches of other widths do not pile up (see the module's note).
    Counting from that step rather than from the trim itself leaves one step's own buffers out
    of the growth, so they are not handed back and faulted in again every few steps."""
    global _working_set_mb
    if _libc is None:
        return
    resident = resident_mb()
    if _working_set_mb is None:
        _working_set_mb = resident
    elif resident > _working_set_mb + HEAP_GROWTH_MB:
        release_free_memory()
