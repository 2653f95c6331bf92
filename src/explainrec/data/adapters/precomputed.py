"""Tables with precomputed profiles and reference explanations (XRec's released test sets).

Catalogue entry: ``{format: precomputed, path: PATH, allow_pickle: false}``.

One table with columns uid, iid and explanation (required) and title,
user_summary, item_summary (optional), as parquet (.parquet, .pq), CSV (.csv)
or a pandas pickle (.pkl, .pickle). XRec (Ma et al., 2024) ships its test
sets as pickles; unpickling runs code from the file, so a pickle is read only
with ``allow_pickle: true``.

Mapping: user_id = uid, item_id = iid (as strings), interactions.explanation =
explanation; rating, timestamp and review come from the first column present
among the names below, else null. Items: title and profile = item_summary (the
first non-null per item); users: profile = user_summary (the first per user).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from explainrec.core.errors import InputError, ParamError
from explainrec.data.adapters.common import build
from explainrec.data.schema import Dataset

REQUIRED = ("uid", "iid", "explanation")
#: schema column -> accepted source column names, first match wins
ALIASES = {
    "rating": ("rating", "stars", "overall", "score"),
    "timestamp": ("timestamp", "unixReviewTime", "time"),
    "review": ("review", "reviewText", "text"),
}
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".pkl": "pickle", ".pickle": "pickle"}
PICKLE_EXPECTED = "true to read a pandas pickle (unpickling runs code from the file; only do this for files you trust)"


def read_any_table(path: Path, allow_pickle: bool = False) -> pd.DataFrame:
    """Read a parquet, CSV or (only with ``allow_pickle``) pickle table, chosen by suffix."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(path, "suffix", f"one of {', '.join(SUFFIXES)}", got=path.suffix)
    if kind == "pickle" and allow_pickle is not True:
        raise ParamError("allow_pickle", PICKLE_EXPECTED, allow_pickle)
    try:
        if kind == "parquet":
            df = pd.read_parquet(path)
        elif kind == "csv":
            df = pd.read_csv(path, dtype={"uid": str, "iid": str})
        else:
            df = pd.read_pickle(path)
    except pd.errors.EmptyDataError:
        raise InputError(path, "rows", "at least one interaction") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable file
        raise InputError(path, "file", f"a readable {kind} table", got=f"{type(exc).__name__}: {exc}") from None
    if not isinstance(df, pd.DataFrame):
        raise InputError(path, "file", "a pandas DataFrame", got=type(df).__name__)
    return df


def _ids(col: pd.Series) -> pd.Series:
    """Ids as strings; whole floats (ids read next to missing values) lose their '.0'."""
    if pd.api.types.is_float_dtype(col) and (col.dropna() % 1 == 0).all():
        col = col.astype("Int64")
    return col.astype("string").str.strip()


def _first(df: pd.DataFrame, key: str, column: str) -> pd.Series:
    """First non-null ``column`` per ``key``; null where none."""
    if column not in df:
        return pd.Series(pd.NA, index=df[key].drop_duplicates(), dtype="string")
    return df.dropna(subset=[column]).groupby(key, sort=False)[column].first()


def load(path: Path, allow_pickle: bool = False) -> Dataset:
    """Read a precomputed-profiles table into the schema."""
    df = read_any_table(path, allow_pickle)
    for col in REQUIRED:
        if col not in df.columns:
            raise InputError(path, col, f"a column '{col}' (the table needs {', '.join(REQUIRED)})",
                             got=", ".join(map(str, df.columns[:8])))
    df = df.assign(user_id=_ids(df["uid"]), item_id=_ids(df["iid"]))
    inter = pd.DataFrame({"user_id": df["user_id"], "item_id": df["item_id"], "explanation": df["explanation"]})
    for target, names in ALIASES.items():
        found = next((n for n in names if n in df.columns), None)
        if found is not None:
            inter[target] = df[found]
    items = pd.DataFrame({"title": _first(df, "item_id", "title"), "profile": _first(df, "item_id", "item_summary")})
    users = pd.DataFrame({"profile": _first(df, "user_id", "user_summary")})
    return build(inter, {"interactions": path}, items=items.rename_axis("item_id").reset_index(),
                 users=users.rename_axis("user_id").reset_index())
