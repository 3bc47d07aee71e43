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
27-31 s, 3 runs each). So a trim every 25 training steps stayed (since removed, see below),
and `release_if_grown()`, called after every training step and every inference batch, was the
ceiling above it: it trims only once the process has grown past a bound (at first 512 MB past
its size after the last trim; now as below). Reading that size costs microseconds.

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
(README, Speed).

Counted again step by step later that day (multihead, float32, 2 epochs), the remaining faults
were the trims themselves: the trim every 25 steps, and the growth ceiling, which fired 57 times
in 351 steps because the first step after a trim is often a narrow batch, so its size is no
measure of what the wide ones need (the size between steps swung from 700 to 1,050 MB with no
fragmentation at all). Each trim faulted 100-150K pages back in over the next steps: 9.6M
faults, 31 s of system time. With no trims within the epoch, the heap stayed at 694-719 MB
(the resident size at or under 993 MB) on 200-token batches; with 800-token ones it still grew,
from 1.1 to 3.6 GB in one epoch. So the ceiling now counts from the largest size of the first
`WORKING_SET_STEPS` steps (or inference batches) after a trim, which have seen most widths, and
there is no trim on a schedule: a trim within a phase comes only from growth past that
(`HEAP_GROWTH_MB`, 256). The peak is set while training and moves from run to run with the
heap's layout: 1,143-1,410 MB over four runs of `attnclf compare` under AVX2 limits, 1,091-1,261
MB over three native ones. A tighter ceiling did not lower it: 128 MB gave 1,293, 1,692 (AVX2
limits) and 1,504 MB (native), with more trims and faults.
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
WORKING_SET_STEPS = 16  # steps after a trim whose largest resident size is the working set
_libc: ctypes.CDLL | None = None
_working_set_mb = 0.0  # the largest resident MB after a step so far since the last trim
_steps_since_trim = 0
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
    global _working_set_mb, _steps_since_trim
    if _libc is not None:
        _libc.malloc_trim(0)
        _working_set_mb, _steps_since_trim = 0.0, 0  # measured again over the next steps


def release_if_grown() -> None:
    """`release_free_memory()` once the process holds `HEAP_GROWTH_MB` more than the largest
    size it had after any of the first `WORKING_SET_STEPS` steps (or inference batches) since
    the last release. Called between the steps of a phase, so that holes left by batches of
    other widths do not pile up (see the module's note). Counting from that working set, not
    from one step, keeps a wide batch's own buffers out of the growth, so they are not handed
    back and faulted in again a few steps later."""
    global _working_set_mb, _steps_since_trim
    if _libc is None:
        return
    resident = resident_mb()
    if _steps_since_trim < WORKING_SET_STEPS:
        _working_set_mb = max(_working_set_mb, resident)
        _steps_since_trim += 1
    elif resident > _working_set_mb + HEAP_GROWTH_MB:
        release_free_memory()
