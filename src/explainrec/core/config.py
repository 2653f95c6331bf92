"""The one way a stage reads its section of params.yaml.

Each section has a frozen dataclass in the library whose fields are the
section's keys and whose defaults are the values in params.yaml
(``tests/test_config.py`` asserts that the two agree). A stage builds it with
:func:`from_section`, which rejects unknown keys, lets the dataclass check its
values in ``__post_init__`` with the ``check_*`` helpers below, and names the
bad key with its full dotted path (``cpeg.max_retries``) in the one-line
:class:`~explainrec.core.errors.ParamError`. The dataclasses raise with the bare
field name, so a test can build one directly and a section nested anywhere
(``ablations.wo_sft``) gets the right name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

from explainrec.core.errors import ParamError

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
    """Build the dataclass ``cls`` from the params section at ``where``.

    Its init fields are the known keys, less those given in ``extra`` (values
    that do not come from the section, such as the seed); a ParamError the
    dataclass raises for a field is re-raised under ``where.<field>``.
    """
    assert is_dataclass(cls)
    init = [f for f in fields(cls) if f.init and f.name not in extra]
    values = check_section(section, where, [f.name for f in init])
    for f in init:
        if f.name not in values and f.default is MISSING and f.default_factory is MISSING:
            raise ParamError(f"{where}.{f.name}", "a value (the key is required)")
    try:
        return cls(**values, **extra)
    except ParamError as exc:
        raise ParamError(f"{where}.{exc.param}", exc.expected, exc.got) from None


def check_int(value: Any, name: str, low: int = 1, *, none_ok: bool = False, expected: str | None = None) -> Any:
    """An integer (not a bool) >= ``low``, or None when ``none_ok``."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        if expected is None:
            expected = "a positive integer" if low == 1 else f"an integer >= {low}"
            if none_ok:
                expected += ", or null"
        raise ParamError(name, expected, value)
    return value


def check_number(value: Any, name: str, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False, none_ok: bool = False, expected: str | None = None) -> Any:
    """A number (not a bool) in the interval from ``low`` to ``high`` (closed unless ``*_open``)."""
    if value is None and none_ok:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        if expected is None:
            expected = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
            if none_ok:
                expected += ", or null"
        raise ParamError(name, expected, value)
    return value


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ParamError(name, "true or false", value)
    return value


#: the dtypes a local model may run in (``auto``: see :func:`explainrec.llm.local.pick_dtype`)
DTYPES = ("auto", "float32", "bfloat16", "float16")


def check_device(value: Any, name: str = "device") -> str:
    """A torch device name: auto (a CUDA GPU when there is one, else the CPU), cpu, mps, cuda or cuda:N."""
    import re

    if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        raise ParamError(name, "auto, cpu, mps, cuda or cuda:N", value)
    return value


def resolve_device(value: str) -> str:
    """``auto`` -> ``cuda`` where torch sees a GPU, else ``cpu``; any other name as it is."""
    if value != "auto":
        return value
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_choice(value: Any, name: str, choices: Collection[str]) -> Any:
    if value not in choices:
        raise ParamError(name, f"one of {', '.join(choices)}", value)
    return value


def check_layer(value: Any, name: str) -> int:
    """A profile layer: -1 (each node's last layer) or a layer number >= 0."""
    return check_int(value, name, -1, expected="-1 (each node's last layer) or a layer number >= 0")


def check_path(value: Any, name: str, what: str, none_ok: bool = True) -> Any:
    """A non-empty path string (a local folder or file), or None when ``none_ok``."""
    if value is None and none_ok:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ParamError(name, what + (", or null" if none_ok else ""), value)
    return value
