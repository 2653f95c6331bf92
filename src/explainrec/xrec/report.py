"""XRec's tables: the graph's ranking quality, and explanation scores per variant and per bucket.

The explanation scores are the evaluate stage's per-pair scores (``data/eval/<explainer>/
scores.parquet``: the same metrics, encoder and judge as every other explainer), grouped by
the sparsity bucket ``xrec_generate`` assigned (tst1..tst5 by the user's train interactions,
tst1 the rarest, and zero_shot). As in paper 001 (Table 1, Fig. 3, Fig. 4) each score is
given as its mean and its standard deviation over the pairs (the "stability" columns). Variants
whose generated texts are the same word for word (say, w/o injection when the layer injection
changes no greedy token) are named under the variants table and in ``identical_to``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: the per-pair scores reported per bucket (columns of the evaluate stage's scores.parquet)
SCORES = ("gptscore", "bertscore_precision", "bertscore_recall", "bertscore_f1", "bleu4", "rougeL_f1")
#: Fig. 3's variants, in the paper's order
LABELS = {"full": "XRec", "wo_profile": "XRec w/o profile", "wo_injection": "XRec w/o injection",
          "wo_both": "XRec w/o profile & injection"}


def explainer_name(variant: str) -> str:
    """The ``explainers`` key (and ``evaluate@`` stage) of an XRec variant: ``xrec``, ``xrec_<variant>``."""
    return "xrec" if variant == "full" else f"xrec_{variant}"


def _stats(df: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"pairs": int(len(df))}
    for col in SCORES:
        if col in df.columns:
            v = pd.to_numeric(df[col], errors="coerce").dropna().to_numpy(dtype=float)
            out[col] = round(float(v.mean()), 4) if len(v) else None
            out[f"{col}_std"] = round(float(v.std(ddof=0)), 4) if len(v) else None
    return out


def bucket_scores(scores: pd.DataFrame, buckets: pd.DataFrame) -> dict[str, Any]:
    """``{"all": stats, "buckets": {bucket: stats}}`` of one variant's per-pair scores."""
    merged = scores.merge(buckets[["user_id", "item_id", "bucket"]], on=["user_id", "item_id"], how="left")
    merged["bucket"] = merged["bucket"].fillna("unassigned")
    return {"all": _stats(merged),
            "buckets": {str(b): _stats(g) for b, g in sorted(merged.groupby("bucket", sort=True), key=lambda t: t[0])}}


def xrec_metrics(gnn: Mapping[str, Any], variants: Mapping[str, Mapping[str, Any]], top_k: int = 20) -> dict[str, Any]:
    """``metrics/xrec.json``: the gnn's ranking metrics and, per variant, its scores overall and per
    bucket plus its training and generation figures (``variants[v]``: ``scores``, ``buckets``,
    ``moe``, ``generate``, and optionally ``explanations``, the generated table: the variants whose
    texts are identical word for word are listed in ``identical_to``, by label)."""
    from explainrec.evaluation.identical import identical_texts

    texts = {v: parts["explanations"] for v, parts in variants.items() if parts.get("explanations") is not None}
    same = identical_texts(texts)
    out: dict[str, Any] = {"gnn": {"lightgcn": gnn.get("lightgcn"), "popularity": gnn.get("popularity"),
                                   "epochs": gnn.get("epochs"), "best_epoch": gnn.get("best_epoch"),
                                   "zero_shot_users": gnn.get("zero_shot_users")}, "variants": {}}
    for v, parts in variants.items():
        entry = bucket_scores(parts["scores"], parts["buckets"])
        moe, gen = parts.get("moe", {}), parts.get("generate", {})
        entry.update({"label": LABELS.get(v, v), "explainer": explainer_name(v),
                      "unique_sentence_ratio": gen.get("unique_sentence_ratio"),
                      "train_loss_first": moe.get("train_loss_first"), "train_loss_last": moe.get("train_loss_last"),
                      "test_nll_before": moe.get("test_nll_before"), "test_nll_after": moe.get("test_nll_after"),
                      "steps": moe.get("steps"),
                      "identical_to": [LABELS.get(o, o) for o in same.get(v, {})] if v in texts else None})
        out["variants"][v] = entry
    return out


