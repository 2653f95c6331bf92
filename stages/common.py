"""What every stage shares: reading params.yaml, its path options, and one-line errors.

Stages are thin: they read their section of params.yaml (one library
dataclass per section, built by :func:`read_section`) and their paths, call
one typed function of the ``explainrec`` library, and write outputs. The
library itself never reads params.yaml. Paths have no defaults: dvc.yaml is
the one place that writes them, and each option's help says what it holds.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from explainrec.core.errors import ExplainrecError, ParamError

PARAMS = "params.yaml"
T = TypeVar("T")


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
    """The params entry at the dotted ``key`` (e.g. ``ablations.wo_sft``)."""
    node: Any = params
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(key.split(".")[:i + 1])
            raise ParamError(where, f"a '{where}' entry in {PARAMS}",
                             sorted(node) if isinstance(node, dict) and i else None)
        node = node[part]
    return node


def read_section(params: dict[str, Any], key: str, cls: type[T], **extra: Any) -> T:
    """The library dataclass ``cls`` built from the section at ``key``, checked."""
    from explainrec.core.config import from_section

    return from_section(cls, section(params, key), key, **extra)


def merged_section(params: dict[str, Any], base: str, entry: str, cls: type[T], **extra: Any) -> T:
    """``cls`` built from the section ``base`` updated with the keys of the section ``entry``
    (an unknown key in either is named with its full path)."""
    from explainrec.core.config import check_section, from_section

    known = [f for f in cls.__dataclass_fields__ if f not in extra]  # type: ignore[attr-defined]
    values = check_section(section(params, base), base, known)
    values.update(check_section(section(params, entry), entry, known))
    return from_section(cls, values, entry, **extra)


def dataset_format(params: dict[str, Any]) -> str | None:
    """The ``format`` of the selected dataset (for the domain words)."""
    entry = section(params, f"datasets.{section(params, 'dataset')}")
    return entry.get("format") if isinstance(entry, dict) else None


def relaunch(params: dict[str, Any]) -> Any:
    """Under ``launch.launcher: accelerate``, this process becomes ``accelerate launch`` of the same
    command (absent: one process); returns the :mod:`explainrec.core.launch` module for
    ``outputs`` / ``is_main``."""
    from explainrec.core import launch
    from explainrec.core.config import from_section

    launch.relaunch(from_section(launch.LaunchConfig, params.get("launch"), "launch"))
    return launch


def seed(params: dict[str, Any]) -> int:
    from explainrec.core.config import check_int

    return check_int(section(params, "seed"), "seed", 0)


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


def number(x: float | None, digits: int) -> str:
    """A metric for a stage's summary line; ``n/a`` when it could not be computed."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def path_option(flag: str, help: str, dest: str | None = None) -> Callable[[T], T]:
    """A required path option (dvc.yaml fills it)."""
    decls = (flag,) if dest is None else (flag, dest)
    return click.option(*decls, type=click.Path(path_type=Path), required=True, help=help)


#: --params, on every stage
params_option = click.option("--params", "params_path", default=PARAMS, show_default=True,
                             help="the params file whose sections the stage reads")
#: the options several stages share, with their help written once
OUT = path_option("--out", "the stage's output folder (written whole, or not at all)")
METRICS = path_option("--metrics", "the metrics JSON the stage writes (committed; `dvc metrics diff` reads it)")
CURVES = path_option("--curves", "the DVCLive folder of the stage's training curves (metrics.json, plots/metrics/*.tsv; "
                                 "committed, outside the cached outputs; written whole, or not at all)")
RAW = path_option("--raw", "the raw stage's folder (interactions/items/users.parquet)")
FILTERED = path_option("--filtered", "the filter stage's folder (interactions/items/users.parquet)")
SPLITS = path_option("--splits", "the split stage's folder (profile/train/test.parquet)")
PROFILES = path_option("--profiles", "the profiles stage's folder (user_profiles/item_profiles.parquet, every layer)")
NEGATIVES = path_option("--negatives", "the negatives stage's folder (negatives.parquet)")
ENCODER = path_option("--encoder", "the assets_encoder stage's sentence-encoder folder")
LLM = path_option("--llm", "the llm.json of an assets stage (the resolved llms entry)", dest="llm_json")
JUDGE = path_option("--judge", "the assets_judge stage's llm.json (the judge LLM)", dest="judge_json")
BASE = path_option("--base", "the SFT base model folder (assets_sft_base's model/)")
TARGETS = path_option("--targets", "the folder of the stage named by sft.targets (data/cpeg or data/reference), "
                                   "with explanations.parquet")
PAIRS = path_option("--pairs", "the lrrecsys_pairs stage's folder (pairs.parquet)")
EXPLANATIONS = path_option("--explanations", "an lrrecsys_explain stage's folder (explanations.parquet)")
EMBEDDINGS = path_option("--embeddings", "an lrrecsys_embed stage's folder (embeddings.parquet)")
