"""Did a rerun reproduce the committed outputs? Two ``dvc.lock`` files compared output by output.

``bench/reproduce.py`` is the command (``python bench/reproduce.py --rev HEAD``); this module is
its library: it reads two locks as DVC 3 writes them (``schema: '2.0'``, ``stages: <name>: outs:
- {path, hash: md5, md5, size[, nfiles]}``, foreach instances as ``evaluate@full``) and compares
every output's hash. An output is one of two kinds:

* a **data output**: cached by DVC (a folder, whose md5 ends in ``.dir``, or a file). Where two
  hashes differ, the detail comes from DVC's cache (``.dvc/cache/files/md5/<2>/<rest>``): for a
  folder, its ``.dir`` manifests (a JSON list of ``{md5, relpath}``) say which files differ; a
  differing parquet or csv table (old object from the cache, new one from the workspace) is read
  with pandas: how many rows differ, in which columns, and the largest absolute difference of each
  numeric column.
* a **metrics** file: git-tracked (``cache: false`` in dvc.yaml; the lock still lists its md5), so
  its old version comes from git (``git show REV:path``). A JSON file is compared leaf by leaf,
  ignoring timing keys (:data:`TIMING_KEYS`): how many values differ and by how much at most.

Data outputs decide the verdict (:attr:`Report.exit_code`); metrics carry timings and the
machine, so they are reported beside it. Nothing here reads params.yaml or dvc.yaml: which paths
are git-tracked is the caller's to say (the command asks DVC).
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import io
import json
import math
import subprocess
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from explainrec.core.errors import InputError, ParamError

#: JSON keys whose values are timings or rates, never compared: a key named like one of these
#: patterns (fnmatch, case-insensitive) is ignored with everything under it. ``*_s`` covers the
#: project's ``decode_s``, ``prefill_s``, ``tokens_per_s``, ``tok_per_s``.
TIMING_KEYS: tuple[str, ...] = ("seconds", "*_seconds", "seconds_*", "wall", "wall_s", "elapsed", "*_s",
                                "*_share_of_time")
#: file suffixes read as tables
TABLE_SUFFIXES = (".parquet", ".csv")

DATA, METRICS = "data", "metrics"
IDENTICAL, DIFFERS, MISSING, NEW = "identical", "differs", "missing", "new"


# --- the lock ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LockOut:
    """One output of one stage as a ``dvc.lock`` records it."""

    stage: str
    path: str
    md5: str | None
    size: int | None = None
    nfiles: int | None = None
    hash: str = "md5"

    @property
    def is_dir(self) -> bool:
        return bool(self.md5) and self.md5.endswith(".dir")

    def same_as(self, other: LockOut) -> bool:
        return self.md5 is not None and (self.md5, self.hash) == (other.md5, other.hash)


#: ``(stage, path) -> LockOut`` in the lock's order
Lock = dict[tuple[str, str], LockOut]


def parse_lock(text: str | bytes, where: str) -> Lock:
    """The outputs of a ``dvc.lock``'s text; an :class:`InputError` naming ``where`` when it is not one."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(where, "(file)", f"valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
        raise InputError(where, "stages", "a mapping of stage names (a dvc.lock as DVC 3 writes it)",
                         type(doc.get("stages") if isinstance(doc, dict) else doc).__name__)
    if str(doc.get("schema")) != "2.0":
        raise InputError(where, "schema", "'2.0' (a dvc.lock as DVC 3 writes it)", doc.get("schema"))
    lock: Lock = {}
    for stage, body in doc["stages"].items():
        if not isinstance(body, dict):
            raise InputError(where, f"stages.{stage}", "a mapping with cmd, deps, outs", type(body).__name__)
        outs = body.get("outs") or []
        if not isinstance(outs, list):
            raise InputError(where, f"stages.{stage}.outs", "a list of outputs", type(outs).__name__)
        for i, out in enumerate(outs):
            name = f"stages.{stage}.outs[{i}]"
            if not isinstance(out, dict) or not isinstance(out.get("path"), str):
                raise InputError(where, f"{name}.path", "a string", out.get("path") if isinstance(out, dict) else out)
            for key in ("size", "nfiles"):
                if out.get(key) is not None and (not isinstance(out[key], int) or isinstance(out[key], bool)):
                    raise InputError(where, f"{name}.{key}", "an integer", out[key])
            md5 = out.get("md5")
            if md5 is not None and not isinstance(md5, str):
                raise InputError(where, f"{name}.md5", "a string", md5)
            lock[(str(stage), out["path"])] = LockOut(str(stage), out["path"], md5, out.get("size"),
                                                      out.get("nfiles"), str(out.get("hash", "md5")))
    return lock


