"""End to end: the real dvc.yaml and stages, run by dvc in a temporary git repo.

Checks what a user relies on: a first ``dvc repro`` runs every stage, a second
runs nothing, a param change reruns exactly the stages that read it (and the
ones downstream whose inputs changed), and switching the LLM reruns only the
LLM-dependent stages. Every model is a tiny random Llama built in the test, so
the texts are junk but every stage does its real work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dvc_project import dvc, make_project, ran, run, set_param

pytestmark = pytest.mark.slow

ABLATIONS = {f"ablation@{a}" for a in ("wo_sft", "wo_pghis_user", "wo_pghis_item", "wo_pghis")}
EVALUATE = {f"evaluate@{a}" for a in ("full", "wo_sft", "wo_pghis_user", "wo_pghis_item", "wo_pghis")}
GT_CPEG = {"gt_cpeg@k1_m1", "gt_cpeg@k0_m2"}
EVALUATION = ABLATIONS | EVALUATE | GT_CPEG | {"eval_summary", "gt_rewrite", "gt_judge"}
ALL = {"assets_llm", "assets_encoder", "assets_sft_base", "assets_judge", "raw", "filter", "split", "reference",
       "profiles", "negatives", "cpeg", "sft", "generate"} | EVALUATION
AFTER_PROFILES = {"profiles", "negatives", "cpeg", "sft", "generate"} | EVALUATION
#: the stages that read the profiles themselves: they rerun whenever the profiles change (the scores rerun
#: when an explainer's text changed, the review rewrite when the sampled pairs' negatives did)
READ_PROFILES = {"profiles", "negatives", "cpeg", "sft", "generate", "gt_judge"} | ABLATIONS | GT_CPEG
#: tiny sizes for every LLM stage (the tiny model never solves CPEG, so unverified pairs are kept for SFT)
TINY = {
    "profiles": {"layers": 1, "neighbors": 2, "max_new_tokens": 12},
    "negatives": {"k": 1, "m": 2, "max_train": 6, "max_test": 3},
    "cpeg": {"max_retries": 1, "max_new_tokens": 12},
    "sft": {"epochs": 1.0, "batch_size": 4, "max_train_pairs": 6, "max_eval_pairs": 3, "include_unverified": True,
            "logging_steps": 1},
    "generate": {"max_new_tokens": 12},
    "evaluate": {"judge": "tiny-a"},
    "ground_truth": {"max_pairs": 2, "include_unverified": True, "rewrite_max_new_tokens": 12,
                     "variants": {"k1_m1": {"k": 1, "m": 1}, "k0_m2": {"k": 0, "m": 2}}},
}


def tiny_amazon(path: Path, n_users: int = 12, n_items: int = 10) -> None:
    lines = []
    for u in range(n_users):
        for i in range(n_items):
            if (u + i) % 3 == 0 or (u * i) % 4 == 1:
                lines.append(json.dumps({"reviewerID": f"U{u}", "asin": f"B{i:03d}", "overall": float(1 + (u + i) % 5),
                                         "reviewText": f"review of item {i} by user {u}", "summary": "ok",
                                         "unixReviewTime": 1_300_000_000 + 86400 * (u * n_items + i)}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("proj")
    tiny_amazon(root / "data" / "external" / "tiny.json")
    return make_project(root, tiny_model_dir, {
        "datasets": {"tiny": {"format": "amazon", "reviews": "data/external/tiny.json"}},
        "dataset": "tiny",
        "filter": {"user_core": 2, "item_core": 2, "max_users": None, "max_items": None},
        **TINY,
    })


def test_repro_reruns_only_what_changed(project: Path) -> None:
    assert ran(dvc(project, "repro")) == ALL
    data = json.loads((project / "metrics" / "split.json").read_text())
    assert data["all"]["interactions"] == sum(data[s]["interactions"] for s in ("profile", "train", "test"))
    assert json.loads((project / "data/assets/llm/llm.json").read_text())["identity"].startswith("local:")
    assert json.loads((project / "metrics" / "generate.json").read_text())["pairs"] == 3

    assert ran(dvc(project, "repro")) == set()
    assert json.loads(dvc(project, "status", "--json").stdout) == {}

    summary = json.loads((project / "metrics" / "eval_summary.json").read_text())
    assert set(summary) == {"full", "wo_sft", "wo_pghis_user", "wo_pghis_item", "wo_pghis"}
    assert "| full |" in (project / "metrics" / "eval_table.md").read_text()
    gt = json.loads((project / "metrics" / "ground_truth.json").read_text())
    assert gt["pairs"] == 2 and set(gt["sources"]) >= {"cpeg_k1_m1", "cpeg_k0_m2"}

    set_param(project, "sft.epochs", 2.0)  # an sft param: sft, generate and the ablations, and their scores
    assert {"sft", "generate"} | ABLATIONS <= ran(dvc(project, "repro")) <= {"sft", "generate", "eval_summary"} | \
        ABLATIONS | EVALUATE

    set_param(project, "ablations.wo_sft.user_layer", 0)  # one ablation: that branch only
    assert {"ablation@wo_sft"} <= ran(dvc(project, "repro")) <= {"ablation@wo_sft", "evaluate@wo_sft", "eval_summary"}

    set_param(project, "evaluate.bertscore_layers", 2)  # scoring only: no explainer is rebuilt
    assert ran(dvc(project, "repro")) == EVALUATE | {"eval_summary"}

    set_param(project, "ground_truth.variants.k1_m0", {"k": 1, "m": 0})  # a new (k, m): its branch and the judge
    assert ran(dvc(project, "repro")) == {"gt_cpeg@k1_m0", "gt_judge"}
    assert "cpeg_k1_m0" in json.loads((project / "metrics" / "ground_truth.json").read_text())["sources"]

    set_param(project, "profiles.layers", 2)  # profiles and everything downstream
    assert READ_PROFILES | {"gt_cpeg@k1_m0"} <= ran(dvc(project, "repro")) <= AFTER_PROFILES | {"gt_cpeg@k1_m0"}

    set_param(project, "split.method", "temporal")
    assert {"split", "reference"} | READ_PROFILES <= ran(dvc(project, "repro")) <= \
        {"split", "reference", "gt_cpeg@k1_m0"} | AFTER_PROFILES

    set_param(project, "filter.item_core", 1)  # same filtered data as before: nothing downstream reruns
    assert ran(dvc(project, "repro")) == {"filter"}


def test_switching_llm_reruns_only_llm_stages(project: Path) -> None:
    dvc(project, "repro")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "baseline")
    exp = ran(dvc(project, "exp", "run", "-S", "llm=tiny-b"))
    assert {"assets_llm", "profiles"} <= exp <= {"assets_llm"} | AFTER_PROFILES | {"gt_cpeg@k1_m0"}
    assert "assets_judge" not in exp  # the judge is its own catalogue entry
    assert json.loads((project / "data/assets/llm/llm.json").read_text())["temperature"] == 0.7

    bad = dvc(project, "exp", "run", "-S", "llm=nope", check=False)
    assert bad.returncode != 0
    assert "param 'llm': expected one of tiny-a, tiny-b, got 'nope'" in bad.stdout + bad.stderr


def cached_prompts(root: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(root / ".cache" / "explainrec" / "llm" / "responses.sqlite") as db:
        return [r for (r,) in db.execute("select request from responses")]


def test_chain_on_real_amazon_reviews(amazon_mi: Path, tmp_path: Path, tiny_model_dir: Path) -> None:
    """raw -> generate on ../shared/data Amazon Musical Instruments, reviews in L0 profiles and CPEG prompts."""
    root = make_project(tmp_path, tiny_model_dir, {
        "datasets": {"ami": {"format": "amazon", "reviews": str(amazon_mi)}},
        "dataset": "ami",
        # 150 sampled users, the 40 most reviewed items, then 3-core: 21 users, 18 items, 75 reviews
        "filter": {"user_core": 3, "item_core": 3, "max_users": 150, "max_items": 40},
        **TINY,
    })
    dvc(root, "repro", "generate")
    raw = json.loads((root / "metrics" / "raw.json").read_text())
    assert raw["interactions"] == 10261 and raw["with_review_share"] > 0.99
    prompts = cached_prompts(root)
    profile_prompts = [p for p in prompts if "Interaction history" in p]
    cpeg_prompts = [p for p in prompts if "find the item a specific user has interacted with" in p]
    assert profile_prompts and all("Review: " in p for p in profile_prompts)
    assert cpeg_prompts and not any("(no review)" in p for p in cpeg_prompts)
    assert json.loads((root / "metrics" / "generate.json").read_text())["pairs"] == 3


def test_precomputed_table_with_one_row_per_user(tmp_path: Path, tiny_model_dir: Path) -> None:
    """XRec-style table (one row per user, profiles and references given): the row split fills train and test,
    profiles pass through, SFT learns the references, and nothing on the way to the explainer runs CPEG."""
    import pandas as pd

    rows = [{"uid": u, "iid": u % 7, "title": f"Item {u % 7}", "user_summary": f"User {u} likes quiet places.",
             "item_summary": f"Item {u % 7} is a quiet cafe.", "explanation": f"The user would enjoy item {u % 7}'s calm."}
            for u in range(40)]
    pd.DataFrame(rows).to_parquet(tmp_path / "xrec.parquet")
    (tmp_path / "proj").mkdir()
    root = make_project(tmp_path / "proj", tiny_model_dir, {
        "datasets": {"xrec": {"format": "precomputed", "path": str(tmp_path / "xrec.parquet")}},
        "dataset": "xrec",
        "filter": {"user_core": 1, "item_core": 1, "max_users": None, "max_items": None},
        "split": {"ratios": [8, 1, 1], "method": "rows"},
        **TINY,
        "profiles": {**TINY["profiles"], "passthrough": True},
        "sft": {**TINY["sft"], "targets": "reference"},
    })
    stages = ran(dvc(root, "repro", "generate"))
    assert "cpeg" not in stages and "negatives" not in stages and {"reference", "sft", "generate"} <= stages
    split = json.loads((root / "metrics" / "split.json").read_text())
    assert (split["profile"]["interactions"], split["train"]["interactions"], split["test"]["interactions"]) == (32, 4, 4)
    assert json.loads((root / "metrics" / "profiles.json").read_text())["passthrough"] is True
    profiles = pd.read_parquet(root / "data" / "profiles" / "user_profiles.parquet")
    assert set(profiles.layer) == {0} and profiles.profile.str.contains("likes quiet places").all()
    assert not any("Interaction history" in p for p in cached_prompts(root))  # no profile was written by the LLM
    generated = pd.read_parquet(root / "data" / "generate" / "explanations.parquet")
    assert len(generated) == 4 and generated.reference.str.contains("calm").all()
