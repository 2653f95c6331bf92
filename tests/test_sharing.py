"""End to end: sharing a run's artifacts through real DVC remotes, as a team would.

One tiny project (the real dvc.yaml and stages, tests/dvc_project.py) runs ``dvc repro`` once and
pushes to an S3, an SFTP and a WebDAV server (``rclone serve s3|sftp|webdav`` on 127.0.0.1, started
and stopped here) and to a local folder. Fresh ``git clone``s then ``dvc pull``: ``dvc repro`` runs
nothing, every output is byte for byte the origin's and ``dvc status -c`` is clean. The run-cache
restores a param value run before instead of running it, here and, pushed with its objects
(``python -m explainrec.sharing push-run-cache``), in a clone with ``dvc repro --pull``; the LLM
response cache pulled through the same remote answers a rerun's every call.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.dvc_project import dvc, make_tiny_project, ran, run, set_param
from tests.servers import LoginServer, S3Server, rclone_s3, rclone_sftp, rclone_webdav

pytestmark = pytest.mark.slow

#: the stages that only tabulate other stages' metrics (seconds each): DVC reruns them rather than restoring them
#: from the run-cache (their deps are folders of other stages' git-tracked metrics files); every other stage of
#: the param value is restored
TABLES = {"eval_summary", "xrec_report", "lrrecsys_report"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with rclone_s3(tmp_path_factory.mktemp("s3") / "root") as server:
        yield server


@pytest.fixture(scope="module")
def sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginServer]:
    with rclone_sftp(tmp_path_factory.mktemp("sftp") / "root") as server:
        yield server


@pytest.fixture(scope="module")
def webdav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoginServer]:
    with rclone_webdav(tmp_path_factory.mktemp("webdav") / "root") as server:
        (server.root / "store").mkdir()  # a WebDAV remote's folder must exist (DVC creates only what is under it)
        yield server


def s3_credentials(repo: Path, s3: S3Server) -> None:
    """What each teammate keeps in their own, never committed, .dvc/config.local."""
    dvc(repo, "remote", "modify", "--local", "s3", "access_key_id", s3.key)
    dvc(repo, "remote", "modify", "--local", "s3", "secret_access_key", s3.secret)


def login_credentials(repo: Path, remote: str, server: LoginServer) -> None:
    """The same for an SFTP or WebDAV remote: a user and a password."""
    dvc(repo, "remote", "modify", "--local", remote, "user", server.user)
    dvc(repo, "remote", "modify", "--local", remote, "password", server.password)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, s3: S3Server, sftp: LoginServer,
           webdav: LoginServer) -> Path:
    """A tiny project after one ``dvc repro``, committed with four remotes configured (s3 the default)."""
    root = make_tiny_project(tmp_path_factory.mktemp("origin"), tiny_model_dir)
    dvc(root, "repro")
    dvc(root, "remote", "add", "-d", "s3", f"s3://{s3.bucket}/store")
    dvc(root, "remote", "modify", "s3", "endpointurl", s3.endpoint)
    s3_credentials(root, s3)
    dvc(root, "remote", "add", "sftp", sftp.remote("store"))
    login_credentials(root, "sftp", sftp)
    dvc(root, "remote", "add", "webdav", webdav.remote("store"))
    login_credentials(root, "webdav", webdav)
    dvc(root, "remote", "add", "folder", str(tmp_path_factory.mktemp("folder-remote")))
    run(root, "git", "add", "-A")
    run(root, "git", "commit", "-qm", "a run")
    committed = run(root, "git", "show", "HEAD:.dvc/config").stdout
    assert "secret_access_key" not in committed and "password" not in committed
    return root


def outputs(root: Path) -> dict[str, bytes]:
    """Every file of every stage output in dvc.lock, by path."""
    files: dict[str, bytes] = {}
    for stage in yaml.safe_load((root / "dvc.lock").read_text())["stages"].values():
        for out in stage.get("outs", []):
            path = root / out["path"]
            for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if f.is_file():
                    files[str(f.relative_to(root))] = f.read_bytes()
    return files


def clone(origin: Path, dest: Path) -> Path:
    run(dest.parent, "git", "clone", "-q", str(origin), str(dest))
    return dest


def check_pulled(origin: Path, repo: Path, remote: str) -> None:
    assert ran(dvc(repo, "repro")) == set()
    assert json.loads(dvc(repo, "status", "--json").stdout) == {}
    mine, theirs = outputs(repo), outputs(origin)
    assert len(mine) > 50 and mine.keys() == theirs.keys()
    assert [p for p in mine if mine[p] != theirs[p]] == []
    assert json.loads(dvc(repo, "status", "-c", "-r", remote, "--json").stdout) == {}


def push_and_pull(origin: Path, tmp_path: Path, remote: str, credentials: Callable[[Path], None]) -> None:
    """The origin pushes its outputs and LLM answers to ``remote``; a fresh clone with the teammate's own
    ``credentials`` pulls both, runs nothing and generates no answer."""
    select = [] if remote == "s3" else ["-r", remote]  # s3, the default remote, is named by nothing
    assert "pushed" in dvc(origin, "push", *select).stdout
    share = run(origin, sys.executable, "-m", "explainrec.sharing", "push", *select).stdout
    paid = int(re.search(r"pushed (\d+) LLM answers", share).group(1))
    assert paid > 0 and f"to remote '{remote}'" in share

    repo = clone(origin, tmp_path / "teammate")
    credentials(repo)
    dvc(repo, "pull", *select)
    check_pulled(origin, repo, remote)

    # the LLM answers travel the same way: a forced rerun of the profiles generates nothing
    pulled = run(repo, sys.executable, "-m", "explainrec.sharing", "pull", *select).stdout
    assert f"pulled {paid} LLM answers" in pulled
    dvc(repo, "repro", "--force", "--single-item", "profiles")
    llm = json.loads((repo / "metrics" / "profiles.json").read_text())["llm"]
    assert llm["cache_hits"] > 0 and llm["llm_calls"] == 0  # llm_calls counts the answers generated
    assert json.loads(dvc(repo, "status", "--json").stdout) == {}  # same answers, same profiles


def test_push_pull_through_s3(origin: Path, s3: S3Server, tmp_path: Path) -> None:
    push_and_pull(origin, tmp_path, "s3", lambda repo: s3_credentials(repo, s3))


def test_push_pull_through_sftp(origin: Path, sftp: LoginServer, tmp_path: Path) -> None:
    push_and_pull(origin, tmp_path, "sftp", lambda repo: login_credentials(repo, "sftp", sftp))


def test_push_pull_through_webdav(origin: Path, webdav: LoginServer, tmp_path: Path) -> None:
    push_and_pull(origin, tmp_path, "webdav", lambda repo: login_credentials(repo, "webdav", webdav))


def test_push_pull_through_a_local_folder(origin: Path, tmp_path: Path) -> None:
    dvc(origin, "push", "-r", "folder")
    repo = clone(origin, tmp_path / "teammate")
    dvc(repo, "pull", "-r", "folder")
    check_pulled(origin, repo, "folder")


def test_run_cache_restores_a_param_value_run_before_here_and_in_a_clone(origin: Path, s3: S3Server,
                                                                        tmp_path: Path) -> None:
    set_param(origin, "xrec.generate.max_new_tokens", 6)  # XRec's generation and what reads it
    tried = ran(dvc(origin, "repro"))
    assert {"xrec_generate@full", "evaluate@xrec", "report"} <= tried
    at_six = outputs(origin)
    pushed = run(origin, sys.executable, "-m", "explainrec.sharing", "push-run-cache").stdout
    entries = len(list((origin / ".dvc/cache/runs").glob("*/*/*")))
    assert re.search(rf"pushed {entries} run-cache entries and [1-9]\d* objects of their outputs \(0 missing", pushed)
    assert entries > 30
    run(origin, "git", "checkout", "params.yaml")
    back = dvc(origin, "repro")  # back to the committed value: restored from the run-cache, not run
    assert ran(back) <= TABLES and "xrec_generate@full' is cached - skipping run" in back.stdout
    assert json.loads(dvc(origin, "status", "--json").stdout) == {}

    # a teammate's fresh clone sets the value the origin ran: entries and objects come from the remote, nothing
    # that took more than a table runs, and every output is the origin's
    repo = clone(origin, tmp_path / "teammate")
    s3_credentials(repo, s3)
    set_param(repo, "xrec.generate.max_new_tokens", 6)
    again = dvc(repo, "repro", "--pull")
    assert ran(again) <= TABLES, again.stdout
    assert "xrec_generate@full' is cached - skipping run" in again.stdout
    mine = outputs(repo)
    assert mine.keys() == at_six.keys() and [p for p in mine if mine[p] != at_six[p]] == []
