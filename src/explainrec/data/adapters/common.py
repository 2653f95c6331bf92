"""Pieces every adapter shares: line reading, field access, and finishing the tables.

* :func:`iter_records` streams a JSON-lines file (plain or gzip, detected by its
  magic bytes) one line at a time and parses each line as JSON, falling back to
  :func:`ast.literal_eval` for files of Python literals (Amazon 2014 metadata,
  Steam). ``eval`` is never used.
* :func:`ident`, :func:`number`, :func:`whole` and :func:`text` read one field of
  a record and raise :class:`~explainrec.core.errors.InputError` naming the file,
  the field and the line.
* :class:`Columns` collects rows as column lists, so a file of millions of lines
  becomes one DataFrame without a list of millions of dicts.
* :func:`build` conforms the three tables to :mod:`explainrec.data.schema`,
  drops duplicate (user_id, item_id) pairs keeping the row with the latest
  timestamp (on ties, or without timestamps, the one later in the file), and
  restricts items and users to those that occur in the interactions, adding
  a row with null attributes for every id that has no metadata.
"""

from __future__ import annotations

import ast
import gzip
import json
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pandas as pd

from explainrec.core.errors import InputError
from explainrec.data.schema import Dataset, conform

GZIP_MAGIC = b"\x1f\x8b"
LINE_EXPECTED = "a JSON object (or Python literal) per line"
_MISSING = (None, "")


def open_binary(path: str | Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing it when it is gzip."""
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def parse_line(line: str, path: str | Path, lineno: int) -> dict[str, Any]:
    """Parse one line as a JSON object, else as a Python literal dict."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        try:
            obj = ast.literal_eval(line)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            obj = None
    if not isinstance(obj, dict):
        raise InputError(path, "line", LINE_EXPECTED, got=line[:40], line=lineno)
    return obj


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, record)`` for each non-blank line of ``path``."""
    try:
        with open_binary(path) as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(path, "line", "UTF-8 text", got=raw[:40], line=lineno) from None
                line = line.lstrip("\ufeff").strip() if lineno == 1 else line.strip()
                if line:
                    yield lineno, parse_line(line, path, lineno)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(path, "file", "a complete gzip file", got=str(exc)) from None


def value(rec: Mapping[str, Any], field: str, path: str | Path, lineno: int) -> Any:
    """Return ``rec[field]``; a missing, null or blank value is an error."""
    v = rec.get(field)
    if v is None or (isinstance(v, str) and not v.strip()):
        raise InputError(path, field, f"a non-empty '{field}' in every record", got=v, line=lineno)
    return v


def ident(rec: Mapping[str, Any], field: str, path: str | Path, lineno: int) -> str:
    """Read a required id (a string or an integer) as a string."""
    v = value(rec, field, path, lineno)
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise InputError(path, field, "an id (a string or an integer)", got=v, line=lineno)
    return str(v).strip()


def number(v: Any, field: str, path: str | Path, lineno: int) -> float:
    """Read ``v`` as a finite float; anything else is an error naming ``field``."""
    try:
        if isinstance(v, bool):
            raise TypeError
        out = float(v)
    except (TypeError, ValueError):
        raise InputError(path, field, "a number", got=v, line=lineno) from None
    if not math.isfinite(out):
        raise InputError(path, field, "a finite number", got=v, line=lineno)
    return out


def whole(v: Any, field: str, path: str | Path, lineno: int) -> int | None:
    """Read an optional whole number (a unix time); null or blank gives None."""
    if v in _MISSING:
        return None
    out = number(v, field, path, lineno)
    if out % 1:
        raise InputError(path, field, "a whole number of seconds", got=v, line=lineno)
    return int(out)


def text(v: Any, sep: str = " ") -> str | None:
    """A stripped string, a list of strings joined with ``sep``, or None when empty."""
    if isinstance(v, (list, tuple)):
        v = sep.join(s for s in (text(x) for x in v) if s)
    if v is None or isinstance(v, (dict, bool)) or (isinstance(v, float) and math.isnan(v)):
        return None
    out = str(v).strip()
    return out or None


def flatten(v: Any) -> Iterator[str]:
    """Every non-empty string in ``v``, a string or a (nested) list of strings."""
    if isinstance(v, str):
        if v.strip():
            yield v.strip()
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from flatten(x)


def join_unique(values: Iterable[str], sep: str = ", ") -> str | None:
    """Join distinct values in first-seen order, or None when there are none."""
    out = sep.join(dict.fromkeys(values))
    return out or None


class Columns:
    """Rows collected as column lists, turned into one DataFrame at the end."""

    def __init__(self, *names: str) -> None:
        self.data: dict[str, list[Any]] = {n: [] for n in names}

    def add(self, **row: Any) -> None:
        for name, col in self.data.items():
            col.append(row.get(name))

    def __len__(self) -> int:
        return len(next(iter(self.data.values()), []))

    def frame(self) -> pd.DataFrame:
        """The collected rows as a DataFrame (the lists are emptied as they are converted)."""
        out = {}
        for name, col in self.data.items():
            out[name] = pd.Series(col, dtype=object)
            col.clear()
        return pd.DataFrame(out)


def dedupe(interactions: pd.DataFrame) -> pd.DataFrame:
    """Keep one row per (user_id, item_id): the latest timestamp, then the last in the file."""
    order = interactions.sort_values("timestamp", kind="stable", na_position="first")
    kept = order.drop_duplicates(["user_id", "item_id"], keep="last")
    return kept.sort_index().reset_index(drop=True)


def _restrict(table: pd.DataFrame | None, key: str, ids: pd.Series) -> pd.DataFrame:
    """One row per id in ``ids`` (first-seen order): its metadata row or nulls."""
    ids = ids.drop_duplicates().reset_index(drop=True)
    frame = pd.DataFrame({key: ids})
    if table is None or table.empty:
        return frame
    table = table.assign(**{key: table[key].astype("string")}).drop_duplicates(key)
    return frame.merge(table, on=key, how="left")


def build(
    interactions: pd.DataFrame,
    sources: Mapping[str, str | Path],
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
) -> Dataset:
    """Conform, dedupe and complete the tables; ``sources`` names each table's file."""
    src = sources["interactions"]
    if interactions.empty:
        raise InputError(src, "rows", "at least one interaction")
    inter = dedupe(conform(interactions, "interactions", src))
    return Dataset(
        interactions=inter,
        items=conform(_restrict(items, "item_id", inter["item_id"]), "items", sources.get("items", src)),
        users=conform(_restrict(users, "user_id", inter["user_id"]), "users", sources.get("users", src)),
    )
