"""A tiny run's worth of report inputs, laid out as `dvc repro` leaves them, for the report tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

#: one explanation carries markup: the page must show it as text
SCRIPT = "<script>alert('x')</script> fits the rainy-day reader"

EXPLAINERS = {"full": "data/generate/explanations.parquet", "xrec": "data/xrec/generate/full/explanations.parquet"}

PLOTS = [
    {"data/sft/loss.csv": {"x": "step", "y": ["train_loss", "eval_loss"]}},
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
    (root / "data/sft").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"step": [1, 2, 3], "train_loss": [1.8, 1.5, 1.4], "eval_loss": [None, 1.2, 1.14]}).to_csv(
        root / "data/sft/loss.csv", index=False)
    (root / "params.yaml").write_text(yaml.safe_dump(
        {"report": {"title": "tiny report", "sample_pairs": 0, "profile_chars": 60}, "explainers": EXPLAINERS}))
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {}, "plots": PLOTS}, sort_keys=False))
