"""Errors that a stage turns into a one-line message and a non-zero exit.

Every error raised for bad input or a bad parameter names *where* (file or
param), *what* (field) and *what was expected*, so the user can fix it
without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ExplainrecError(Exception):
    """Base class: the message is complete and fits on one line."""


class InputError(ExplainrecError):
    """A data file that does not have the expected content."""

    def __init__(self, path: str | Path, field: str, expected: str, got: object = None, line: int | None = None):
        self.path, self.field, self.expected, self.got, self.line = str(path), field, expected, got, line
        where = f"{path}:{line}" if line is not None else f"{path}"
        msg = f"{where}: field '{field}': expected {expected}"
        if got is not None:
            shown = repr(got)
            msg += f", got {shown[:80] + '...' if len(shown) > 80 else shown}"
        super().__init__(msg)


class ParamError(ExplainrecError):
    """A parameter (params.yaml entry or function argument) with a bad value."""

    def __init__(self, param: str, expected: str, got: object = None):
        self.param, self.expected, self.got = param, expected, got
        msg = f"param '{param}': expected {expected}"
        if got is not None:
            msg += f", got {got!r}"
        super().__init__(msg)


class AssetError(ExplainrecError):
    """A model or data asset that cannot be obtained or fails its checksum."""


class LLMUnavailable(ExplainrecError):
    """A language model that cannot be reached or loaded."""
