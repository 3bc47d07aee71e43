"""The allocator setting applied at command start, and the release of what it keeps."""

from __future__ import annotations

import sys

import pytest

from attnclf import allocator

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="mallopt and malloc_trim are glibc's, on Linux"
)


@linux_only
def test_the_allocator_is_tuned_once_and_can_be_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_libc", None)
    monkeypatch.setenv("ATTNCLF_KEEP_MALLOC", "1")
    assert allocator.tune_memory_allocator() is False
    allocator.release_free_memory()  # left alone: nothing to release, and no error
    monkeypatch.delenv("ATTNCLF_KEEP_MALLOC")
    assert allocator.tune_memory_allocator() is True
    assert allocator.tune_memory_allocator() is True  # a second call changes nothing


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@linux_only
def test_the_allocator_reads_this_process_resident_size():
    assert abs(allocator.resident_mb() - resident_mb()) < 20


@linux_only
def test_freed_memory_goes_back_to_the_kernel_between_phases(monkeypatch):
    monkeypatch.setattr(allocator, "_libc", None)
    assert allocator.tune_memory_allocator()
    import torch

    blocks = [torch.ones(2**20) for _ in range(200)]  # 800 MB in 4 MB blocks, kept in the heap
    keep = torch.ones(10)  # a small live block above them stops the heap's top from shrinking
    held = resident_mb()
    del blocks
    allocator.release_free_memory()
    assert resident_mb() < held - 600
    assert keep.sum().item() == 10


def test_free_memory_is_released_between_steps_only_once_it_has_grown_past_the_ceiling(
    monkeypatch,
):
    trims: list[float] = []
    resident = [1_000.0]  # MB, as /proc/self/statm would say

    class GlibcStandIn:
        def malloc_trim(self, pad: int) -> None:
            trims.append(resident[0])
            resident[0] -= 200  # what the trim handed back

    monkeypatch.setattr(allocator, "_libc", GlibcStandIn())
    monkeypatch.setattr(allocator, "resident_mb", lambda: resident[0])
    monkeypatch.setattr(allocator, "HEAP_GROWTH_MB", 300)
    allocator.release_free_memory()  # growth counts from the 800 MB this leaves
    resident[0] = 1_050.0
    allocator.release_if_grown()
    assert trims == [1_000.0]  # 250 MB over: kept for reuse
    resident[0] = 1_150.0
    allocator.release_if_grown()
    assert trims == [1_000.0, 1_150.0]  # 350 MB over: handed back, down to 950 MB
    resident[0] = 1_200.0
    allocator.release_if_grown()
    assert len(trims) == 2  # counted from the 950 MB after the last trim


def test_the_ceiling_is_left_alone_with_the_allocator(monkeypatch):
    monkeypatch.setattr(allocator, "_libc", None)
    monkeypatch.setattr(allocator, "resident_mb", lambda: 10.0**6)
    allocator.release_if_grown()  # nothing to trim, and no error
