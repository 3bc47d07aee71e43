"""Training across processes with PyTorch's own stack: `torchrun` starts the processes and
DistributedDataParallel averages their gradients (gloo on CPUs, NCCL on GPUs, chosen here).

    torchrun --nproc-per-node 2 -m attnclf train --data PATH --out models/sa

Each step's global batch (`--batch-size`, length-bucketed as in one process, from the same
seeded order) is split across the ranks; each rank's loss is scaled so that DDP's average of the
gradients is the gradient of the global batch's mean loss, so N processes follow the same path
as one process with the same batch and seed (up to float summation order, and dropout masks,
which each rank draws for its own rows). Rank 0 alone logs, writes checkpoints and the model
folder; every rank resumes from the same checkpoint. Outside torchrun nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ..errors import AttnclfError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def start(device: str = "auto") -> World:
    """Join the process group torchrun set up (once), with gloo on the CPU or NCCL on CUDA, and
    give each process its share of the cores (or its own GPU). One process: nothing to join."""
    if not launched_by_torchrun():
        return World()
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        on_gpu = device != "cpu" and torch.cuda.is_available()
        if on_gpu:
            gpus = torch.cuda.device_count()
            if local_size > gpus:  # NCCL refuses two ranks on one GPU, with a long traceback
                raise AttnclfError(
                    f"{local_size} processes on this machine but {gpus} GPU"
                    f"{'s' if gpus > 1 else ''}: each process needs its own; use "
                    f"--nproc-per-node {gpus}, or --device cpu to train on the cores"
                )
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if on_gpu else "gloo")
        # N processes on one machine would each take every core and slow each other down
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, (cores or 1) // local_size))
    return current()


def current() -> World:
    """The world of this process: one process unless a process group is running."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(
        rank=dist.get_rank(),
        size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(dist.get_world_size()))),
    )


def shard(index: np.ndarray, world: World) -> np.ndarray:
    """This rank's rows of a global batch: every size-th row from its rank (rows are sorted by
    length within a batch, so each rank gets texts of every length there)."""
    return index[world.rank :: world.size] if world.distributed else index


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """The element-wise sum of `values` over the ranks (the values themselves in one process)."""
    if not current().distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier() -> None:
    if current().distributed:
        dist.barrier()


def gather_rng_states() -> list[torch.Tensor]:
    """Every rank's CPU generator state, in rank order (for a checkpoint to resume each)."""
    state = torch.get_rng_state()
    if not current().distributed:
        return [state]
    states: list[torch.Tensor | None] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return [s for s in states if s is not None]


def stop() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
