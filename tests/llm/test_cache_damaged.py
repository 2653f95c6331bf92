"""A damaged LLM response cache (garbage, truncated, a page overwritten) stops whoever opens, reads or
writes it with one :class:`DamagedCache` line naming the file and the ways out, not sqlite's traceback;
"database is locked" stays what it is."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from explainrec.core.errors import ExplainrecError
from explainrec.llm.cache import DamagedCache, ResponseCache
from explainrec.llm.types import Completion
from tests.conftest import REPO, dvc_cmd

KEYS = [f"{i:064x}" for i in range(1500)]
WAYS_OUT = ("move it aside", "regenerated", "python -m explainrec.sharing pull")


def real_cache(path: Path) -> bytes:
    """A real cache file of about 150 pages (WAL checkpointed on close); its bytes."""
    with ResponseCache(path) as cache:
        cache.put_many((k, Completion("an answer " * 20, 5, 7)) for k in KEYS)
    return path.read_bytes()


def garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database\n" * 200)
    return path


def truncated(path: Path) -> Path:
    data = real_cache(path)
    path.write_bytes(data[: len(data) // 2])
    return path


def page_overwritten(path: Path) -> Path:
    """Header and schema intact (it opens), data pages in the middle overwritten."""
    data = real_cache(path)
    page = 4096
    assert len(data) > 40 * page
    path.write_bytes(data[: 5 * page] + b"\xff" * (20 * page) + data[25 * page:])
    return path


def assert_one_line(exc: ExplainrecError, path: Path, reason: str) -> None:
    msg = str(exc)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: the LLM response cache is damaged ({reason})"), msg
    for fragment in WAYS_OUT:
        assert fragment in msg, msg


@pytest.mark.parametrize("damage, reason", [(garbage, "file is not a database"),
                                            (truncated, "database disk image is malformed")])
def test_open_names_the_file_and_the_ways_out(tmp_path: Path, damage, reason: str) -> None:
    path = damage(tmp_path / "llm" / "responses.sqlite")
    with pytest.raises(DamagedCache) as info:
        ResponseCache(path)
    assert isinstance(info.value, ExplainrecError) and info.value.path == str(path)
    assert_one_line(info.value, path, reason)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_a_damaged_page_is_found_on_read(tmp_path: Path) -> None:
    path = page_overwritten(tmp_path / "responses.sqlite")
    with ResponseCache(path) as cache:  # the header and schema pages are intact: it opens
        with pytest.raises(DamagedCache) as info:
            cache.get_many(KEYS)
        assert_one_line(info.value, path, "database disk image is malformed")
        with pytest.raises(DamagedCache):
            len(cache)


def test_locked_is_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    real_cache(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with ResponseCache(path, timeout_s=0.05) as cache:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                cache.put_many([("k" * 64, Completion("x", 1, 1))])
            assert len(cache) == len(KEYS)  # readers are not blocked in WAL mode
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_sharing_reads_a_damaged_cache_as_one_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from explainrec.sharing import llm_cache
    from explainrec.sharing.__main__ import main

    bad = page_overwritten(tmp_path / "a" / "responses.sqlite")
    with pytest.raises(DamagedCache):
        llm_cache.local_keys(bad)
    with pytest.raises(DamagedCache):
        list(llm_cache._rows(bad, set(KEYS)))
    with pytest.raises(DamagedCache):
        llm_cache.local_keys(garbage(tmp_path / "b" / "responses.sqlite"))

    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                 [sys.executable, "-m", "dvc", "remote", "add", "-d", "shared", str(tmp_path / "store")]):
        subprocess.run(args, cwd=repo, check=True, capture_output=True)
    result = CliRunner().invoke(main, ["status", "--repo", str(repo), "--cache", str(bad)])
    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith(f"error: {bad}: the LLM response cache is damaged"), err


GOOD = [{"reviewerID": f"U{u}", "asin": f"B{i}", "overall": 4.0, "reviewText": "fine", "summary": "ok",
         "unixReviewTime": 1_300_000_000 + u * 10 + i} for u in range(6) for i in range(6) if (u + i) % 4 != 0]


def test_a_stage_stops_with_one_line(tmp_path: Path) -> None:
    """profiles (the first LLM stage) on tiny data with a truncated cache: exit 1, one `error:` line
    naming the file, no traceback, no output. The LLM is an unreachable endpoint: the cache is read
    before any call, so nothing reaches it."""
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    real = yaml.safe_load((REPO / "params.yaml").read_text())
    params = {"seed": 1, "dataset": "tiny", "datasets": {"tiny": {"format": "amazon", "reviews": "reviews.json"}},
              "filter": {"user_core": 2, "item_core": 2, "max_users": None, "max_items": None},
              "split": {"ratios": [3, 1, 1], "method": "random"}, "profiles": real["profiles"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "reviews.json").write_text("\n".join(json.dumps(r) for r in GOOD) + "\n")
    env = {**os.environ, "EXPLAINREC_CACHE": str(tmp_path / "cache")}
    for name in ("raw", "filter", "split"):
        proc = subprocess.run([sys.executable, *dvc_cmd(name)], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
    llm_json = tmp_path / "data" / "assets" / "llm" / "llm.json"
    llm_json.parent.mkdir(parents=True)
    llm_json.write_text(json.dumps({"name": "remote", "backend": "openai", "model": "m",
                                    "base_url": "http://127.0.0.1:9/v1", "max_retries": 0}))
    cache = truncated(tmp_path / "cache" / "llm" / "responses.sqlite")

    proc = subprocess.run([sys.executable, *dvc_cmd("profiles")], cwd=tmp_path, capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"error: {cache}: the LLM response cache is damaged (database disk image is malformed)")
    for fragment in WAYS_OUT:
        assert fragment in err, err
    assert not (tmp_path / "data" / "profiles").exists() and not (tmp_path / "metrics" / "profiles.json").exists()
    assert not list(tmp_path.rglob(".*.tmp-*"))
