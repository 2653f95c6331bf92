"""The reproduction check (explainrec.reproduce, bench/reproduce.py) on two tiny locks that differ in
known ways: one identical folder, one folder with one changed parquet file (2 rows of a numeric
column 0.5 apart), one stage gone, one metrics JSON with one changed value and one changed
``seconds`` (ignored); a tiny fake DVC cache with the ``.dir`` manifests and objects, a tiny git
repository for the ``--rev`` path."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from explainrec.core.errors import InputError, ParamError
from explainrec.reproduce import (ABSENT, compare_json, compare_locks, compare_tables, parse_lock, read_lock)
from tests.bench import load_script


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put(cache: Path, data: bytes) -> str:
    h = md5(data)
    (cache / h[:2]).mkdir(parents=True, exist_ok=True)
    (cache / h[:2] / h[2:]).write_bytes(data)
    return h


def put_dir(cache: Path, files: dict[str, bytes]) -> dict:
    """Objects and the ``.dir`` manifest as DVC 3 writes them; the lock entry of the folder."""
    manifest = [{"md5": put(cache, data), "relpath": name} for name, data in sorted(files.items())]
    text = json.dumps(manifest, sort_keys=True).encode()
    h = md5(text)
    (cache / h[:2]).mkdir(parents=True, exist_ok=True)
    (cache / h[:2] / f"{h[2:]}.dir").write_bytes(text)  # .dvc/cache/files/md5/<2>/<rest>.dir
    return {"hash": "md5", "md5": f"{h}.dir", "size": sum(len(d) for d in files.values()), "nfiles": len(files)}


def file_entry(data: bytes) -> dict:
    return {"hash": "md5", "md5": md5(data), "size": len(data)}


def parquet(score: list[float]) -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "score": score, "n": [1, 2, 3, 4]}).to_parquet(buf, index=False)
    return buf.getvalue()


def lock_text(stages: dict[str, list[tuple[str, dict]]]) -> str:
    return yaml.safe_dump({"schema": "2.0", "stages": {
        name: {"cmd": f"python stages/{name.split('@')[0]}.py", "outs": [{"path": p, **e} for p, e in outs]}
        for name, outs in stages.items()}}, sort_keys=False)


RAW_JSON = json.dumps({"rows": 12, "seconds": 1.5}).encode()
OLD_SPLIT_JSON = json.dumps({"users": 4, "rmse": 0.9, "seconds": 12.5, "llm": {"decode_s": 3.0}}).encode()
NEW_SPLIT_JSON = json.dumps({"users": 4, "rmse": 0.85, "seconds": 14.0, "llm": {"decode_s": 3.0}}).encode()
TEST_PARQUET = parquet([5.0, 6.0, 7.0, 8.0])
OLD_TRAIN, NEW_TRAIN = parquet([1.0, 2.0, 3.0, 4.0]), parquet([1.0, 2.5, 3.5, 4.0])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workspace after a rerun (new lock, new files) with the fake cache, and old.lock beside it."""
    root = tmp_path / "ws"
    cache = root / ".dvc" / "cache" / "files" / "md5"
    raw = put_dir(cache, {"interactions.parquet": b"raw interactions"})
    old_splits = put_dir(cache, {"train.parquet": OLD_TRAIN, "test.parquet": TEST_PARQUET})
    new_splits = put_dir(cache, {"train.parquet": NEW_TRAIN, "test.parquet": TEST_PARQUET})
    gone = put_dir(cache, {"x.parquet": b"x"})
    old = {"raw": [("data/raw", raw), ("metrics/raw.json", file_entry(RAW_JSON))],
           "split": [("data/splits", old_splits), ("metrics/split.json", file_entry(OLD_SPLIT_JSON))],
           "gone@a": [("data/gone/a", gone)]}
    new = {"raw": old["raw"],
           "split": [("data/splits", new_splits), ("metrics/split.json", file_entry(NEW_SPLIT_JSON))]}
    (root / "old.lock").write_text(lock_text(old))
    (root / "dvc.lock").write_text(lock_text(new))
    for path, data in {"data/raw/interactions.parquet": b"raw interactions", "data/splits/train.parquet": NEW_TRAIN,
                       "data/splits/test.parquet": TEST_PARQUET, "metrics/raw.json": RAW_JSON,
                       "metrics/split.json": NEW_SPLIT_JSON}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


METRICS_TITLE = ("metrics (git-tracked; timing keys ignored: seconds, *_seconds, seconds_*, wall, wall_s, elapsed, "
                 "*_s, *_share_of_time)")
EXPECTED = [
    "",
    "data outputs (DVC-cached)",
    "stage   output       status",
    "raw     data/raw     identical",
    "split   data/splits  differs",
    "    1 of 2 files differ",
    "    train.parquet: 2 of 4 rows differ in column score (max |diff| 0.5)",
    "gone@a  data/gone/a  missing",
    "    the stage is not in the new lock",
    "",
    METRICS_TITLE,
    "stage  output              status",
    "raw    metrics/raw.json    identical",
    "split  metrics/split.json  differs",
    "    1 of 2 values differ: rmse 0.9 -> 0.85; max |diff| 0.05 (rmse); timing keys ignored: seconds",
    "",
    "data outputs: 1 identical, 1 differs, 1 missing, 0 new",
    "metrics: 1 of 2 identical, 0 more differ only in timing keys",
    "1 of 3 data outputs identical",
]
OLD_FILES = {"metrics/raw.json": RAW_JSON, "metrics/split.json": OLD_SPLIT_JSON}


