"""Checking a params.yaml section before a stage uses it.

Stages pass their section of params.yaml to the library's config dataclasses
through :func:`from_section`, so every section rejects unknown keys and bad
values with the same one-line :class:`~explainrec.errors.ParamError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

from explainrec.errors import ParamError

T = TypeVar("T")


def check_section(section: Any, where: str, known: Iterable[str]) -> dict[str, Any]:
    """``section`` as a dict (None: empty), with no key outside ``known``."""
    known = sorted(known)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ParamError(where, "a mapping of the keys " + ", ".join(known), section)
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ParamError(f"{where}.{unknown[0]}", f"one of the keys {', '.join(known)}", unknown[0])
    return dict(section)


def from_section(cls: type[T], section: Any, where: str, **extra: Any) -> T:
    """Build the dataclass ``cls`` from a params section (its fields are the known keys)."""
    assert is_dataclass(cls)
    names = [f.name for f in fields(cls) if f.init and f.name not in extra]
    return cls(**check_section(section, where, names), **extra)


def check_layer(value: Any, where: str) -> int:
    """A profile layer: -1 (each node's last layer) or a layer number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise ParamError(where, "-1 (each node's last layer) or a layer number >= 0", value)
    return value


def check_count(value: Any, where: str, expected: str = "a positive integer", none_ok: bool = False) -> Any:
    """A positive integer (not a bool), or None when ``none_ok``; else a :class:`ParamError`
    naming ``where`` and ``expected``."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamError(where, expected, value)
    return value
