"""The LLM response cache, pushed to and pulled from a DVC remote, so a team pays for each call once.

DVC shares a stage's outputs (``dvc push`` / ``dvc pull``, ``--run-cache``), but not the
answers a rerun with a changed prompt, model or cap would reuse: those live in
``$EXPLAINREC_CACHE/llm/responses.sqlite`` (:mod:`explainrec.llm.cache`), outside DVC.
Each answer is keyed by the sha256 of its request's canonical JSON, so answers never
conflict: the remote holds one small JSON object per answer at
``<remote>/explainrec/llm-cache/<key[:2]>/<key[2:]>.json``, beside DVC's own ``files/`` and
``runs/``, reached with the remote's own URL, settings and credentials (``dvc remote add``,
``.dvc/config.local``). :func:`push` and :func:`pull` move only what the other side lacks
and only ever add, so several people can run them at once. Every pulled object is checked
(its fields and their types, its key against its path) before any is stored.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explainrec.core.errors import InputError
from explainrec.llm.cache import ResponseCache, damage_as_error

#: where, under a DVC remote's root, the answers live
PREFIX = ("explainrec", "llm-cache")
COLUMNS = ("key", "identity", "request", "text", "prompt_tokens", "completion_tokens", "created")
#: each field's type, and how an error names it
_TYPES = {"key": (str, "a string"), "identity": (str, "a string"), "request": (str, "a string"),
          "text": (str, "a string"), "prompt_tokens": (int, "an integer"), "completion_tokens": (int, "an integer"),
          "created": ((int, float), "a number")}


@dataclass(frozen=True)
class Remote:
    """A DVC remote's filesystem and the folder of the shared answers on it."""

    name: str
    fs: Any  # a dvc-objects FileSystem (local, s3, ssh, webdav, ...)
    root: str

    def folder(self, key: str) -> str:
        """The folder of ``key``'s answer: its first two characters."""
        return self.fs.join(self.root, key[:2])

    def path(self, key: str) -> str:
        return self.fs.join(self.folder(key), f"{key[2:]}.json")


def open_remote(repo: str | Path = ".", name: str | None = None) -> Remote:
    """The remote ``name`` (else the default remote) of the DVC repository at ``repo``."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        remote = dvc_repo.cloud.get_remote(name, command="python -m explainrec.sharing")
    return Remote(remote.name, remote.fs, remote.fs.join(remote.path, *PREFIX))


def _is_key(key: str) -> bool:
    return len(key) == 64 and all(c in "0123456789abcdef" for c in key)


def remote_keys(remote: Remote) -> set[str]:
    """The keys of the answers on the remote (an absent folder holds none)."""
    if not remote.fs.exists(remote.root):
        return set()
    keys = set()
    for path in remote.fs.find(remote.root):
        parts = path.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-1].endswith(".json"):
            key = parts[-2] + parts[-1][: -len(".json")]
            if _is_key(key):
                keys.add(key)
    return keys


def _connect(cache_path: str | Path) -> sqlite3.Connection:
    """A connection to the cache; a damaged file is a :class:`~explainrec.llm.cache.DamagedCache`
    here (on open) or in the callers' ``damage_as_error`` blocks (on a damaged page)."""
    ResponseCache(cache_path).close()  # creates the file and its table when they are not there yet
    return sqlite3.connect(cache_path, timeout=60.0, isolation_level=None)


def local_keys(cache_path: str | Path) -> set[str]:
    db = _connect(cache_path)
    try:
        with damage_as_error(cache_path):
            return {row[0] for row in db.execute("SELECT key FROM responses")}
    finally:
        db.close()


def _rows(cache_path: str | Path, keys: set[str]) -> Iterator[dict[str, Any]]:
    db = _connect(cache_path)
    try:
        with damage_as_error(cache_path):
            for row in db.execute(f"SELECT {', '.join(COLUMNS)} FROM responses ORDER BY key"):
                if row[0] in keys:
                    yield dict(zip(COLUMNS, row))
    finally:
        db.close()


def check_entry(entry: Any, key: str, where: str) -> dict[str, Any]:
    """``entry`` as a cache row, or an :class:`InputError` naming the remote object and the field."""
    if not isinstance(entry, dict):
        raise InputError(where, "<object>", "a JSON object with the fields " + ", ".join(COLUMNS), type(entry).__name__)
    for column, (kind, expected) in _TYPES.items():
        if not isinstance(entry.get(column), kind) or isinstance(entry.get(column), bool):
            raise InputError(where, column, expected, entry.get(column))
    if entry["key"] != key:
        raise InputError(where, "key", f"the key its path names ({key})", entry["key"])
    return {column: entry[column] for column in COLUMNS}


def _callback(desc: str) -> Any:
    from fsspec.callbacks import TqdmCallback

    return TqdmCallback(tqdm_kwargs={"desc": desc, "unit": "answer", "leave": False})


def push(cache_path: str | Path, remote: Remote, jobs: int | None = None) -> dict[str, int]:
    """Upload the answers of the local cache that the remote lacks; ``{"pushed", "already"}``."""
    there = remote_keys(remote)
    missing = local_keys(cache_path) - there
    with tempfile.TemporaryDirectory(prefix="llm-cache-push-") as tmp:
        sources, targets = [], []
        for entry in _rows(cache_path, missing):
            source = Path(tmp) / f"{entry['key']}.json"
            source.write_text(json.dumps(entry, sort_keys=True, ensure_ascii=False))
            sources.append(str(source))
            targets.append(remote.path(entry["key"]))
        # the missing key-prefix folders first, one at a time, as DVC's own object store does: parallel uploads
        # into a folder not there yet race to create it, and a WebDAV server refuses all but one (423 Locked)
        for folder in sorted({remote.folder(key) for key in missing} - {remote.folder(key) for key in there}):
            remote.fs.makedirs(folder)
        if sources:
            remote.fs.put(sources, targets, callback=_callback(f"push to {remote.name}"), batch_size=jobs)
    return {"pushed": len(missing), "already": len(there)}


def pull(cache_path: str | Path, remote: Remote, jobs: int | None = None) -> dict[str, int]:
    """Download the answers on the remote that the local cache lacks; ``{"pulled", "already"}``.

    Every object is checked (:func:`check_entry`) before any is stored, so a bad one stores nothing."""
    have = local_keys(cache_path)
    missing = sorted(remote_keys(remote) - have)
    rows = []
    with tempfile.TemporaryDirectory(prefix="llm-cache-pull-") as tmp:
        targets = [str(Path(tmp) / f"{key}.json") for key in missing]
        if missing:
            remote.fs.get([remote.path(k) for k in missing], targets,
                          callback=_callback(f"pull from {remote.name}"), batch_size=jobs)
        for key, target in zip(missing, targets):
            where = remote.path(key)
            try:
                entry = json.loads(Path(target).read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputError(where, "<object>", "a JSON object", str(exc)) from exc
            rows.append(tuple(check_entry(entry, key, where).values()))
    if rows:
        db = _connect(cache_path)
        try:
            with damage_as_error(cache_path):
                db.execute("BEGIN IMMEDIATE")
                db.executemany(f"INSERT OR IGNORE INTO responses VALUES ({', '.join('?' * len(COLUMNS))})", rows)
                db.execute("COMMIT")
        finally:
            db.close()
    return {"pulled": len(rows), "already": len(have)}


def status(cache_path: str | Path, remote: Remote) -> dict[str, int]:
    """How many answers only the local cache has, only the remote has, and both have."""
    here, there = local_keys(cache_path), remote_keys(remote)
    return {"local_only": len(here - there), "remote_only": len(there - here), "both": len(here & there)}
