"""The sft and generate stage commands, run as a user runs them (in a temporary folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.sft import pair_rows, write_cpeg, write_items, write_profiles, write_splits
from tests.tiny import build_tiny_model

SFT = ["--profiles", "data/profiles", "--targets", "data/cpeg", "--filtered", "data/filtered", "--base", "base/model",
       "--out", "data/sft", "--metrics", "metrics/sft.json", "--curves", "metrics/curves/sft"]
GENERATE = ["--model", "data/sft/model", "--profiles", "data/profiles", "--targets", "data/cpeg",
            "--filtered", "data/filtered", "--out", "data/generate", "--metrics", "metrics/generate.json"]


def run(root: Path, name: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLAINREC_CACHE": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(root / "stages" / f"{name}.py"), *args], cwd=root, env=env,
                          capture_output=True, text=True)


def write_params(root: Path, sft: dict, generate: dict | None = None) -> None:
    params = {"seed": 7, "sft": {"base_model": "bundled:smollm2-135m", **sft},
              "generate": generate or {"max_new_tokens": 4, "batch_size": 4, "threads": 1}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    train, test = pair_rows("train", 8), pair_rows("test", 3, start=8)
    write_profiles(tmp_path / "data" / "profiles")
    write_cpeg(tmp_path / "data" / "cpeg", train + test)
    write_splits(tmp_path / "data" / "splits", train, test, with_explanation=False)
    (tmp_path / "data" / "filtered").mkdir()
    write_items(tmp_path / "data" / "filtered" / "items.parquet")
    return tmp_path


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_bad_param_is_one_line_and_leaves_nothing(workdir):
    write_params(workdir, {"method": "qlora"})
    assert_one_line_error(run(workdir, "sft", SFT), "param 'sft.method'", "lora, full", "qlora")
    assert not (workdir / "data" / "sft").exists() and not list((workdir / "data").glob(".sft.tmp-*"))
    write_params(workdir, {"item_title": "yes"})
    assert_one_line_error(run(workdir, "generate", GENERATE), "param 'sft.item_title'", "true or false", "'yes'")
    assert not (workdir / "data" / "generate").exists()


def test_reference_targets_without_references_is_one_line(workdir):
    write_params(workdir, {"targets": "reference"})
    assert run(workdir, "reference", ["--splits", "data/splits", "--out", "data/reference", "--metrics",
                                      "metrics/reference.json"]).returncode == 0
    ref = [a.replace("data/cpeg", "data/reference") for a in SFT]
    assert_one_line_error(run(workdir, "sft", ref), "data/reference/explanations.parquet", "field 'explanation'")
    ref = [a.replace("data/cpeg", "data/reference") for a in GENERATE]
    assert_one_line_error(run(workdir, "generate", ref), "data/reference/explanations.parquet", "field 'explanation'")
    assert not (workdir / "data" / "sft").exists() and not (workdir / "data" / "generate").exists()


@pytest.mark.slow
def test_sft_then_generate_end_to_end(workdir):
    build_tiny_model(workdir / "base" / "model")
    write_params(workdir, {"method": "lora", "epochs": 2, "batch_size": 4, "logging_steps": 1, "threads": 1,
                           "learning_rate": 1e-2, "max_train_pairs": 6})
    proc = run(workdir, "sft", SFT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads((workdir / "metrics" / "sft.json").read_text())
    assert m["examples"] == 6 and m["train_pairs_available"] == 8 and m["eval_examples"] == 3
    assert m["eval_loss"] < m["eval_loss_before"]
    assert m["data"]["item_names"] is True and m["data"]["target_form"] == "as_written"  # titles in the prompts
    assert not (workdir / "data" / "sft" / "loss.csv").exists()
    loss = pd.read_csv(workdir / "metrics" / "curves" / "sft" / "plots" / "metrics" / "loss.tsv", sep="\t")
    assert list(loss.columns) == ["step", "loss"] and len(loss) >= 2  # the curve the report draws
    assert (workdir / "metrics" / "curves" / "sft" / "plots" / "metrics" / "eval" / "loss.tsv").exists()

    proc = run(workdir, "generate", GENERATE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    g = json.loads((workdir / "metrics" / "generate.json").read_text())
    assert g["pairs"] == 3 == len(pd.read_parquet(workdir / "data" / "generate" / "explanations.parquet"))
    assert g["llm"]["llm_calls"] == 3 and g["data"]["item_names"] is True and "two_openings" in g
    proc = run(workdir, "generate", GENERATE)
    assert json.loads((workdir / "metrics" / "generate.json").read_text())["llm"]["llm_calls"] == 0
    assert not list(workdir.rglob(".*.tmp-*"))