def read_lock(path: str | Path) -> Lock:
    """:func:`parse_lock` of a file."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "(file)", "a dvc.lock (run `dvc repro` first, or name another with --lock)") \
            from None
    except OSError as exc:
        raise InputError(path, "(file)", "a readable dvc.lock", exc.strerror) from None
    return parse_lock(text, str(path))


def git_show(root: str | Path, rev: str, path: str) -> bytes | None:
    """``git show REV:./path`` run in ``root``; None when git cannot give it."""
    proc = subprocess.run(["git", "show", f"{rev}:./{path}"], cwd=root, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def lock_at_rev(root: str | Path, rev: str, lock_name: str = "dvc.lock") -> Lock:
    """The ``dvc.lock`` committed at ``rev`` (``lock_name`` relative to ``root``)."""
    where = f"{rev}:{lock_name}"
    proc = subprocess.run(["git", "show", f"{rev}:./{lock_name}"], cwd=root, capture_output=True)
    if proc.returncode != 0:
        said = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(where, "(file)", "a dvc.lock committed at that git revision", said[0] if said else None)
    return parse_lock(proc.stdout, where)


# --- the cache and the workspace ---------------------------------------------------------------------

def cache_object(cache: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object ``md5`` under ``cache`` (the ``.dvc/cache/files/md5`` folder)."""
    return cache / md5[:2] / md5[2:]


def read_manifest(cache: Path | None, md5: str) -> dict[str, str] | None:
    """A folder's ``.dir`` manifest from the cache as ``relpath -> md5``; None when it is not there."""
    if cache is None:
        return None
    try:
        entries = json.loads(cache_object(cache, md5).read_bytes())
        return {e["relpath"]: e["md5"] for e in entries}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def workspace_manifest(folder: Path) -> dict[str, str] | None:
    """``relpath -> md5`` of the files in a workspace folder (as DVC 3 hashes them); None when absent."""
    if not folder.is_dir():
        return None
    return {p.relative_to(folder).as_posix(): md5_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# --- tables ------------------------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return f"{x:.6g}"


@dataclass(frozen=True)
class TableDiff:
    """Two versions of a table compared row by row (by position)."""

    old_rows: int
    new_rows: int
    rows_differ: int  # among the first min(old_rows, new_rows)
    columns: dict[str, float | None]  # column whose values differ -> max |difference| (numeric) or None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    dtypes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return (self.old_rows == self.new_rows and not self.rows_differ and not self.added and not self.removed
                and not self.dtypes)

    def describe(self) -> str:
        n = min(self.old_rows, self.new_rows)
        parts = []
        if self.old_rows != self.new_rows:
            parts.append(f"rows {self.old_rows} -> {self.new_rows} (the first {n} compared)")
        if self.removed:
            parts.append("columns removed: " + ", ".join(self.removed))
        if self.added:
            parts.append("columns added: " + ", ".join(self.added))
        if self.dtypes:
            parts.append("types changed: " + ", ".join(f"{c} {a} -> {b}" for c, (a, b) in self.dtypes.items()))
        if self.rows_differ:
            cols = ", ".join(c if d is None else f"{c} (max |diff| {_fmt(d)})" for c, d in self.columns.items())
            plural = "s" if len(self.columns) > 1 else ""
            parts.append(f"{self.rows_differ} of {n} rows differ in column{plural} {cols}")
        return "; ".join(parts) if parts else f"same {n} rows and values (only the file's bytes differ)"


def _is_na(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and math.isnan(v))


