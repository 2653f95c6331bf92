"""Push, pull or compare the LLM response cache with a DVC remote (:mod:`explainrec.sharing.llm_cache`);
push the run-cache with the objects it needs (:mod:`explainrec.sharing.run_cache`).

    python -m explainrec.sharing push   [-r REMOTE] [-j JOBS]   # upload the answers the remote lacks
    python -m explainrec.sharing pull   [-r REMOTE] [-j JOBS]   # download the answers this cache lacks
    python -m explainrec.sharing status [-r REMOTE]
    python -m explainrec.sharing push-run-cache [-r REMOTE] [-j JOBS]  # dvc push --run-cache, objects included

Run from the repository root: the remote is one of ``dvc remote list`` (default: the
default remote), the cache is ``$EXPLAINREC_CACHE/llm/responses.sqlite`` unless ``--cache``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

REMOTE = click.option("-r", "--remote", default=None, help="a DVC remote's name (default: the default remote)")
JOBS = click.option("-j", "--jobs", type=click.IntRange(1), default=None, help="parallel transfers (default: fs's own)")
CACHE = click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="the sqlite response cache (default: $EXPLAINREC_CACHE/llm/responses.sqlite)")
REPO = click.option("--repo", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."),
                    help="the DVC repository whose remotes are used")


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """A bad remote, cache or answer: ``error: <first line>`` and exit 1."""
    from dvc.exceptions import DvcException

    from explainrec.core.errors import ExplainrecError

    try:
        yield
    except (ExplainrecError, DvcException) as exc:
        click.echo(f"error: {_first_line(exc) or type(exc).__name__}", err=True)
        sys.exit(1)
    except _transfer_errors() as exc:
        click.echo(f"error: the remote refused or failed the transfer ({type(exc).__name__}: {_first_line(exc)}); "
                   f"check its URL and credentials (dvc remote list; dvc remote modify --local NAME user/password/...)", err=True)
        sys.exit(1)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


def _transfer_errors() -> tuple[type[BaseException], ...]:
    """What the remotes' clients raise for a refused login or a failed request: OSError (local folders,
    fsspec's FileNotFoundError/PermissionError) and the WebDAV, S3 and SSH clients' own errors, looked up
    among the modules the transfer imported (importing one here would only print its warnings)."""
    found: list[type[BaseException]] = [OSError]
    for module, name in (("webdav4.client", "HTTPError"), ("botocore.exceptions", "BotoCoreError"),
                         ("botocore.exceptions", "ClientError"), ("asyncssh", "Error")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def _run(action: str, repo: Path, remote_name: str | None, cache_path: Path | None, jobs: int | None) -> None:
    from explainrec.llm.cache import default_cache_path
    from explainrec.sharing import llm_cache

    path = cache_path or default_cache_path()
    with _one_line_errors():
        remote = llm_cache.open_remote(repo, remote_name)
        if action == "push":
            n = llm_cache.push(path, remote, jobs)
            click.echo(f"pushed {n['pushed']} LLM answers from {path} to remote '{remote.name}' "
                       f"({n['already']} were there already)")
        elif action == "pull":
            n = llm_cache.pull(path, remote, jobs)
            click.echo(f"pulled {n['pulled']} LLM answers from remote '{remote.name}' into {path} "
                       f"({n['already']} were here already)")
        else:
            n = llm_cache.status(path, remote)
            click.echo(f"{path} against remote '{remote.name}': {n['local_only']} answers only here, "
                       f"{n['remote_only']} only on the remote, {n['both']} on both")


@click.group()
def main() -> None:
    """Share the LLM response cache through a DVC remote, so each LLM call is paid for once."""


@main.command("push")
@REMOTE
@JOBS
@CACHE
@REPO
def push_cmd(remote: str | None, jobs: int | None, cache_path: Path | None, repo: Path) -> None:
    """Upload the cached answers the remote lacks."""
    _run("push", repo, remote, cache_path, jobs)


@main.command("pull")
@REMOTE
@JOBS
@CACHE
@REPO
def pull_cmd(remote: str | None, jobs: int | None, cache_path: Path | None, repo: Path) -> None:
    """Download the answers this cache lacks."""
    _run("pull", repo, remote, cache_path, jobs)


@main.command("push-run-cache")
@REMOTE
@JOBS
@REPO
def push_run_cache_cmd(remote: str | None, jobs: int | None, repo: Path) -> None:
    """Upload the run-cache and the objects its entries name, which `dvc push --run-cache` leaves out.

    A clone then restores those stages with `dvc repro --pull` instead of running them."""
    from explainrec.sharing import run_cache

    with _one_line_errors():
        n = run_cache.push(repo, remote, jobs)
    click.echo(f"pushed {n['entries']} run-cache entries and {n['objects']} objects of their outputs "
               f"({n['failed']} missing here)")
    if n["failed"]:
        sys.exit(1)


@main.command("status")
@REMOTE
@CACHE
@REPO
def status_cmd(remote: str | None, cache_path: Path | None, repo: Path) -> None:
    """Count the answers only here, only on the remote, and on both."""
    _run("status", repo, remote, cache_path, None)


if __name__ == "__main__":
    main()
