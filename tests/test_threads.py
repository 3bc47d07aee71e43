"""The threads PyTorch computes with: the usable cores less those other work keeps busy, and
never what the user set by hand."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from attnclf.cli import computing
from attnclf.errors import AttnclfError
from attnclf.runtime import threads


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("ATTNCLF_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_free_cores_are_all_used(two_cores):
    assert threads.choose_threads(busy=0.0) == (2, None)
    assert threads.choose_threads(busy=0.4) == (2, None)  # a browser tab idling takes no core


def test_a_core_other_work_keeps_busy_is_left_out_and_the_user_is_told(two_cores):
    chosen, why = threads.choose_threads(busy=1.0)
    assert chosen == 1
    assert why is not None and "1 of 2 cores" in why and "OMP_NUM_THREADS" in why


def test_at_least_one_thread_however_busy_the_machine(two_cores):
    assert threads.choose_threads(busy=7.5)[0] == 1


def test_the_choice_sets_torch_threads(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 1.0)
    lines = []
    assert threads.apply_thread_choice(lines.append) == 1
    assert torch.get_num_threads() == 1 and len(lines) == 1


def test_with_every_core_free_pytorch_keeps_its_own_choice(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 0.0)
    before = torch.get_num_threads()
    assert threads.apply_thread_choice() is None
    assert torch.get_num_threads() == before


def test_the_users_setting_is_obeyed(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "busy_elsewhere", lambda: 1.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.apply_thread_choice() is None
    monkeypatch.setenv("ATTNCLF_THREADS", "2")
    assert threads.apply_thread_choice() == 2 and torch.get_num_threads() == 2


def test_a_bad_thread_count_is_one_line(two_cores, monkeypatch):
    monkeypatch.setenv("ATTNCLF_THREADS", "lots")
    with pytest.raises(AttnclfError, match="ATTNCLF_THREADS='lots'") as caught:
        threads.apply_thread_choice()
    assert "\n" not in str(caught.value)


def test_before_torch_starts_the_choice_goes_into_omp_num_threads():
    code = (
        "import os, sys\n"
        "from attnclf.runtime import threads\n"
        "threads.busy_elsewhere = lambda: 1.0\n"
        "threads.usable_cores = lambda: 2\n"
        "assert threads.apply_thread_choice() == 1\n"
        "assert 'torch' not in sys.modules and os.environ['OMP_NUM_THREADS'] == '1'\n"
        "import torch\n"
        "assert torch.get_num_threads() == 1, torch.get_num_threads()\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "ATTNCLF_THREADS")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_a_busy_process_beside_us_is_seen():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert threads.busy_elsewhere(0.5) >= 0.5
    finally:
        spinner.kill()
        spinner.wait()


def test_only_commands_that_compute_look_at_the_load():
    assert computing(["train", "--data", "x.csv"]) and computing(["compare"])
    assert not computing([]) and not computing(["train", "--help"])
    assert not computing(["serve", "models/sa"]) and not computing(["--version"])
