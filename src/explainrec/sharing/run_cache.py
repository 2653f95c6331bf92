"""DVC's run-cache pushed with every object its entries name, so a clone restores a stage instead of running it.

``dvc push --run-cache`` (DVC 3.67) uploads the entries (``.dvc/cache/runs``) but not the objects
of the outputs they name unless the workspace's ``dvc push`` sends them anyway. The objects of a
stage's ``cache: false`` outputs (its git-tracked metrics files) are committed to the local cache
when the entry is saved and never uploaded, nor are the cached outputs of a param value no longer
in the workspace; a clone then finds the entry, lacks an object and runs the stage. :func:`push`
uploads the entries and every object they name that the remote lacks, with DVC's own transfer
(checksums, ``-j`` jobs, the remote's settings and credentials). A clone then restores such a
stage with ``dvc repro --pull``, which fetches the entries and, stage by stage, the objects.
"""

from __future__ import annotations

from pathlib import Path


def push(repo: str | Path = ".", remote: str | None = None, jobs: int | None = None) -> dict[str, int]:
    """Upload the run-cache entries and their outputs' objects; ``{"entries", "objects", "failed"}``.

    ``objects`` counts the objects sent (those the remote had are skipped), ``failed`` those
    missing from the local cache too (DVC names each in a warning)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        entries = dvc_repo.stage_cache.push(remote)  # raises RunCacheNotSupported (a DvcException) for http
        sent = failed = 0
        for odb, objs in dvc_repo.stage_cache.get_used_objs(entries).items():
            result = dvc_repo.cloud.push(objs, jobs, remote=remote, odb=odb)
            sent += len(result.transferred)
            failed += len(result.failed)
    return {"entries": len(entries), "objects": sent, "failed": failed}