def test_the_report_of_two_locks(project: Path) -> None:
    report = compare_locks(read_lock(project / "old.lock"), read_lock(project / "dvc.lock"), workspace=project,
                           cache=project / ".dvc" / "cache" / "files" / "md5", git_tracked=set(OLD_FILES),
                           read_old=OLD_FILES.get, old_label="old.lock", new_label="dvc.lock")
    assert report.lines() == ["old: old.lock   new: dvc.lock", *EXPECTED]
    assert (report.data_identical, report.data_total, report.exit_code) == (1, 3, 1)
    by_path = {o.path: o for o in report.outs}
    assert by_path["metrics/split.json"].timing_only is False


def test_lock_entries_of_stages_the_pipeline_no_longer_has_are_listed_not_compared(project: Path) -> None:
    """DVC keeps the lock entries of foreach items that left dvc.yaml; they would count as identical
    outputs (both locks carry the same stale entry) and inflate "N of N"."""
    report = compare_locks(read_lock(project / "old.lock"), read_lock(project / "dvc.lock"), workspace=project,
                           cache=project / ".dvc" / "cache" / "files" / "md5", git_tracked=set(OLD_FILES),
                           read_old=OLD_FILES.get, pipeline={"split", "gone@a"})
    assert report.stale == ["raw"]
    assert {o.stage for o in report.outs} == {"split", "gone@a"}
    assert (report.data_identical, report.data_total) == (0, 2)
    assert "not compared: 1 lock entries of stages dvc.yaml no longer has (raw)" in report.lines()


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def test_the_command_against_a_git_revision(project: Path) -> None:
    """The old lock and metrics committed, the rerun's in the workspace: `--rev HEAD` as a user runs it."""
    (project / ".gitignore").write_text("/data\n/.dvc/cache\n")
    new_lock = (project / "dvc.lock").read_bytes()
    (project / "dvc.lock").write_bytes((project / "old.lock").read_bytes())
    (project / "metrics" / "split.json").write_bytes(OLD_SPLIT_JSON)
    git(project, "init", "-q")
    git(project, "add", "dvc.lock", "metrics", ".gitignore")
    git(project, "commit", "-q", "-m", "the committed run")
    (project / "dvc.lock").write_bytes(new_lock)
    (project / "metrics" / "split.json").write_bytes(NEW_SPLIT_JSON)

    main = load_script("reproduce").main
    lock = str(project / "dvc.lock")
    res = CliRunner().invoke(main, ["--lock", lock, "--rev", "HEAD"])
    assert res.exit_code == 1, res.output
    assert res.output.splitlines() == [f"old: HEAD:dvc.lock   new: {lock}", *EXPECTED]

    res = CliRunner().invoke(main, ["--lock", lock, "--data", "raw"])  # HEAD is the default
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == "1 of 1 data outputs identical"
    assert ["raw", "metrics/raw.json", "identical"] in [line.split() for line in res.output.splitlines()]

    res = CliRunner().invoke(main, ["--lock", lock, "--data", "data/splits", "--no-metrics"])
    assert res.exit_code == 1 and "metrics" not in res.output, res.output
    assert res.output.splitlines()[-1] == "0 of 1 data outputs identical"

    res = CliRunner().invoke(main, ["--lock", lock, "--against", str(project / "dvc.lock")])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-2:] == ["metrics: 2 of 2 identical, 0 more differ only in timing keys",
                                            "2 of 2 data outputs identical"]


def test_without_the_old_objects(project: Path) -> None:
    """An old .dir manifest or object not in the local cache is said, not guessed; a new manifest
    missing from the cache is read from the workspace."""
    cache = project / ".dvc" / "cache" / "files" / "md5"
    old, new = read_lock(project / "old.lock"), read_lock(project / "dvc.lock")
    old_dir, new_dir = old[("split", "data/splits")].md5, new[("split", "data/splits")].md5
    (cache / new_dir[:2] / new_dir[2:]).unlink()
    (cache / md5(OLD_TRAIN)[:2] / md5(OLD_TRAIN)[2:]).unlink()
    report = compare_locks(old, new, workspace=project, cache=cache, git_tracked=set(OLD_FILES), metrics=False)
    notes = next(o for o in report.outs if o.path == "data/splits").notes
    assert notes == ["1 of 2 files differ", "train.parquet: old version not in the local DVC cache "
                                            "(dvc pull, or dvc fetch -r REMOTE, brings it)"]
    (cache / old_dir[:2] / old_dir[2:]).unlink()
    report = compare_locks(old, new, workspace=project, cache=cache, git_tracked=set(OLD_FILES))
    notes = next(o for o in report.outs if o.path == "data/splits").notes
    assert notes == [f"old .dir manifest {old_dir} not in the local DVC cache: which files differ is unknown "
                     f"(size {len(OLD_TRAIN) + len(TEST_PARQUET)} -> {len(NEW_TRAIN) + len(TEST_PARQUET)} bytes, "
                     f"2 -> 2 files)"]
    assert next(o for o in report.outs if o.path == "metrics/split.json").notes == [
        "old version not readable (no git revision to read it from, and not in the DVC cache)"]


