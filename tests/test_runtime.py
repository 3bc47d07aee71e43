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


@linux_only
def test_free_memory_is_released_between_steps_only_once_it_has_grown_past_the_ceiling(
    monkeypatch,
):
    monkeypatch.setattr(allocator, "_libc", None)
    assert allocator.tune_memory_allocator()
    monkeypatch.setattr(allocator, "HEAP_GROWTH_MB", 300)
    import torch

    allocator.release_free_memory()  # the size after this release is where growth counts from
    keep = []

    def grow_and_free(megabytes: int) -> float:
        blocks = [torch.ones(2**20) for _ in range(megabytes // 4)]  # 4 MB blocks, in the heap
        keep.append(torch.ones(10))  # a live block above them keeps the heap's top in place
        del blocks
        held = resident_mb()
        allocator.release_if_grown()
        return held - resident_mb()  # what the call gave back

    assert grow_and_free(100) < 50  # 100 MB held: under the ceiling, kept for reuse
    assert grow_and_free(600) > 400  # 600 MB more: past it, handed back
    assert grow_and_free(100) < 50  # counted from the release just made
