"""Atomic writes: an output appears complete or not at all.

A stage writes into a temporary sibling and renames it into place at the end,
so a crash or a kill never leaves a half-written file or folder behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` when the block succeeds.

    Temporary siblings left by a killed earlier run (``kill -9`` skips the clean-up below) are
    removed first: one stage writes one output at a time, so any such sibling is stale."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path that replaces ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path``, atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table as CSV without its index, atomically."""
    with atomic_file(path) as tmp:
        df.to_csv(tmp, index=False)


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table without its index (used inside an atomic folder or alone)."""
    df.to_parquet(path, index=False)


def read_table(path: str | Path, what: str, writer: str = "an earlier stage",
               columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A parquet table another stage wrote; a missing file or column is an
    :class:`~explainrec.core.errors.InputError` naming it."""
    from explainrec.core.errors import InputError

    path = Path(path)
    if not path.exists():
        raise InputError(path, what, f"a parquet file {path.name} written by {writer}")
    df = pd.read_parquet(path)
    for col in columns:
        if col not in df.columns:
            raise InputError(path, col, f"a column '{col}'")
    return df


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
