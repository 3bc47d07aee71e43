"""How many threads PyTorch computes with, chosen from the cores that other work leaves free.

PyTorch starts one thread per core, and every parallel region ends at a barrier that waits for
its slowest thread. When another process is busy on one of the cores, the thread that shares
that core gets a time slice now and then, and each of the thousands of regions of a training
step (the LSTM's are per time step) waits for it: measured on 2 cores beside one busy process,
one epoch ran 10-20 times slower with 2 threads than with 1. So before a command computes, the
load of the last moment is read from /proc/stat, and the cores busy with other work are left
out. An explicit `OMP_NUM_THREADS` or `ATTNCLF_THREADS` is always obeyed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import AttnclfError

SAMPLE_SECONDS = 0.2  # how long the load is watched before choosing
# a core counts as taken when other work keeps it this busy (a browser tab idling is not)
BUSY_SHARE = 0.5


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cpu_jiffies(stat: Path = Path("/proc/stat")) -> tuple[int, int] | None:
    """(busy, total) jiffies of every CPU together, from the first line of /proc/stat."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(value) for value in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


def _own_jiffies() -> float:
    times = os.times()
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


def busy_elsewhere(
    seconds: float = SAMPLE_SECONDS, sleep: Callable[[float], None] = time.sleep
) -> float:
    """How many cores other processes kept busy over the next `seconds`, 0.0 where the system
    does not say (no /proc/stat)."""
    before, own_before = _cpu_jiffies(), _own_jiffies()
    sleep(seconds)
    after, own_after = _cpu_jiffies(), _own_jiffies()
    if before is None or after is None or after[1] <= before[1]:
        return 0.0
    busy, total = after[0] - before[0], after[1] - before[1]
    others = max(0.0, busy - (own_after - own_before))
    return others / total * (os.cpu_count() or 1)


def choose_threads(busy: float | None = None) -> tuple[int, str | None]:
    """(threads, why): the usable cores less those other work keeps busy, at least one; `why`
    is a line to show the user when fewer threads than cores were chosen, else None."""
    cores = usable_cores()
    if busy is None:
        busy = busy_elsewhere()
    taken = min(cores - 1, int(busy + (1 - BUSY_SHARE)))  # a core at >= 50% counts as taken
    if taken <= 0:
        return cores, None
    threads = cores - taken
    return threads, (
        f"computing with {threads} of {cores} cores: other work keeps {busy:.1f} busy "
        "(set OMP_NUM_THREADS to choose)"
    )


def apply_thread_choice(log: Callable[[str], None] | None = None) -> int | None:
    """Compute with `choose_threads()` threads unless the user chose (OMP_NUM_THREADS, or
    ATTNCLF_THREADS=N). Before torch is imported this sets OMP_NUM_THREADS, which PyTorch reads
    when it starts; after, torch.set_num_threads. Returns the threads set, None when left as
    they were."""
    asked = os.environ.get("ATTNCLF_THREADS")
    if asked is None and os.environ.get("OMP_NUM_THREADS"):
        return None
    if asked is not None:
        if not asked.strip().isdigit() or int(asked) < 1:
            raise AttnclfError(
                f"ATTNCLF_THREADS={asked!r} is not a number of threads; set 1 or more"
            )
        threads, why = int(asked), None
    else:
        threads, why = choose_threads()
        if why is None:
            return None  # every core is free: PyTorch's own choice stands
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    if why and log is not None:
        log(why)
    return threads
