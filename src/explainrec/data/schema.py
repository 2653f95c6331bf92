"""The one table schema every dataset adapter writes and every stage reads.

Three tables, written as parquet by the raw stage:

``interactions``
    user_id (string), item_id (string), rating (float64, nullable),
    timestamp (Int64 unix seconds, nullable), review (string, nullable);
    optional ``explanation`` (string): a reference explanation shipped with
    the dataset (XRec-style precomputed tables).
``items``
    item_id (string), title, description, categories (strings, nullable;
    categories joined with ", "); optional ``profile`` (precomputed).
``users``
    user_id (string), any attribute columns the dataset has (age, gender, ...);
    optional ``profile`` (precomputed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explainrec.core.errors import InputError

INTERACTIONS = {"user_id": "string", "item_id": "string", "rating": "float64", "timestamp": "Int64", "review": "string"}
INTERACTIONS_OPTIONAL = {"explanation": "string"}
ITEMS = {"item_id": "string", "title": "string", "description": "string", "categories": "string"}
ITEMS_OPTIONAL = {"profile": "string"}
USERS = {"user_id": "string"}
USERS_OPTIONAL = {"profile": "string"}
#: columns that must never be null
NOT_NULL = {"user_id", "item_id"}

TABLES = {
    "interactions": (INTERACTIONS, INTERACTIONS_OPTIONAL),
    "items": (ITEMS, ITEMS_OPTIONAL),
    "users": (USERS, USERS_OPTIONAL),
}


def _cast(series: pd.Series, dtype: str, source: str, column: str) -> pd.Series:
    try:
        if dtype == "string":
            return series.astype("string")
        if dtype == "float64":
            return pd.to_numeric(series, errors="raise").astype("float64")
        if dtype == "Int64":
            num = pd.to_numeric(series, errors="raise")
            if (num.dropna() % 1 != 0).any():
                raise ValueError("not whole numbers")
            return num.astype("Int64")
    except (ValueError, TypeError) as exc:
        bad = _first_bad(series, dtype)
        raise InputError(source, column, f"values of type {dtype}", got=bad) from exc
    raise AssertionError(dtype)


def _first_bad(series: pd.Series, dtype: str) -> object:
    for v in series.dropna():
        try:
            float(v)
        except (TypeError, ValueError):
            return v
        if dtype == "Int64" and float(v) % 1:
            return v
    return None


def conform(df: pd.DataFrame, table: str, source: str | Path) -> pd.DataFrame:
    """Return ``df`` with the table's columns, in order, cast to their types.

    Required columns missing from ``df`` are an error, except nullable ones,
    which the adapter may omit (they become all-null). Extra columns are kept
    for ``users`` (attributes) and dropped elsewhere. ``source`` names the
    file the rows came from, for the error message.
    """
    required, optional = TABLES[table]
    out = {}
    for col, dtype in required.items():
        if col not in df.columns:
            if col in NOT_NULL:
                raise InputError(source, col, f"a column '{col}' in the {table} table", got=None)
            out[col] = pd.Series(None, index=df.index, dtype=dtype)
        else:
            out[col] = _cast(df[col], dtype, str(source), col)
    for col, dtype in optional.items():
        if col in df.columns:
            out[col] = _cast(df[col], dtype, str(source), col)
    if table == "users":
        for col in df.columns:
            if col not in out:
                out[col] = df[col]
    result = pd.DataFrame(out, index=df.index).reset_index(drop=True)
    for col in NOT_NULL & set(required):
        nulls = result[col].isna() | (result[col].str.strip() == "")
        if nulls.any():
            raise InputError(source, col, "a non-empty id on every row", got=f"{int(nulls.sum())} empty")
    if table == "interactions":
        rating = result["rating"].dropna()
        if len(rating) and not rating.map(lambda v: v == v and abs(v) != float("inf")).all():
            raise InputError(source, "rating", "finite numbers")
    return result


@dataclass
class Dataset:
    """The three tables of one dataset, already conformed to the schema."""

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame

    def __post_init__(self) -> None:
        for name in ("interactions", "items", "users"):
            df = getattr(self, name)
            missing = [c for c in TABLES[name][0] if c not in df.columns]
            if missing:
                raise ValueError(f"{name} table lacks {missing}: pass it through conform() first")

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("interactions", "items", "users"):
            getattr(self, name).to_parquet(folder / f"{name}.parquet", index=False)

    @classmethod
    def load(cls, folder: str | Path) -> "Dataset":
        from explainrec.core.io import read_table

        folder = Path(folder)
        tables = {}
        for name in ("interactions", "items", "users"):
            path = folder / f"{name}.parquet"
            tables[name] = conform(read_table(path, name, "the raw stage"), name, path)
        return cls(**tables)
