"""The ground_truth section's checks and the rewrite step on a dataset without reviews."""

from __future__ import annotations

import pandas as pd
import pytest

from explainrec.core.config import from_section
from explainrec.core.errors import ParamError
from explainrec.evaluation.ground_truth import KM
from explainrec.experiments.ground_truth import REWRITE_FILE, GroundTruthConfig, run_rewrite

VARIANTS = {"k0_m7": {"k": 0, "m": 7}, "k2_m5": {"k": 2, "m": 5}}


def test_params_from_section_and_variant_lookup():
    gt = from_section(GroundTruthConfig, {"max_pairs": 4, "variants": VARIANTS}, "ground_truth")
    assert gt.max_pairs == 4 and gt.include_unverified and gt.variant("k2_m5") == KM("k2_m5", 2, 5)
    with pytest.raises(ParamError, match=r"param 'ground_truth.variants': expected an entry 'k9_m9'"):
        gt.variant("k9_m9")


@pytest.mark.parametrize("section, param", [
    ({"max_pairs": 0, "variants": VARIANTS}, "ground_truth.max_pairs"),
    ({"include_unverified": "yes", "variants": VARIANTS}, "ground_truth.include_unverified"),
    ({"rewrite_max_new_tokens": 0, "variants": VARIANTS}, "ground_truth.rewrite_max_new_tokens"),
    ({"variants": {}}, "ground_truth.variants"),
    ({"variants": {"bad": {"k": 1}}}, "ground_truth.variants.bad.m"),
    ({"variants": VARIANTS, "pairs": 3}, "ground_truth.pairs"),
])
def test_bad_sections_name_the_param(section, param):
    with pytest.raises(ParamError, match=f"param '{param}'"):
        from_section(GroundTruthConfig, section, "ground_truth")


def test_rewrite_without_reviews_loads_no_llm(tmp_path):
    pairs = pd.DataFrame({"user_id": ["u0", "u1"], "item_id": ["i0", "i1"]})
    # the LLM path does not exist: opening it would fail, so a pass shows it was never opened
    m = run_rewrite(pairs, {("u0", "i0"): None, ("u1", "i1"): "  "}, tmp_path / "missing.json", 16, tmp_path)
    assert m["with_review"] == 0 and m["rewritten"] == 0 and m["llm"] is None and "no reviews" in m["note"]
    assert pd.read_parquet(tmp_path / REWRITE_FILE).empty
