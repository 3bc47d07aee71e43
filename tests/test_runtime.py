"""The allocator setting applied at command start."""

from __future__ import annotations

import sys

import pytest

from attnclf import runtime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's, on Linux")
def test_the_allocator_is_tuned_once_and_can_be_left_alone(monkeypatch):
    monkeypatch.setattr(runtime, "_tuned", False)
    monkeypatch.setenv("ATTNCLF_KEEP_MALLOC", "1")
    assert runtime.tune_memory_allocator() is False
    monkeypatch.delenv("ATTNCLF_KEEP_MALLOC")
    assert runtime.tune_memory_allocator() is True
    assert runtime.tune_memory_allocator() is True  # a second call changes nothing
