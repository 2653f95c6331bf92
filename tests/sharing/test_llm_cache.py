"""The LLM response cache pushed to and pulled from real DVC remotes: a local folder, and S3, SFTP
and WebDAV servers (rclone) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from explainrec.core.errors import InputError
from explainrec.llm.cache import ResponseCache, cache_key
from explainrec.llm.types import ChatRequest, Completion
from explainrec.sharing import llm_cache
from tests.servers import LoginServer, rclone_s3, rclone_sftp, rclone_webdav

IDENTITY = "local:tiny|float32"


def fill(path: Path, prompts: list[str]) -> dict[str, Completion]:
    requests = [ChatRequest.of(None, p, max_new_tokens=8) for p in prompts]
    keys = [cache_key(IDENTITY, r) for r in requests]
    answers = [Completion(f"answer to {p}", 3, 2) for p in prompts]
    with ResponseCache(path) as cache:
        cache.put_many(zip(keys, answers), identity=IDENTITY, requests=requests)
    return dict(zip(keys, answers))


def dvc_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    for args in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(args, cwd=root, check=True, capture_output=True)
    return root


def add_remote(repo: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", "remote", *args], cwd=repo, check=True, capture_output=True)


def round_trip(repo: Path, tmp_path: Path, name: str) -> None:
    remote = llm_cache.open_remote(repo, name)
    a, b = tmp_path / "a" / "responses.sqlite", tmp_path / "b" / "responses.sqlite"
    first = fill(a, ["one", "two", "three"])
    assert llm_cache.push(a, remote) == {"pushed": 3, "already": 0}
    assert llm_cache.push(a, remote) == {"pushed": 0, "already": 3}  # only what the remote lacks
    fill(b, ["three"])  # b paid for one of them already
    assert llm_cache.status(b, remote) == {"local_only": 0, "remote_only": 2, "both": 1}
    assert llm_cache.pull(b, remote) == {"pulled": 2, "already": 1}
    with ResponseCache(b) as cache:
        got = cache.get_many(first)
    assert {k: (c.text, c.prompt_tokens, c.completion_tokens, c.cached) for k, c in got.items()} == \
        {k: (c.text, c.prompt_tokens, c.completion_tokens, True) for k, c in first.items()}
    second = fill(b, ["four"])  # a teammate's new answer goes back the other way
    assert llm_cache.push(b, remote)["pushed"] == 1
    assert llm_cache.pull(a, remote) == {"pulled": 1, "already": 3}
    with ResponseCache(a) as cache:
        assert cache.get_many(second)[next(iter(second))].text == "answer to four"


def test_local_folder_remote_round_trip(tmp_path: Path) -> None:
    repo = dvc_repo(tmp_path / "repo")
    add_remote(repo, "add", "-d", "shared", str(tmp_path / "store"))
    round_trip(repo, tmp_path, "shared")
    objects = sorted((tmp_path / "store" / "explainrec" / "llm-cache").rglob("*.json"))
    assert len(objects) == 4 and all(len(p.parent.name + p.stem) == 64 for p in objects)


@pytest.mark.slow
def test_s3_remote_round_trip(tmp_path: Path) -> None:
    repo = dvc_repo(tmp_path / "repo")
    with rclone_s3(tmp_path / "s3") as s3:
        add_remote(repo, "add", "-d", "s3", f"s3://{s3.bucket}/store")
        add_remote(repo, "modify", "s3", "endpointurl", s3.endpoint)
        add_remote(repo, "modify", "--local", "s3", "access_key_id", s3.key)
        add_remote(repo, "modify", "--local", "s3", "secret_access_key", s3.secret)
        round_trip(repo, tmp_path, None)
    assert len(list((tmp_path / "s3" / s3.bucket / "store" / "explainrec" / "llm-cache").rglob("*.json"))) == 4
    assert "secret" not in (repo / ".dvc" / "config").read_text()  # credentials stay in config.local


@pytest.mark.slow
@pytest.mark.parametrize("serve", [rclone_sftp, rclone_webdav], ids=["sftp", "webdav"])
def test_login_remote_round_trip(tmp_path: Path, serve: Callable[..., AbstractContextManager[LoginServer]]) -> None:
    repo = dvc_repo(tmp_path / "repo")
    with serve(tmp_path / "served") as server:
        (server.root / "store").mkdir()  # a WebDAV remote's folder must exist (DVC creates only what is under it)
        add_remote(repo, "add", "-d", "shared", server.remote("store"))
        add_remote(repo, "modify", "--local", "shared", "user", server.user)
        add_remote(repo, "modify", "--local", "shared", "password", server.password)
        round_trip(repo, tmp_path, None)
    assert len(list((tmp_path / "served" / "store" / "explainrec" / "llm-cache").rglob("*.json"))) == 4
    assert "secret" not in (repo / ".dvc" / "config").read_text()  # credentials stay in config.local


@pytest.mark.slow
def test_a_refused_login_is_one_line(tmp_path: Path) -> None:
    """A wrong WebDAV password: `error: ...` on one line naming the fix, exit 1, no traceback (SFTP is left
    out: dvc-ssh then asks for a password on the terminal)."""
    repo = dvc_repo(tmp_path / "repo")
    cache = tmp_path / "responses.sqlite"
    fill(cache, ["one"])
    with rclone_webdav(tmp_path / "served") as server:
        (server.root / "store").mkdir()
        add_remote(repo, "add", "-d", "shared", server.remote("store"))
        add_remote(repo, "modify", "--local", "shared", "user", server.user)
        add_remote(repo, "modify", "--local", "shared", "password", "not-the-password")
        proc = subprocess.run([sys.executable, "-m", "explainrec.sharing", "push", "--cache", str(cache)], cwd=repo,
                              capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: the remote refused or failed the transfer") and "401" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_bad_remote_object_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    repo = dvc_repo(tmp_path / "repo")
    add_remote(repo, "add", "-d", "shared", str(tmp_path / "store"))
    remote = llm_cache.open_remote(repo)
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    keys = list(fill(a, ["one", "two"]))
    llm_cache.push(a, remote)
    bad = Path(remote.path(keys[1]))
    entry = json.loads(bad.read_text())
    bad.write_text(json.dumps({**entry, "completion_tokens": "two"}))
    with pytest.raises(InputError, match=r"llm-cache/.*\.json: field 'completion_tokens': expected an integer"):
        llm_cache.pull(b, remote)
    assert llm_cache.local_keys(b) == set()
    bad.write_text(json.dumps({**entry, "key": keys[0]}))
    with pytest.raises(InputError, match="field 'key': expected the key its path names"):
        llm_cache.pull(b, remote)


def test_cli_one_line_errors(tmp_path: Path) -> None:
    repo = dvc_repo(tmp_path / "repo")
    cmd = [sys.executable, "-m", "explainrec.sharing", "push", "--cache", str(tmp_path / "c.sqlite")]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "no remote specified" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    add_remote(repo, "add", "-d", "shared", str(tmp_path / "store"))
    fill(tmp_path / "c.sqlite", ["one"])
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("pushed 1 LLM answers") and "to remote 'shared'" in proc.stdout
    proc = subprocess.run([*cmd[:3], "status", "-r", "nope"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 1 and "remote 'nope' doesn't exist" in proc.stderr