def _fmt(x: Any, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def xrec_tables_markdown(s: Mapping[str, Any], top_k: int = 20) -> str:
    """The README's tables: ranking (LightGCN against popularity), variants, buckets of the full model."""
    g = s["gnn"]
    lines = [f"| ranking (test, train items masked) | Recall@{top_k} | NDCG@{top_k} |", "|---|---:|---:|"]
    for name, key in (("LightGCN", "lightgcn"), ("popularity", "popularity")):
        m = g.get(key) or {}
        lines.append(f"| {name} | {_fmt(m.get(f'recall@{top_k}'))} | {_fmt(m.get(f'ndcg@{top_k}'))} |")
    lines += ["", "| variant | pairs | GPTScore | GPT std | BERTScore P | R | F1 | F1 std | BLEU-4 | ROUGE-L | USR "
                  "| test NLL before -> after |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for v in s["variants"].values():
        a = v["all"]
        lines.append(f"| {v['label']} | {a['pairs']} | {_fmt(a.get('gptscore'), 2)} | {_fmt(a.get('gptscore_std'), 2)} "
                     f"| {_fmt(a.get('bertscore_precision'))} | {_fmt(a.get('bertscore_recall'))} "
                     f"| {_fmt(a.get('bertscore_f1'))} | {_fmt(a.get('bertscore_f1_std'))} | {_fmt(a.get('bleu4'))} "
                     f"| {_fmt(a.get('rougeL_f1'))} | {_fmt(v.get('unique_sentence_ratio'), 3)} "
                     f"| {_fmt(v.get('test_nll_before'), 3)} -> {_fmt(v.get('test_nll_after'), 3)} |")
    lines += ["", _identical_line(s["variants"])]
    full = s["variants"].get("full") or next(iter(s["variants"].values()), None)
    if full:
        lines += ["", f"| {full['label']}: bucket | pairs | GPTScore | GPT std | BERTScore F1 | F1 std |",
                  "|---|---:|---:|---:|---:|---:|"]
        for b, m in full["buckets"].items():
            lines.append(f"| {b} | {m['pairs']} | {_fmt(m.get('gptscore'), 2)} | {_fmt(m.get('gptscore_std'), 2)} "
                         f"| {_fmt(m.get('bertscore_f1'))} | {_fmt(m.get('bertscore_f1_std'))} |")
    return "\n".join(lines) + "\n"


def _identical_line(variants: Mapping[str, Mapping[str, Any]]) -> str:
    """The note under the variants table: which variants generated the same texts word for word."""
    checked = {v["label"]: v["identical_to"] for v in variants.values() if v.get("identical_to") is not None}
    groups: list[list[str]] = []
    for label, others in checked.items():
        if others and not any(label in g for g in groups):
            groups.append([label, *[o for o in others if o != label]])
    if groups:
        text = ("**Identical texts:** " + "; ".join(" = ".join(g) for g in groups)
                + " (the same explanation word for word on every test pair: their scores are one set of texts "
                "scored twice, and the difference between them is nil by construction).")
    elif checked:
        text = "Identical texts: none (every variant's explanations differ from the others' on some test pair)."
    else:
        text = "Identical texts: not checked (no generated explanations given)."
    return text


def plot_rows(s: Mapping[str, Any]) -> pd.DataFrame:
    """One row per (variant, bucket): BERTScore-F1 and GPTScore means (the xrec_buckets plot)."""
    rows = [{"bucket": b, "variant": v, "bertscore_f1": m.get("bertscore_f1"), "gptscore": m.get("gptscore"),
             "pairs": m["pairs"]}
            for v, entry in s["variants"].items() for b, m in entry["buckets"].items()]
    return pd.DataFrame(rows, columns=["bucket", "variant", "bertscore_f1", "gptscore", "pairs"])
