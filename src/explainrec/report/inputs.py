"""What the report reads: the tables and plot CSVs other stages wrote, and every method's
explanations of the test pairs.

A table is a markdown file a report stage wrote (``metrics/eval_table.md``...) or a CSV;
a plot is an entry of dvc.yaml's top-level ``plots`` (:func:`plot_specs` reads both of
its forms); the sample of test pairs joins the explainers' ``explanations.parquet``
(user_id, item_id, explanation, reference) with the profiles, the item titles and the
LR-Recsys-style pair explanations (pair_id, positive, negative) of the pairs that are
also test pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explainrec.core.errors import InputError, ParamError
from explainrec.core.io import read_table

#: the columns of the sample before the methods' explanations
PAIR_COLUMNS = ("user_id", "item_id", "title", "user_profile", "item_profile", "reference")


@dataclass(frozen=True)
class PlotSpec:
    """One plot: ``kind`` "bar" (one bar per row of ``category``, length ``y[0]``) or "line"
    (each ``y`` column against ``x``)."""

    name: str
    file: Path
    kind: str
    x: str
    y: tuple[str, ...]
    category: str | None = None


def _columns(value: Any, where: str) -> tuple[str, ...]:
    cols = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
    if not cols or not all(isinstance(c, str) for c in cols):
        raise InputError(where, "y", "a column name or a list of them", value)
    return cols


def plot_specs(plots: Any, where: str | Path = "dvc.yaml") -> list[PlotSpec]:
    """The entries of dvc.yaml's top-level ``plots`` list: ``{<file>: {x, y: [cols]}}`` or
    ``{<id>: {template, x, y: {<file>: col or [cols]}}}`` (``bar_horizontal``: ``x`` is the
    bar length, ``y`` the category)."""
    if not isinstance(plots, list):
        raise InputError(where, "plots", "a list of plot definitions", type(plots).__name__)
    specs = []
    for entry in plots:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise InputError(where, "plots", "one {name: definition} mapping per entry", entry)
        (name, spec), = entry.items()
        spec = spec or {}
        x, y = spec.get("x"), spec.get("y")
        if not isinstance(x, str):
            raise InputError(where, f"plots.{name}.x", "a column name", x)
        files = y if isinstance(y, dict) else {name: y}
        for file, cols in files.items():
            cols = _columns(cols, f"{where}: plots.{name}")
            if str(spec.get("template", "")).startswith("bar_horizontal"):
                specs.append(PlotSpec(name, Path(file), "bar", x, (x,), cols[0]))
            else:
                specs.append(PlotSpec(name, Path(file), "line", x, cols))
    return specs


def read_plot(spec: PlotSpec) -> pd.DataFrame:
    """The CSV (or DVCLive's TSV) behind ``spec``, with its columns checked."""
    if not spec.file.exists():
        raise InputError(spec.file, "(file)", f"the CSV of the plot '{spec.name}'; run `dvc repro`")
    table = pd.read_csv(spec.file, sep="\t" if spec.file.suffix == ".tsv" else ",")
    needed = [spec.x, *spec.y] + ([spec.category] if spec.category else [])
    missing = [c for c in dict.fromkeys(needed) if c not in table.columns]
    if missing:
        raise InputError(spec.file, missing[0], f"a column of the plot '{spec.name}'", sorted(table.columns))
    return table


def read_text_table(path: str | Path) -> str:
    """A markdown table file as written, or a CSV turned into a markdown table."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "(file)", "a table another stage writes; run `dvc repro`")
    if path.suffix == ".csv":
        table = pd.read_csv(path)
        head = "| " + " | ".join(map(str, table.columns)) + " |"
        rule = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in table.columns) + "|"
        rows = ["| " + " | ".join("" if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row)
                + " |" for row in table.itertuples(index=False)]
        return "\n".join([head, rule, *rows]) + "\n"
    return path.read_text()


def _cut(text: str, chars: int) -> str:
    return text if not chars or len(text) <= chars else text[:chars].rstrip() + " …"


def pair_sample(explainers: dict[str, str | Path], user_profiles: dict[str, str], item_profiles: dict[str, str],
                titles: dict[str, str], pair_sets: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                limit: int, profile_chars: int) -> pd.DataFrame:
    """One row per test pair (the first ``limit`` by user and item; 0: all): :data:`PAIR_COLUMNS`,
    then one column per explainer (its explanation) and per pair set ("+ positive / − negative",
    for the test pairs that set explains too; empty elsewhere).

    ``explainers`` maps names to ``explanations.parquet`` files; ``pair_sets`` names to
    ``(explanations, pairs)`` tables: explanations (pair_id, positive, negative) and the pairs
    (pair_id, user_id, item_id) that say which user and item each pair_id is."""
    merged: pd.DataFrame | None = None
    for name, path in explainers.items():
        table = read_table(path, f"explanations of {name}", "a stage in the explainers list",
                           ("user_id", "item_id", "explanation", "reference"))
        table = table.astype({"user_id": str, "item_id": str}).drop_duplicates(["user_id", "item_id"])
        table = table.rename(columns={"explanation": name, "reference": f"reference:{name}"})
        merged = table if merged is None else merged.merge(table, on=["user_id", "item_id"], how="outer")
    if merged is None:
        raise ParamError("explainers", "at least one explainer")
    refs = [c for c in merged.columns if c.startswith("reference:")]
    merged["reference"] = merged[refs].bfill(axis=1).iloc[:, 0].fillna("")
    merged = merged.drop(columns=refs).sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
    if limit:
        merged = merged.head(limit)
    for name, (explanations, pairs) in pair_sets.items():
        both = explanations.astype({"pair_id": str}).merge(pairs.astype({"pair_id": str, "user_id": str, "item_id": str})
                                                           [["pair_id", "user_id", "item_id"]], on="pair_id")
        both = both.drop_duplicates(["user_id", "item_id"])
        both[name] = "+ " + both["positive"].astype(str) + "\n− " + both["negative"].astype(str)
        merged = merged.merge(both[["user_id", "item_id", name]], on=["user_id", "item_id"], how="left")
    merged["title"] = merged["item_id"].map(titles).fillna("")
    merged["user_profile"] = merged["user_id"].map(user_profiles).fillna("").map(lambda t: _cut(t, profile_chars))
    merged["item_profile"] = merged["item_id"].map(item_profiles).fillna("").map(lambda t: _cut(t, profile_chars))
    methods = [*explainers, *pair_sets]
    merged[methods] = merged[methods].fillna("")
    return merged[[*PAIR_COLUMNS, *methods]]
