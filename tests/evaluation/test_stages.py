"""The evaluation stages as dvc.yaml runs them: bad input (one line on stderr, exit 1, nothing written),
and the summary's comparison with the baseline."""

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

from tests.conftest import REPO, dvc_cmd

PARAMS = {"seed": 1, "llm": "x", "llms": {"x": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}},
          "evaluate": {"judge": "x", "bertscore_layers": 6}, "explainers": {"full": "data/full.parquet"},
          "ablations": {"wo_sft": {"sft": False, "user_layer": -1, "item_layer": -1}},
          "ground_truth": {"max_pairs": 2, "variants": {"k1_m1": {"k": 1, "m": 1}}},
          "sft": {"base_model": "bundled:smollm2-135m"}, "generate": {"max_new_tokens": 4},
          "compare": {"baseline": "full", "resamples": 200, "confidence": 0.95}}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "stages", tmp_path / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    (tmp_path / "data").mkdir()
    return tmp_path


def run(root: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPLAINREC_CACHE": str(root / "cache")}
    path = script if "/" in script else str(root / "stages" / script)
    return subprocess.run([sys.executable, path, *args], cwd=root, env=env,
                          capture_output=True, text=True)


def one_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr[-2000:]
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for f in fragments:
        assert f in err, err


def test_evaluate_rejects_a_table_without_references(workdir):
    pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "explanation": ["e"]}).to_parquet(workdir / "data/full.parquet")
    proc = run(workdir, "evaluate.py", "--name", "full", "--explanations", "data/full.parquet",
               "--encoder", "data/assets/encoder", "--judge", "data/assets/judge/llm.json",
               "--out", "data/eval/full", "--metrics", "metrics/eval/full.json")
    one_line(proc, "data/full.parquet", "field 'reference'")
    assert not (workdir / "data/eval").exists() and not (workdir / "metrics").exists()


def test_evaluate_rejects_a_bad_param(workdir):
    params = {**PARAMS, "evaluate": {"judge": "x", "bertscore_layers": 0}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run(workdir, "evaluate.py", "--name", "full", "--explanations", "data/full.parquet",
               "--encoder", "data/assets/encoder", "--judge", "data/assets/judge/llm.json",
               "--out", "data/eval/full", "--metrics", "metrics/eval/full.json")
    one_line(proc, "param 'evaluate.bertscore_layers'")


def test_summary_names_the_missing_metrics(workdir):
    proc = run(workdir, *dvc_cmd("eval_summary"))
    one_line(proc, "metrics/eval/full.json", "dvc repro evaluate@full")
    assert not (workdir / "metrics").exists()


def summary_inputs(root: Path, other_pairs: int = 4) -> None:
    """Metrics and per-pair scores of two explainers, ``full`` and ``wo_sft`` (0.2 better on every pair)."""
    from tests.evaluation.test_bootstrap import scores

    params = {**PARAMS, "explainers": {"full": "data/full.parquet", "wo_sft": "data/wo_sft.parquet"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "metrics/eval").mkdir(parents=True)
    for name, table in (("full", scores(4)), ("wo_sft", scores(other_pairs, shift=0.2))):
        (root / "metrics/eval" / f"{name}.json").write_text(json.dumps({"pairs": len(table)}))
        (root / "data/eval" / name).mkdir(parents=True)
        table.to_parquet(root / "data/eval" / name / "scores.parquet")


def test_summary_compares_with_the_baseline(workdir):
    summary_inputs(workdir)
    proc = run(workdir, *dvc_cmd("eval_summary"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Difference vs full (95 % paired bootstrap interval, 200 resamples, seed 1):" in proc.stdout
    assert "| wo_sft | 4 | **+0.2000 [+0.2000, +0.2000]** |" in proc.stdout
    summary = json.loads((workdir / "metrics/eval_summary.json").read_text())
    assert summary["wo_sft"]["vs_full"]["bleu_4"] == {"diff": 0.2, "ci_low": 0.2, "ci_high": 0.2, "excludes_0": True}
    assert "vs_full" not in summary["full"] and "Difference vs full" in (workdir / "metrics/eval_table.md").read_text()


def test_summary_rejects_other_pairs_and_a_bad_compare_param(workdir):
    summary_inputs(workdir, other_pairs=3)
    one_line(run(workdir, *dvc_cmd("eval_summary")), "data/eval/wo_sft/scores.parquet: field '(user_id, item_id)'",
             "the same test pairs as data/eval/full/scores.parquet", "1 missing")
    assert not (workdir / "metrics/eval_summary.json").exists()
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for key, bad, message in (("resamples", 0, "param 'compare.resamples': expected an integer >= 100, got 0"),
                              ("baseline", "nope", "param 'compare.baseline': expected one of the explainers "
                                                   "(full, wo_sft), got 'nope'")):
        (workdir / "params.yaml").write_text(yaml.safe_dump({**params, "compare": {**params["compare"], key: bad}}))
        one_line(run(workdir, *dvc_cmd("eval_summary")), message)
    assert not (workdir / "metrics/eval_summary.json").exists()


def test_unknown_ablation_and_variant(workdir):
    paths = ["--out", "data/a", "--metrics", "m.json", "--curves", "c", "--profiles", "p", "--filtered", "f", "--base", "b"]
    one_line(run(workdir, "ablation.py", "--name", "nope", "--targets", "t", *paths), "param 'ablations.nope'")
    paths = ["--out", "data/g", "--metrics", "m.json", "--profiles", "p", "--negatives", "n", "--splits", "s",
             "--filtered", "f", "--encoder", "e", "--llm", "l"]
    one_line(run(workdir, "gt_cpeg.py", "--variant", "nope", *paths), "param 'ground_truth.variants'", "'nope'")
    assert not (workdir / "data/a").exists() and not (workdir / "data/g").exists()


def test_unknown_judge_lists_the_catalogue(workdir):
    params = {**PARAMS, "evaluate": {"judge": "gpt-9"}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run(workdir, "assets_llm.py", "--select", "evaluate.judge", "--out", "data/assets/judge")
    one_line(proc, "param 'evaluate.judge': expected one of x, got 'gpt-9'")
    assert not (workdir / "data/assets").exists()
