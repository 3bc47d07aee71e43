"""Where and how the code runs, for training and inference alike: the device, the seeds and the
arithmetic precision of training steps (the C allocator's setting is in allocator.py)."""

from __future__ import annotations

import functools
import random
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
from torch import nn

from ..errors import AttnclfError


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" is CUDA when there is a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AttnclfError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AttnclfError(
            f"--device {name} asked for, but PyTorch sees no CUDA GPU; use auto or cpu"
        )
    return device


def seed_everything(seed: int) -> None:
    """Python's, NumPy's and PyTorch's generators, for a run that repeats exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@functools.cache
def bf16_is_native(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware (else autocast to it would be slower, or
    fail). On a CPU the flags are not enough: oneDNN may be limited to AVX2
    (`ONEDNN_MAX_CPU_ISA=AVX2`) on a CPU that has AVX512-BF16, and then it cannot build a bf16
    LSTM, so a tiny LSTM step under bf16 autocast is tried once and its answer kept."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):
        return False
    return _bf16_lstm_step_runs()


def _bf16_lstm_step_runs() -> bool:
    generator_state = torch.random.get_rng_state()  # the probe must not shift a seeded run
    try:
        lstm = nn.LSTM(8, 8, batch_first=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            states, _ = lstm(torch.randn(2, 3, 8))
        states.float().sum().backward()
        return True
    except RuntimeError:
        return False
    finally:
        torch.random.set_rng_state(generator_state)


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto" becomes "bf16" where the hardware has it, else "fp32"; "bf16" where the
    hardware lacks it is an error (emulated bf16 would be slower than float32)."""
    if precision == "auto":
        return "bf16" if bf16_is_native(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise AttnclfError(f"unknown precision {precision!r}; use auto, fp32 or bf16")
    if precision == "bf16" and not bf16_is_native(device):
        raise AttnclfError(
            f"--precision bf16 needs native bfloat16, which this {device.type.upper()} lacks "
            "(or oneDNN is limited below it); use --precision fp32, or auto to pick for you"
        )
    return precision


def mixed_precision(precision: str, device: torch.device) -> AbstractContextManager:
    """The autocast context for a training step at `precision` ("fp32": none)."""
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def compact_recurrent_weights(model: nn.Module) -> None:
    """Put each LSTM's weights of `model` back into the one block cuDNN reads. A copy of a model
    on a GPU (the moving average of the weights is a deep copy) has them apart, and cuDNN then
    warns and compacts them again at every call. No effect on the CPU."""
    for module in model.modules():
        if isinstance(module, nn.RNNBase):
            module.flatten_parameters()
