"""What machine a figure was measured on: CPU model, AMX, threads, device and dtype.

Every LLM stage's metrics carry these facts (through ``LLMStats.as_metrics``), and
the benchmarks print them, so figures from two machines are never put in one ratio:
the same default run takes about five times longer on a 2-core CPU without AMX
(bfloat16 in hardware) than on one with it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_has_amx_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX tiles)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private, hence the guard
    try:
        return bool(probe and probe())
    except Exception:  # noqa: BLE001 - a failed probe means "no"
        return False


def machine_facts(device: str = "cpu", dtype: Any = None) -> dict[str, Any]:
    """CPU model, AMX, cores, torch threads, and the device and dtype the model runs in."""
    import torch

    facts: dict[str, Any] = {
        "cpu": cpu_model(),
        "amx": cpu_has_amx_bf16(),
        "cores": os.cpu_count() or 1,
        "threads": torch.get_num_threads(),
        "device": device,
        "dtype": str(dtype).replace("torch.", "") if dtype is not None else None,
    }
    if str(device).startswith("cuda") and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return facts
