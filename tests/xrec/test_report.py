"""XRec's report tables: variants whose generated texts are identical are named."""

from __future__ import annotations

import pandas as pd

from explainrec.xrec.report import xrec_metrics, xrec_tables_markdown


def _variant(texts: list[str]) -> dict:
    pairs = {"user_id": [f"u{k}" for k in range(len(texts))], "item_id": [f"i{k}" for k in range(len(texts))]}
    return {"scores": pd.DataFrame({**pairs, "bertscore_f1": [0.5] * len(texts)}),
            "buckets": pd.DataFrame({**pairs, "bucket": ["tst1"] * len(texts)}),
            "moe": {"test_nll_before": 2.0, "test_nll_after": 1.9, "steps": 18},
            "generate": {"unique_sentence_ratio": 1.0},
            "explanations": pd.DataFrame({**pairs, "explanation": texts})}


GNN = {"lightgcn": {"recall@20": 0.5, "ndcg@20": 0.3}, "popularity": {"recall@20": 0.4, "ndcg@20": 0.2}}


def test_variants_with_identical_texts_are_named_under_the_table():
    texts = ["he likes heist films", "a quiet drama"]
    s = xrec_metrics(GNN, {"full": _variant(texts), "wo_profile": _variant(["a comedy", "a thriller"]),
                      "wo_injection": _variant([" he likes  heist films", "a quiet drama"])})
    v = s["variants"]
    assert v["full"]["identical_to"] == ["XRec w/o injection"] and v["wo_injection"]["identical_to"] == ["XRec"]
    assert v["wo_profile"]["identical_to"] == [] and v["full"]["steps"] == 18
    md = xrec_tables_markdown(s)
    assert "**Identical texts:** XRec = XRec w/o injection (the same explanation word for word" in md
    differ = xrec_metrics(GNN, {"full": _variant(texts), "wo_injection": _variant(["he likes heist films", "a drama"])})
    assert differ["variants"]["full"]["identical_to"] == []
    assert "Identical texts: none" in xrec_tables_markdown(differ)
    no_texts = {k: v for k, v in _variant(texts).items() if k != "explanations"}
    unchecked = xrec_metrics(GNN, {"full": no_texts})
    assert unchecked["variants"]["full"]["identical_to"] is None
    assert "Identical texts: not checked" in xrec_tables_markdown(unchecked)