def _same(p: Any, q: Any) -> bool:
    """Cell equality for non-numeric columns: NA equals NA; arrays and lists element by element."""
    if _is_na(p) or _is_na(q):
        return _is_na(p) and _is_na(q)
    seq = (np.ndarray, list, tuple)
    if isinstance(p, seq) or isinstance(q, seq):
        if not (isinstance(p, seq) and isinstance(q, seq)) or len(p) != len(q):
            return False
        if isinstance(p, np.ndarray) and isinstance(q, np.ndarray) and p.dtype.kind in "biuf" \
                and q.dtype.kind in "biuf":  # an embedding: one vectorised comparison
            floats = p.dtype.kind == "f" and q.dtype.kind == "f"
            return p.shape == q.shape and bool(np.array_equal(p, q, equal_nan=floats))
        return all(_same(x, y) for x, y in zip(p, q))
    if isinstance(p, dict) and isinstance(q, dict):
        return p.keys() == q.keys() and all(_same(p[k], q[k]) for k in p)
    try:
        return bool(p == q)
    except (TypeError, ValueError):
        return repr(p) == repr(q)


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _column_diff(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, float | None]:
    """Which rows differ, and the largest |difference| among them (numeric columns with a number each side)."""
    if _numeric(a) and _numeric(b):
        if pd.api.types.is_integer_dtype(a.dtype) and pd.api.types.is_integer_dtype(b.dtype) \
                and not a.hasnans and not b.hasnans:
            x, y = a.to_numpy(), b.to_numpy()
            neq = x != y
            diffs = np.abs(x[neq].astype("float64") - y[neq].astype("float64"))
        else:
            x, y = a.to_numpy(dtype="float64", na_value=np.nan), b.to_numpy(dtype="float64", na_value=np.nan)
            neq = (x != y) & ~(np.isnan(x) & np.isnan(y))
            diffs = np.abs(x[neq] - y[neq])
            diffs = diffs[~np.isnan(diffs)]
        return neq, (float(diffs.max()) if diffs.size else None)
    neq = np.fromiter((not _same(p, q) for p, q in zip(a.tolist(), b.tolist())), dtype=bool, count=len(a))
    return neq, None


def compare_tables(old: pd.DataFrame, new: pd.DataFrame) -> TableDiff:
    """Row by row (by position, over the shorter one) and column by column (by name)."""
    common = [c for c in old.columns if c in new.columns]
    n = min(len(old), len(new))
    a, b = old.iloc[:n].reset_index(drop=True), new.iloc[:n].reset_index(drop=True)
    rows = np.zeros(n, dtype=bool)
    columns: dict[str, float | None] = {}
    for c in common:
        neq, biggest = _column_diff(a[c], b[c])
        if neq.any():
            rows |= neq
            columns[str(c)] = biggest
    dtypes = {str(c): (str(old[c].dtype), str(new[c].dtype)) for c in common if str(old[c].dtype) != str(new[c].dtype)}
    return TableDiff(len(old), len(new), int(rows.sum()), columns,
                     tuple(str(c) for c in new.columns if c not in old.columns),
                     tuple(str(c) for c in old.columns if c not in new.columns), dtypes)


def table_from(data: bytes | Path, name: str) -> pd.DataFrame:
    """A parquet or csv table (``name``'s suffix says which) from bytes or a file."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return pd.read_parquet(source) if name.endswith(".parquet") else pd.read_csv(source)


# --- JSON metrics ------------------------------------------------------------------------------------

def is_timing_key(key: str, patterns: Sequence[str] = TIMING_KEYS) -> bool:
    return any(fnmatch.fnmatchcase(key.lower(), p) for p in patterns)


def _leaves(x: Any, path: str, timing: bool, patterns: Sequence[str], out: dict[str, tuple[Any, bool]]) -> None:
    if isinstance(x, dict) and x:
        for k, v in x.items():
            _leaves(v, f"{path}.{k}" if path else str(k), timing or is_timing_key(str(k), patterns), patterns, out)
    elif isinstance(x, list) and x:
        for i, v in enumerate(x):
            _leaves(v, f"{path}[{i}]", timing, patterns, out)
    else:
        out[path] = (x, timing)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class JsonDiff:
    """Two versions of a JSON document compared leaf by leaf (timing keys set aside)."""

    compared: int  # leaves that are not timings, in either version
    differ: tuple[tuple[str, Any, Any], ...]  # (path, old, new); a leaf absent on one side is ABSENT
    max_abs_diff: float | None
    max_at: str | None
    ignored: tuple[str, ...]  # timing leaves whose values differ

    def describe(self, shown: int = 3) -> str:
        if not self.differ:
            if self.ignored:
                return "only timing keys differ: " + _listed(self.ignored, 5)
            return "same values (only the file's bytes differ)"
        listed = ", ".join(f"{p} {o!r} -> {n!r}" for p, o, n in self.differ[:shown])
        more = f", ... ({len(self.differ) - shown} more)" if len(self.differ) > shown else ""
        text = f"{len(self.differ)} of {self.compared} values differ: {listed}{more}"
        if self.max_abs_diff is not None:
            text += f"; max |diff| {_fmt(self.max_abs_diff)} ({self.max_at})"
        if self.ignored:
            text += "; timing keys ignored: " + _listed(self.ignored, 3)
        return text


def _listed(items: Sequence[str], k: int) -> str:
    return ", ".join(items[:k]) + (f", ... ({len(items) - k} more)" if len(items) > k else "")


class _Absent:
    """The value of a leaf on the side that lacks it."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


