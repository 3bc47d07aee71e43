"""The server's settings: its limits, who it answers, its batching and the threads of a forward
pass (each an option of `attnclf serve`)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits and batching; each is an option of `attnclf serve`."""

    max_texts: int = 64  # texts per request
    max_text_chars: int = 20_000  # characters per text (the longest IMDB review has 13,704)
    max_body_bytes: int = 1 << 20  # bytes per request body
    max_explain_texts: int = 16  # texts per /explain request (gradients cost a pass per step)
    # texts x distinct models x steps per /explain request: one step for the prediction, one for
    # gradient x input, ig_steps for integrated gradients. 16 texts at 128 steps took about 3 s
    # of the inference thread, so this is about 12 s at most.
    max_explain_steps: int = 8192
    # Host names the server answers besides localhost, 127.0.0.1 and ::1 (a DNS-rebinding page
    # names its own); "*" answers any, "*.example.org" any subdomain
    allowed_hosts: tuple[str, ...] = ()
    # seconds a client has to send a request's headers, and then its body (slowloris)
    read_timeout: float = 10.0
    batching: bool = True
    max_batch_size: int = 64  # texts per forward pass
    batch_window_ms: float = 5.0  # how long a request waits for others to join it
    # PyTorch's intra-op threads in a forward pass; 0: one fewer than the cores (at least one),
    # leaving a core to the event loop that parses and answers requests
    threads: int = 0


def inference_threads(settings: ServeSettings) -> int:
    """The threads a forward pass uses: `settings.threads`, or one fewer than the cores this
    process may run on. On 2 cores PyTorch's two threads fought the event loop for them: one
    thread served twice the texts/s unbatched (docs/guides/serving.md)."""
    if settings.threads:
        return settings.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) - 1)
