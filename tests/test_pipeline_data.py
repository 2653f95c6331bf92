"""End to end on real and precomputed data: the real dvc.yaml and stages, run by dvc in a temporary git repo.

Apart from tests/test_pipeline.py (whose tests share one project) so that pytest-xdist's
``--dist loadfile`` runs them on the other core.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dvc_project import TINY, dvc, make_project, ran

pytestmark = pytest.mark.slow


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
    profiles pass through, SFT and XRec learn the references, and nothing on the way to either explainer runs CPEG."""
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
        "xrec": {**TINY["xrec"], "sparsity": {**TINY["xrec"]["sparsity"], "zero_shot_users": 0.0, "buckets": 2}},
    })
    stages = ran(dvc(root, "repro", "generate", "xrec_generate@full"))
    assert "cpeg" not in stages and "negatives" not in stages and {"reference", "sft", "generate"} <= stages
    assert {"xrec_gnn", "xrec_moe@full", "xrec_generate@full"} <= stages
    moe = json.loads((root / "metrics" / "xrec" / "moe_full.json").read_text())
    assert moe["pairs"]["targets"] == "reference" and moe["pairs"]["train_pairs"] == 4
    xrec_prompts = [p for p in cached_prompts(root) if "user record: <USER_EMBED>" in p]
    assert len(xrec_prompts) == 4 and all("likes quiet places" in p and "is a quiet cafe" in p for p in xrec_prompts)
    xrec = pd.read_parquet(root / "data" / "xrec" / "generate" / "full" / "explanations.parquet")
    assert len(xrec) == 4 and xrec.reference.str.contains("calm").all()
    split = json.loads((root / "metrics" / "split.json").read_text())
    assert (split["profile"]["interactions"], split["train"]["interactions"], split["test"]["interactions"]) == (32, 4, 4)
    assert json.loads((root / "metrics" / "profiles.json").read_text())["passthrough"] is True
    profiles = pd.read_parquet(root / "data" / "profiles" / "user_profiles.parquet")
    assert set(profiles.layer) == {0} and profiles.profile.str.contains("likes quiet places").all()
    assert not any("Interaction history" in p for p in cached_prompts(root))  # no profile was written by the LLM
    generated = pd.read_parquet(root / "data" / "generate" / "explanations.parquet")
    assert len(generated) == 4 and generated.reference.str.contains("calm").all()