def compare_json(old: Any, new: Any, timing_keys: Sequence[str] = TIMING_KEYS) -> JsonDiff:
    """Leaf by leaf (dotted paths, ``[i]`` for list items); numbers by value (NaN equals NaN)."""
    a: dict[str, tuple[Any, bool]] = {}
    b: dict[str, tuple[Any, bool]] = {}
    _leaves(old, "", False, timing_keys, a)
    _leaves(new, "", False, timing_keys, b)
    compared, differ, ignored = 0, [], []
    biggest: float | None = None
    at: str | None = None
    for path in list(a) + [p for p in b if p not in a]:
        (x, tx), (y, ty) = a.get(path, (ABSENT, False)), b.get(path, (ABSENT, False))
        if _number(x) and _number(y):
            same = x == y or (math.isnan(x) and math.isnan(y))
        else:
            same = type(x) is type(y) and x == y
        if tx or ty:
            if not same:
                ignored.append(path)
            continue
        compared += 1
        if same:
            continue
        differ.append((path, x, y))
        if _number(x) and _number(y) and not (math.isnan(x) or math.isnan(y)):
            d = abs(float(y) - float(x))
            if biggest is None or d > biggest:
                biggest, at = d, path
    return JsonDiff(compared, tuple(differ), biggest, at, tuple(ignored))


# --- the report --------------------------------------------------------------------------------------

@dataclass
class OutResult:
    """One output compared: its status and what is known of how it differs."""

    stage: str
    path: str
    kind: str  # DATA | METRICS
    status: str  # IDENTICAL | DIFFERS | MISSING | NEW
    notes: list[str] = field(default_factory=list)
    timing_only: bool = False  # a metrics file whose values differ only under timing keys


