"""A tiny run's worth of report inputs, laid out as `dvc repro` leaves them, for the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

#: one explanation carries markup: the page must show it as text
SCRIPT = "<script>alert('x')</script> fits the rainy-day reader"

EXPLAINERS = {"full": "data/generate/explanations.parquet", "xrec": "data/xrec/generate/full/explanations.parquet"}

PLOTS = [
    {"data/recpie/rounds.csv": {"x": "round", "y": ["rmse", "reward"]}},
    {"ablation_gptscore": {"template": "bar_horizontal", "x": "gptscore", "y": {"metrics/plots/eval.csv": "method"}}},
]


def _parquet(root: Path, rel: str, rows: list[dict]) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


def write_inputs(root: Path, users: int = 6, items: int = 4) -> None:
    """Every file the report stage of dvc.yaml reads, at ``root``, with a params.yaml and a dvc.yaml."""
    pairs = [(f"U{u}", f"I{(u + k) % items}") for u in range(users) for k in range(2)]
    for method, path in EXPLAINERS.items():
        _parquet(root, path, [{"user_id": u, "item_id": i, "reference": f"review of {u} on {i}",
                               "explanation": SCRIPT if (method, u, i) == ("full", "U0", "I0")
                               else f"{method} says {u} will enjoy {i}"} for u, i in pairs])
    _parquet(root, "data/profiles/user_profiles.parquet",
             [{"user_id": f"U{u}", "layer": layer, "profile": f"user {u} layer {layer} " + "likes mysteries " * 20}
              for u in range(users) for layer in (0, 1)])
    _parquet(root, "data/profiles/item_profiles.parquet",
             [{"item_id": f"I{i}", "layer": 0, "profile": f"item {i}: a gothic novel"} for i in range(items)])
    _parquet(root, "data/filtered/items.parquet", [{"item_id": f"I{i}", "title": f"Book {i}"} for i in range(items)])
    _parquet(root, "data/lrrecsys/pairs/pairs.parquet",
             [{"pair_id": n, "user_id": u, "item_id": i} for n, (u, i) in enumerate(pairs)])
    for folder, word in (("data/lrrecsys/explanations/main", "lr"), ("data/recpie", "rl")):
        _parquet(root, f"{folder}/explanations.parquet",
                 [{"pair_id": n, "positive": f"{word} pro {n}", "negative": f"{word} con {n}"} for n in range(0, len(pairs), 2)])
    metrics = root / "metrics"
    (metrics / "plots").mkdir(parents=True, exist_ok=True)
    for name in ("eval_table", "xrec_table", "lrrecsys_table", "lrrecsys_keywords"):
        (metrics / f"{name}.md").write_text(f"## {name}\n\n| method | GPTScore |\n|---|---:|\n| full | 15.76 |\n")
    pd.DataFrame({"method": ["full", "wo_sft"], "gptscore": [15.76, 15.21], "bs_f1": [0.44, 0.42]}).to_csv(
        metrics / "plots/eval.csv", index=False)
    pd.DataFrame({"round": [0, 1], "rmse": [0.325, 0.324], "reward": [-0.3, -0.2]}).to_csv(
        root / "data/recpie/rounds.csv", index=False)  # the recpie and gt_judge stages write them in their outputs
    (root / "data/ground_truth/judge").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"source": ["cpeg", "review"], "win_rate": [0.6, 0.4]}).to_csv(
        root / "data/ground_truth/judge/win_rates.csv", index=False)
    write_summary_inputs(root)
    (root / "params.yaml").write_text(yaml.safe_dump(
        {"report": {"title": "tiny report", "sample_pairs": 0, "profile_chars": 60}, "explainers": EXPLAINERS,
         "compare": {"baseline": "full", "resamples": 200, "confidence": 0.95}, "seed": 3}))
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {}, "plots": PLOTS}, sort_keys=False))


def write_summary_inputs(root: Path) -> None:
    """The metrics and the RecPIE predictions the summary reads: PGHIS's interval excludes 0, LR-Recsys's
    straddles it, XRec has none; RecPIE's last round predicts every test pair better than round 0."""
    def vs(diff: float, lo: float, hi: float) -> dict:
        return {"bs_f1": {"diff": diff, "ci_low": lo, "ci_high": hi, "excludes_0": lo > 0 or hi < 0}}

    metrics = root / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    (metrics / "eval_summary.json").write_text(json.dumps({
        "full": {"bs_f1": 0.44, "pairs": 12}, "wo_pghis": {"bs_f1": 0.40, "vs_full": vs(-0.04, -0.07, -0.01)},
        "xrec": {"bs_f1": 0.43, "pairs": 12, "vs_full": vs(-0.01, -0.05, 0.03)},
        "xrec_wo_injection": {"bs_f1": 0.30, "vs_full": vs(-0.14, -0.2, -0.08)}}))
    (metrics / "lrrecsys_summary.json").write_text(json.dumps({"paired_tests": {"black_box": {"rmse": {
        "mean_diff": -0.001, "std_diff": 0.02, "n": 3, "t": -0.0866, "p_value": 0.94}}}}))
    (metrics / "recpie.json").write_text(json.dumps({"round_0": {"rmse": 0.30}, "last": {"rmse": 0.25}}))
    ratings = [1.0, 2.0, 3.0, 4.0, 5.0, 4.0]
    _parquet(root, "data/recpie/predictions.parquet",
             [{"pair_id": f"test:{k}", "rating": r, "prediction_round_0": r + (1.5 if k % 2 else -1.5),
               "prediction_last": r + (0.5 if k % 2 else -0.4)} for k, r in enumerate(ratings)])
