"""Bad input through the stage commands, as a user meets it: one line on
stderr naming the file or param, the field and what was expected; a non-zero
exit; no output left behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, dvc_cmd

GOOD = [{"reviewerID": f"U{u}", "asin": f"B{i}", "overall": 4.0, "reviewText": "fine", "unixReviewTime": 1_300_000_000 + u * 10 + i}
        for u in range(6) for i in range(6) if (u + i) % 4 != 0]


def stage(cwd: Path, name: str) -> subprocess.CompletedProcess:
    """Run the stage ``name`` with the arguments dvc.yaml gives it."""
    return subprocess.run([sys.executable, *dvc_cmd(name)], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    write_params(tmp_path)
    write_reviews(tmp_path / "reviews.json", [json.dumps(r) for r in GOOD])
    return tmp_path


def write_params(root: Path, **overrides: object) -> None:
    params = {"seed": 1, "dataset": "tiny", "datasets": {"tiny": {"format": "amazon", "reviews": "reviews.json"}},
              "filter": {"user_core": 2, "item_core": 2, "max_users": None, "max_items": None},
              "split": {"ratios": [3, 1, 1], "method": "random"}}
    params.update(overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def write_reviews(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def no_outputs(root: Path, *paths: str) -> bool:
    leftovers = [p for p in paths if (root / p).exists()]
    temps = [p.name for p in root.rglob(".*.tmp-*")]
    return not leftovers and not temps


def test_good_input_runs(workdir: Path) -> None:
    for name in ("raw", "filter", "split"):
        proc = stage(workdir, name)
        assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (workdir / "data" / "splits").iterdir()} == {"profile.parquet", "train.parquet", "test.parquet"}


def test_malformed_json_line(workdir: Path) -> None:
    write_reviews(workdir / "reviews.json", [json.dumps(GOOD[0]), '{"reviewerID": "U9", "asin": ', json.dumps(GOOD[1])])
    proc = stage(workdir, "raw")
    assert_one_line_error(proc, "reviews.json:2", "'line'", "JSON object")
    assert no_outputs(workdir, "data/raw", "metrics/raw.json")


def test_missing_field(workdir: Path) -> None:
    write_reviews(workdir / "reviews.json", [json.dumps(GOOD[0]), json.dumps({"reviewerID": "U1", "overall": 3.0})])
    assert_one_line_error(stage(workdir, "raw"), "reviews.json:2", "'asin'")
    assert no_outputs(workdir, "data/raw", "metrics/raw.json")


def test_wrong_type(workdir: Path) -> None:
    write_reviews(workdir / "reviews.json", [json.dumps(GOOD[0]), json.dumps({**GOOD[1], "overall": "five"})])
    assert_one_line_error(stage(workdir, "raw"), "reviews.json", "'overall'", "five")
    assert no_outputs(workdir, "data/raw", "metrics/raw.json")


def test_unknown_dataset(workdir: Path) -> None:
    write_params(workdir, dataset="nope")
    assert_one_line_error(stage(workdir, "raw"), "param 'dataset'", "one of tiny", "'nope'")
    assert no_outputs(workdir, "data/raw")


def test_missing_column_in_a_stage_input(workdir: Path) -> None:
    assert stage(workdir, "raw").returncode == 0
    import pandas as pd

    path = workdir / "data" / "raw" / "interactions.parquet"
    pd.read_parquet(path).drop(columns=["item_id"]).to_parquet(path)
    assert_one_line_error(stage(workdir, "filter"), "interactions.parquet", "'item_id'")
    assert no_outputs(workdir, "data/filtered", "metrics/filter.json")


def test_nothing_left_after_kcore(workdir: Path) -> None:
    assert stage(workdir, "raw").returncode == 0
    write_params(workdir, filter={"user_core": 50, "item_core": 50, "max_users": None, "max_items": None})
    assert_one_line_error(stage(workdir, "filter"), "interactions.parquet", "50/50-core", "got '0 of")
    assert no_outputs(workdir, "data/filtered", "metrics/filter.json")


@pytest.mark.parametrize("ratios", [[3, 1, 0], [3, -1, 1], [3, 1]])
def test_split_ratios_not_positive(workdir: Path, ratios: list) -> None:
    assert stage(workdir, "raw").returncode == 0 and stage(workdir, "filter").returncode == 0
    write_params(workdir, split={"ratios": ratios, "method": "random"})
    assert_one_line_error(stage(workdir, "split"), "param 'split.ratios'", "three positive numbers")
    assert no_outputs(workdir, "data/splits", "metrics/split.json")


def test_unknown_filter_key(workdir: Path) -> None:
    assert stage(workdir, "raw").returncode == 0
    write_params(workdir, filter={"user_core": 2, "min_rating": 3})
    assert_one_line_error(stage(workdir, "filter"), "param 'filter.min_rating': expected one of the keys item_core, max_items, max_users, user_core")


def test_unknown_llm_lists_choices(workdir: Path) -> None:
    (workdir / "params.yaml").write_text(yaml.safe_dump({"llm": "nope", "llms": {
        "a": {"backend": "transformers", "model": "x/y"}, "b": {"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}}}))
    assert_one_line_error(stage(workdir, "assets_llm"), "param 'llm': expected one of a, b, got 'nope'")
    assert no_outputs(workdir, "data/assets/llm")


def test_unreachable_endpoint_names_url_and_hint(workdir: Path) -> None:
    (workdir / "params.yaml").write_text(yaml.safe_dump({"llm": "remote", "llms": {"remote": {
        "backend": "openai", "model": "llama3.1:8b", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0,
        "start_hint": "start Ollama (`ollama serve`)"}}}))
    assert_one_line_error(stage(workdir, "assets_llm"), "http://127.0.0.1:9/v1", "start Ollama (`ollama serve`)")
    assert no_outputs(workdir, "data/assets/llm")


def test_every_stage_option_has_help_and_no_path_default():
    """Paths are written once, in dvc.yaml: a stage's path options are required and say what they hold."""
    import importlib.util

    import click

    sys.path.insert(0, str(REPO / "stages"))
    try:
        for script in sorted((REPO / "stages").glob("*.py")):
            spec = importlib.util.spec_from_file_location(f"stage_{script.stem}", script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            commands = [v for v in vars(module).values() if isinstance(v, click.Command)]
            assert commands or script.stem.endswith("common"), script  # common.py, lrrecsys_common.py: shared helpers
            for cmd in commands:
                for opt in cmd.params:
                    assert opt.help, f"{script.name} {opt.opts[0]} has no help"
                    if isinstance(opt.type, click.Path):
                        assert opt.required and opt.default in (None, getattr(click.core, "UNSET", None)), \
                            f"{script.name} {opt.opts[0]} has a default path"
    finally:
        sys.path.remove(str(REPO / "stages"))