@dataclass
class Report:
    outs: list[OutResult]
    old_label: str
    new_label: str
    #: lock entries of stages the pipeline no longer has (DVC keeps them): listed, not compared
    stale: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[OutResult]:
        return [o for o in self.outs if o.kind == kind]

    @property
    def data_total(self) -> int:
        return len(self.of(DATA))

    @property
    def data_identical(self) -> int:
        return sum(o.status == IDENTICAL for o in self.of(DATA))

    @property
    def exit_code(self) -> int:
        """0 when every data output is identical, else 1."""
        return 0 if self.data_identical == self.data_total else 1

    def lines(self) -> list[str]:
        lines = [f"old: {self.old_label}   new: {self.new_label}"]
        for kind, title in ((DATA, "data outputs (DVC-cached)"),
                            (METRICS, "metrics (git-tracked; timing keys ignored: " + ", ".join(TIMING_KEYS) + ")")):
            rows = self.of(kind)
            if not rows:
                continue
            lines += ["", title]
            w_stage = max(len("stage"), *(len(o.stage) for o in rows))
            w_path = max(len("output"), *(len(o.path) for o in rows))
            lines.append(f"{'stage':<{w_stage}}  {'output':<{w_path}}  status")
            for o in rows:
                lines.append(f"{o.stage:<{w_stage}}  {o.path:<{w_path}}  {o.status}")
                lines += [f"    {note}" for note in o.notes]
        lines.append("")
        data = self.of(DATA)
        counts = {s: sum(o.status == s for o in data) for s in (IDENTICAL, DIFFERS, MISSING, NEW)}
        lines.append("data outputs: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        metrics = self.of(METRICS)
        if metrics:
            same = sum(o.status == IDENTICAL for o in metrics)
            timing = sum(o.timing_only for o in metrics)
            lines.append(f"metrics: {same} of {len(metrics)} identical, {timing} more differ only in timing keys")
        if self.stale:
            lines.append(f"not compared: {len(self.stale)} lock entries of stages dvc.yaml no longer has "
                         f"({', '.join(self.stale)})")
        lines.append(f"{self.data_identical} of {self.data_total} data outputs identical")
        return lines


# --- comparing ---------------------------------------------------------------------------------------

def _selected(key: tuple[str, str], select: Sequence[str]) -> bool:
    stage, path = key
    for s in select:
        s = s.rstrip("/")
        if s in (stage, stage.split("@")[0], path) or path.startswith(s + "/"):
            return True
    return False


class _Compare:
    def __init__(self, workspace: Path, cache: Path | None, read_old: Callable[[str], bytes | None] | None):
        self.workspace, self.cache, self.read_old = workspace, cache, read_old

    def cached(self, md5: str) -> Path | None:
        if self.cache is None:
            return None
        p = cache_object(self.cache, md5)
        return p if p.is_file() else None

    def table_note(self, name: str, old: bytes | Path, new: bytes | Path) -> str:
        try:
            a, b = table_from(old, name), table_from(new, name)
        except Exception as exc:  # pyarrow / parser errors of every kind: say so and go on
            first = str(exc).splitlines()[0] if str(exc) else ""
            return f"cannot be read as a table ({type(exc).__name__}: {first})"
        return compare_tables(a, b).describe()

    def content_note(self, name: str, old: bytes | Path | None, new: bytes | Path | None,
                     old_size: int | None, new_size: int | None) -> str:
        """What differs between two versions of one file (``old`` None: not readable)."""
        if old is None:
            return "old version not in the local DVC cache (dvc pull, or dvc fetch -r REMOTE, brings it)"
        if new is None:
            return "new version neither in the workspace nor in the cache"
        if name.endswith(TABLE_SUFFIXES):
            return self.table_note(name, old, new)
        if old_size is not None and new_size is not None:
            return f"contents differ ({old_size} -> {new_size} bytes)"
        return "contents differ"

    def folder(self, old: LockOut, new: LockOut, res: OutResult) -> None:
        was = read_manifest(self.cache, old.md5 or "")
        if was is None:
            res.notes.append(f"old .dir manifest {old.md5} not in the local DVC cache: which files differ is "
                             f"unknown (size {old.size} -> {new.size} bytes, {old.nfiles} -> {new.nfiles} files)")
            return
        now = read_manifest(self.cache, new.md5 or "")
        folder = self.workspace / new.path
        if now is None:
            now = workspace_manifest(folder)
            if now is None:
                res.notes.append(f"new .dir manifest {new.md5} neither in the cache nor in the workspace")
                return
        names = list(was) + [n for n in now if n not in was]
        changed = [n for n in names if was.get(n) != now.get(n)]
        gone = [n for n in changed if n not in now]
        added = [n for n in changed if n not in was]
        res.notes.append(f"{len(changed)} of {len(names)} files differ"
                         + (f" ({len(gone)} missing, {len(added)} new)" if gone or added else ""))
        for name in changed:
            if name in gone:
                res.notes.append(f"{name}: missing")
            elif name in added:
                res.notes.append(f"{name}: new")
            else:
                old_obj = self.cached(was[name])
                new_obj = folder / name if (folder / name).is_file() else self.cached(now[name])
                sizes = (old_obj.stat().st_size if old_obj else None, new_obj.stat().st_size if new_obj else None)
                res.notes.append(f"{name}: " + self.content_note(name, old_obj, new_obj, *sizes))

    def data_file(self, old: LockOut, new: LockOut, res: OutResult) -> None:
        new_file = self.workspace / new.path
        new_obj = new_file if new_file.is_file() else self.cached(new.md5 or "")
        res.notes.append(self.content_note(new.path, self.cached(old.md5 or ""), new_obj, old.size, new.size))

    def metrics_file(self, old: LockOut, new: LockOut, res: OutResult, rev_hint: str) -> None:
        old_bytes = self.read_old(old.path) if self.read_old is not None else None
        in_cache = self.cached(old.md5 or "")
        if in_cache is not None and (old_bytes is None or hashlib.md5(old_bytes).hexdigest() != old.md5):
            old_bytes = in_cache.read_bytes()  # the cache's object is the old lock's by construction
        if old_bytes is None:
            res.notes.append(f"old version not readable ({rev_hint})")
            return
        if old.md5 and hashlib.md5(old_bytes).hexdigest() != old.md5:
            res.notes.append("old version not readable: git's copy at the old revision does not match the old "
                             "lock's md5")
            return
        try:
            new_bytes = (self.workspace / new.path).read_bytes()
        except OSError:
            res.notes.append("new version not in the workspace")
            return
        if new.md5 and hashlib.md5(new_bytes).hexdigest() != new.md5:
            res.notes.append("(the workspace file no longer matches the new lock's md5; compared as it is)")
        if new.path.endswith(".json"):
            try:
                a, b = json.loads(old_bytes), json.loads(new_bytes)
            except ValueError as exc:
                res.notes.append(f"not valid JSON on one side ({exc})")
                return
            diff = compare_json(a, b)
            res.timing_only = not diff.differ
            res.notes.append(diff.describe())
        elif new.path.endswith(TABLE_SUFFIXES):
            res.notes.append(self.table_note(new.path, old_bytes, new_bytes))
        else:
            x = old_bytes.decode(errors="replace").splitlines()
            y = new_bytes.decode(errors="replace").splitlines()
            ops = difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes()
            changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
            res.notes.append(f"{changed} of {max(len(x), len(y))} lines differ")


def compare_locks(old: Lock, new: Lock, *, workspace: str | Path, cache: str | Path | None,
                  git_tracked: Collection[str] = (), read_old: Callable[[str], bytes | None] | None = None,
                  select: Sequence[str] = (), metrics: bool = True, old_label: str = "old lock",
                  new_label: str = "new lock", pipeline: Collection[str] | None = None) -> Report:
    """Every output of ``old`` and ``new`` compared (stages in ``new``'s order, then those only in ``old``).

    ``workspace``: the folder the lock's paths are relative to (the new versions live there);
    ``cache``: DVC's ``files/md5`` folder (old objects and ``.dir`` manifests), None for none;
    ``git_tracked``: the output paths that are git-tracked metrics files (every other one is a data
    output); ``read_old(path)``: the old version of a git-tracked file (``git show REV:path``), None
    when there is none; ``select``: stage names (``evaluate`` is every ``evaluate@...``), output
    paths or folders above them to compare (default: all), a :class:`ParamError` when one matches
    nothing; ``metrics``: compare metrics files too; ``pipeline``: the stage names of the project's
    dvc.yaml (``evaluate@full`` for a foreach instance), when known: a lock entry of any other stage
    (DVC keeps the entries of stages that left the pipeline) is listed in ``Report.stale``, not compared.
    """
    workspace = Path(workspace)
    cmp = _Compare(workspace, Path(cache) if cache is not None else None, read_old)
    tracked = set(git_tracked)
    keys = list(new) + [k for k in old if k not in new]
    stale: list[str] = []
    if pipeline is not None:
        live = set(pipeline)
        stale = list(dict.fromkeys(k[0] for k in keys if k[0] not in live))
        keys = [k for k in keys if k[0] in live]
    for s in select:
        if not any(_selected(k, [s]) for k in keys):
            raise ParamError("--data", "a stage name or an output path of either lock", s)
    if select:
        keys = [k for k in keys if _selected(k, select)]
    stages_new = {k[0] for k in new}
    stages_old = {k[0] for k in old}
    rev_hint = ("no git revision to read it from, and not in the DVC cache" if read_old is None
                else "not in git at the old revision")
    results = []
    for key in keys:
        kind = METRICS if key[1] in tracked else DATA
        if kind == METRICS and not metrics:
            continue
        a, b = old.get(key), new.get(key)
        if a is None:
            res = OutResult(*key, kind, NEW)
            res.notes.append("the stage is not in the old lock" if key[0] not in stages_old
                             else "the output is not in the old lock")
        elif b is None:
            res = OutResult(*key, kind, MISSING)
            res.notes.append("the stage is not in the new lock" if key[0] not in stages_new
                             else "the output is not in the new lock")
        elif a.same_as(b):
            res = OutResult(*key, kind, IDENTICAL)
        else:
            res = OutResult(*key, kind, DIFFERS)
            if a.hash != b.hash:
                res.notes.append(f"hashed differently ({a.hash} -> {b.hash}): not comparable")
            elif a.md5 is None or b.md5 is None:
                res.notes.append("no md5 in one lock")
            elif a.is_dir and b.is_dir:
                cmp.folder(a, b, res)
            elif a.is_dir or b.is_dir:
                res.notes.append("a folder on one side, a file on the other")
            elif kind == METRICS:
                cmp.metrics_file(a, b, res, rev_hint)
            else:
                cmp.data_file(a, b, res)
        results.append(res)
    return Report(results, old_label, new_label, stale)
