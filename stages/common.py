"""What every stage shares: reading params.yaml and turning errors into one line.

Stages are thin: they read their section of params.yaml and their paths, call
one typed function of the ``explainrec`` library, and write outputs. The
library itself never reads params.yaml.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from explainrec.errors import ExplainrecError, ParamError

PARAMS = "params.yaml"


def load_params(path: str | Path = PARAMS) -> dict[str, Any]:
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ParamError(str(path), "a params file (run from the repository root)") from exc
    except yaml.YAMLError as exc:
        raise ParamError(str(path), f"valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(params, dict):
        raise ParamError(str(path), "a mapping of sections")
    return params


def section(params: dict[str, Any], key: str) -> Any:
    if key not in params:
        raise ParamError(key, f"a '{key}' entry in {PARAMS}")
    return params[key]


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print an ExplainrecError as ``error: ...`` on one line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ExplainrecError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper
