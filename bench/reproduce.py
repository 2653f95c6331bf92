"""Did a rerun reproduce the committed outputs? The workspace's dvc.lock against a committed one, output by output.

    python bench/reproduce.py --rev HEAD                 # dvc.lock against `git show HEAD:dvc.lock`
    python bench/reproduce.py --against other/dvc.lock   # against another lock file
    python bench/reproduce.py --data split --data evaluate --no-metrics   # only these stages' data outputs

Run from the repository root, after ``dvc repro`` (or ``dvc repro --force``, or in a fresh clone
with an empty cache). Per stage (``evaluate@full`` and the other foreach instances included) and
per output it prints identical, differs, missing (only in the old lock) or new (only in the new
one), with the detail :mod:`explainrec.reproduce` can give: the files that differ inside a
folder (from the ``.dir`` manifests in the DVC cache), the rows, columns and largest absolute
difference of a differing parquet/csv table (old object from the cache, new from the workspace),
the values that differ in a metrics JSON (old version from git; timing keys ignored). Data
outputs (DVC-cached) and metrics (git-tracked: ``cache: false`` in dvc.yaml, as DVC reports
them) are listed apart. The last line is ``N of M data outputs identical``.

Exit status: 0 when every data output is identical, 1 when one differs, is missing or is new,
2 for bad input (an unreadable lock, an unknown revision, a --data that names nothing), with a
one-line ``error:`` naming the file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click


def _dvc_facts(root: Path) -> tuple[set[str], Path | None, set[str] | None]:
    """The git-tracked output paths of the project at ``root`` (DVC's ``cache: false`` outputs, and every
    file git tracks), its DVC cache's ``files/md5`` folder (``.dvc/cache`` when DVC cannot say) and the
    names of its pipeline's stages (None when DVC cannot read it)."""
    proc = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True)
    tracked = set(proc.stdout.split("\0")) - {""} if proc.returncode == 0 else set()
    cache = root / ".dvc" / "cache" / "files" / "md5"
    stages: set[str] | None = None
    try:
        from dvc.repo import Repo

        with Repo(str(root)) as repo:
            tracked |= {Path(o.def_path).as_posix() for o in repo.index.outs if not o.use_cache}
            cache = Path(repo.cache.local.path)
            stages = {s.addressing for s in repo.index.stages} or None  # no dvc.yaml: nothing to tell
    except Exception:  # not a DVC project, or one DVC cannot read: what git says, and the default cache
        pass
    return tracked, cache if cache.is_dir() else None, stages


@click.command()
@click.option("--lock", "lock_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("dvc.lock"),
              show_default=True, help="the new lock; its folder is the workspace its paths are relative to")
@click.option("--rev", default=None,
              help="the git revision whose dvc.lock is the old one (default: HEAD, unless --against)")
@click.option("--against", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="another lock file as the old one, instead of a git revision (metrics then have no old version "
                   "unless the DVC cache has it)")
@click.option("--data", "select", multiple=True, metavar="STAGE|PATH",
              help="compare only this stage (`evaluate` is every evaluate@...; `evaluate@full` one), output path, "
                   "or folder above outputs; repeat it; default: every output")
@click.option("--metrics/--no-metrics", "with_metrics", default=True, show_default=True,
              help="also compare the git-tracked metrics files (they never change the exit status)")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DVC's cache of file objects (default: the project's, .dvc/cache/files/md5)")
def main(lock_path: Path, rev: str | None, against: Path | None, select: tuple[str, ...], with_metrics: bool,
         cache: Path | None) -> None:
    """Compare the workspace's dvc.lock with a committed one (or another lock), output by output."""
    from explainrec.core.errors import ExplainrecError
    from explainrec.reproduce import compare_locks, git_show, lock_at_rev, read_lock

    if rev is not None and against is not None:
        click.echo("error: give --rev or --against, not both", err=True)
        sys.exit(2)
    root = lock_path.parent
    try:
        new = read_lock(lock_path)
        if against is not None:
            old, old_label, read_old = read_lock(against), str(against), None
        else:
            rev = rev or "HEAD"
            old, old_label = lock_at_rev(root, rev, lock_path.name), f"{rev}:{lock_path.name}"
            read_old = lambda path: git_show(root, rev, path)  # noqa: E731
        tracked, project_cache, stages = _dvc_facts(root)
        report = compare_locks(old, new, workspace=root, cache=cache or project_cache, git_tracked=tracked,
                               read_old=read_old, select=select, metrics=with_metrics, old_label=old_label,
                               new_label=str(lock_path), pipeline=stages)
    except ExplainrecError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo("\n".join(report.lines()))
    sys.exit(report.exit_code)


if __name__ == "__main__":
    main()