def test_bad_input_is_one_line_and_exit_2(project: Path) -> None:
    main = load_script("reproduce").main
    lock = str(project / "dvc.lock")
    bad = project / "bad.lock"
    cases = {
        "not: [yaml": f"error: {bad}: field '(file)': expected valid YAML",
        "stages: 3\n": f"error: {bad}: field 'stages': expected a mapping of stage names",
        "schema: '1.0'\nstages: {}\n": f"error: {bad}: field 'schema': expected '2.0'",
        "schema: '2.0'\nstages: {a: {outs: [{md5: x}]}}\n": f"error: {bad}: field 'stages.a.outs[0].path'",
    }
    for text, expected in cases.items():
        bad.write_text(text)
        res = CliRunner().invoke(main, ["--lock", lock, "--against", str(bad)])
        assert res.exit_code == 2, res.output
        assert res.stderr.count("\n") == 1 and res.stderr.startswith(expected), res.stderr
        assert res.stdout == ""
    res = CliRunner().invoke(main, ["--lock", str(project / "none.lock"), "--against", lock])
    assert res.exit_code == 2 and res.stderr.startswith(f"error: {project / 'none.lock'}: field '(file)'")
    res = CliRunner().invoke(main, ["--lock", lock, "--rev", "HEAD"])  # not a git repository
    assert res.exit_code == 2 and res.stderr.startswith("error: HEAD:dvc.lock: field '(file)': expected a dvc.lock "
                                                        "committed at that git revision"), res.stderr
    res = CliRunner().invoke(main, ["--lock", lock, "--against", lock, "--data", "nope"])
    assert res.exit_code == 2 and res.stderr.startswith("error: param '--data': expected a stage name or an output "
                                                        "path of either lock, got 'nope'"), res.stderr
    res = CliRunner().invoke(main, ["--lock", lock, "--against", lock, "--rev", "HEAD"])
    assert res.exit_code == 2 and res.stderr == "error: give --rev or --against, not both\n"
    with pytest.raises(InputError, match="x.lock: field 'stages.s.outs"):
        parse_lock("schema: '2.0'\nstages: {s: {outs: 5}}\n", "x.lock")
    with pytest.raises(ParamError):
        compare_locks({}, {}, workspace=project, cache=None, select=["x"])


def test_compare_json_sets_timings_aside() -> None:
    d = compare_json({"a": {"seconds": 1, "wall": 2.0, "tok_per_s": 9.0, "b": [1, 2]}, "t": float("nan")},
                     {"a": {"seconds": 5, "wall": 1.0, "tok_per_s": 8.0, "b": [1, 2]}, "t": float("nan")})
    assert (d.differ, d.ignored, d.compared) == ((), ("a.seconds", "a.wall", "a.tok_per_s"), 3)
    assert d.describe() == "only timing keys differ: a.seconds, a.wall, a.tok_per_s"
    d = compare_json({"x": 1, "y": {"train_seconds": 3}, "l": [1, 2]}, {"x": 1.25, "z": "new", "l": [1, 3]})
    assert d.differ == (("x", 1, 1.25), ("l[1]", 2, 3), ("z", ABSENT, "new"))
    assert (d.max_abs_diff, d.max_at, d.ignored) == (1.0, "l[1]", ("y.train_seconds",))


def test_compare_tables_cells_lengths_and_columns() -> None:
    old = pd.DataFrame({"k": [1, 2, 3], "v": [0.5, np.nan, 2.0], "emb": [np.array([1.0, 2.0])] * 3,
                        "s": ["a", None, "c"], "gone": [0, 0, 0]})
    new = pd.DataFrame({"k": [1, 2, 4], "v": [0.5, np.nan, 1.0], "emb": [np.array([1.0, 2.0])] * 2 +
                        [np.array([1.0, 2.5])], "s": ["a", None, "c"], "extra": [1, 1, 1]})
    d = compare_tables(old, new)
    assert (d.rows_differ, d.added, d.removed) == (1, ("extra",), ("gone",))
    assert d.columns == {"k": 1.0, "v": 1.0, "emb": None}  # NaN == NaN, None == None; arrays by value
    assert d.describe() == ("columns removed: gone; columns added: extra; "
                            "1 of 3 rows differ in columns k (max |diff| 1), v (max |diff| 1), emb")
    assert compare_tables(old, old).same
    d = compare_tables(old, old.iloc[:2])
    assert d.describe() == "rows 3 -> 2 (the first 2 compared)"
