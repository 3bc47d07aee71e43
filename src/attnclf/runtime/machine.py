"""The machine in the words a results table quotes: the CPU's name, its generation and the
instruction sets that decide attnclf's speed (native bfloat16 training or not)."""

from __future__ import annotations

import platform
from pathlib import Path

ISA_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX512",
    "avx512_bf16": "AVX512-BF16",
    "amx_bf16": "AMX-BF16",
}


def _first_processor() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo, key -> value; empty off Linux."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if not line.strip():
            if found:
                break
            continue
        key, _, value = line.partition(":")
        found.setdefault(key.strip(), value.strip())
    return found


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8488C")."""
    return _first_processor().get("model name") or platform.processor() or platform.machine()


def cpu_isa() -> list[str]:
    """The instruction sets among ISA_FLAGS that this CPU has."""
    flags = set(_first_processor().get("flags", "").split())
    return [name for flag, name in ISA_FLAGS.items() if flag in flags]


def cpu_family() -> str:
    """'family F model M': a virtual CPU's model name is often just 'AMD EPYC', and the family
    tells its generation (AMD: 25 Zen 3/4, 26 Zen 5)."""
    info = _first_processor()
    if "cpu family" in info and "model" in info:
        return f"family {info['cpu family']} model {info['model']}"
    return ""


def cpu_description() -> str:
    """One line for a results table: 'AMD EPYC (family 25 model 1): AVX2'."""
    family = cpu_family()
    isa = ", ".join(cpu_isa()) or "no AVX2"
    return f"{cpu_model()}{f' ({family})' if family else ''}: {isa}"
