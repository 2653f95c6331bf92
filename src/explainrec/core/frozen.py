"""Freezing a language model: XRec trains adapters around a frozen LLM, RecPIE trains its
soft prompt and LoRA weights around one."""

from __future__ import annotations

from typing import Any


def freeze(model: Any) -> None:
    """No parameter of ``model`` trains (only what the method adds around it does)."""
    for p in model.parameters():
        p.requires_grad_(False)
