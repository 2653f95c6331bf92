"""A persistent cache of LLM responses, shared by every stage and process.

One sqlite file in WAL mode: several processes (parallel DVC stages, a
benchmark next to a pipeline) can read and write it at once, and every
:meth:`ResponseCache.put_many` commits immediately, so killing a job loses at
most the batch that was being generated. It lives outside DVC outputs (see
:func:`default_cache_path`), so re-executing a stage re-reads earlier answers
instead of regenerating them.

A damaged file (truncated, overwritten, not sqlite at all) stops whoever opens,
reads or writes it with one :class:`DamagedCache` error that names the file and
the ways out, instead of sqlite's traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from explainrec.core.errors import ExplainrecError
from explainrec.llm.types import ChatRequest, Completion, ScoreRequest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""
_CHUNK = 500  # stay well under sqlite's limit on bound parameters
#: sqlite's primary result codes for a damaged file: SQLITE_CORRUPT ("database disk image is
#: malformed") and SQLITE_NOTADB ("file is not a database"). SQLITE_BUSY/LOCKED ("database is
#: locked", an OperationalError) is another condition and is left alone.
_DAMAGED_CODES = (11, 26)


class DamagedCache(ExplainrecError):
    """The response cache file is damaged: sqlite cannot read it."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(
            f"{path}: the LLM response cache is damaged ({reason}); move it aside and the answers are "
            f"regenerated on the next run, or move it aside and pull the shared answers with "
            f"`python -m explainrec.sharing pull`")


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` is sqlite saying the file is corrupt or not a database (not "locked")."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return (code & 0xFF) in _DAMAGED_CODES
    return type(exc) is sqlite3.DatabaseError


@contextlib.contextmanager
def damage_as_error(path: str | Path) -> Iterator[None]:
    """Turn sqlite's "malformed" / "not a database" inside the block into a :class:`DamagedCache`."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        raise DamagedCache(path, str(exc)) from exc


def default_cache_path() -> Path:
    """``$EXPLAINREC_CACHE/llm/responses.sqlite``, else ``./.cache/explainrec/llm/responses.sqlite``."""
    root = os.environ.get("EXPLAINREC_CACHE")
    base = Path(root) if root else Path.cwd() / ".cache" / "explainrec"
    return base / "llm" / "responses.sqlite"


def canonical_request(identity: str, request: ChatRequest | ScoreRequest) -> str:
    """The canonical JSON that :func:`cache_key` hashes (also stored for inspection)."""
    payload = {"identity": identity, **request.cache_payload()}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(identity: str, request: ChatRequest | ScoreRequest) -> str:
    """sha256 of the canonical JSON of ``{identity, messages, params}`` (a chat) or
    ``{identity, messages, options, score}`` (a scoring, whose answer is stored as the
    JSON list of the options' log-probabilities: :meth:`Scored.to_json`)."""
    return hashlib.sha256(canonical_request(identity, request).encode("utf-8")).hexdigest()


class ResponseCache:
    """Key -> :class:`Completion` store in one sqlite file (created on first use)."""

    def __init__(self, path: str | Path, timeout_s: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        try:
            with damage_as_error(self.path):
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a process kill; WAL keeps it consistent
                self._db.execute(_SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        """The cached completions among ``keys`` (missing keys are simply absent)."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, Completion] = {}
        with self._lock, damage_as_error(self.path):
            for i in range(0, len(keys), _CHUNK):
                part = keys[i : i + _CHUNK]
                rows = self._db.execute(
                    f"SELECT key, text, prompt_tokens, completion_tokens FROM responses "
                    f"WHERE key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                for key, text, pt, ct in rows:
                    found[key] = Completion(text, pt, ct, cached=True)
        return found

    def get(self, key: str) -> Completion | None:
        return self.get_many([key]).get(key)

    def put_many(self, items: Iterable[tuple[str, Completion]], identity: str = "",
                 requests: Sequence[ChatRequest | ScoreRequest] | None = None) -> None:
        """Store ``(key, completion)`` pairs and commit at once.

        ``identity``/``requests`` (parallel to ``items``) are optional and only
        stored so that a human can inspect the cache.
        """
        now = time.time()
        rows = []
        for i, (key, c) in enumerate(items):
            req = canonical_request(identity, requests[i]) if requests is not None else ""
            rows.append((key, identity, req, c.text, int(c.prompt_tokens), int(c.completion_tokens), now))
        if not rows:
            return
        with self._lock, damage_as_error(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error says more than a failed rollback
                        self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock, damage_as_error(self.path):
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
