"""The LR-Recsys summary: every run in the layout of paper 003's Table 6, the paper's Amazon Movie
figures beside ours for scale, paired tests over seeds, and the learning-efficiency curve (Table 3).

The paper's rows are its Amazon Movie column (Tables 2-6: the closest to the default
MovieLens data, also movies): mean (std) over 10 runs, RMSE and MAE on ratings scaled to [0, 1].
They are printed for scale only; the data, the LLM and the sizes differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from explainrec.core.config import check_int, check_path
from explainrec.core.recommender.train import paired_seed_test

METRICS = ("rmse", "mae", "auc")
#: paper 003, Amazon Movie: (RMSE, MAE, AUC) means, by the table row that matches a run
PAPER_AMAZON: dict[str, tuple[str, tuple[float, float, float]]] = {
    "lr_recsys": ("Table 2", (0.1673, 0.1180, 0.7500)),
    "ablation_1": ("Table 6", (0.2144, 0.1845, 0.7053)),
    "ablation_2": ("Table 6", (0.1701, 0.1226, 0.7463)),
    "ablation_3": ("Table 6", (0.1679, 0.1186, 0.7493)),
    "robustness_1": ("Table 6", (0.1662, 0.1191, 0.7484)),
    "positive_only": ("Table 5", (0.1703, 0.1209, 0.7456)),
    "no_profile": ("Table 4", (0.1744, 0.1239, 0.7430)),
    "train_50": ("Table 3", (0.1791, 0.1308, 0.7276)),
    "train_25": ("Table 3", (0.1997, 0.1703, 0.7173)),
    "train_12": ("Table 3", (0.2175, 0.1866, 0.7015)),
}
#: the best baseline of the paper's Table 2 on Amazon Movie (PETER), for scale
PAPER_BEST_BASELINE = ("PETER", (0.2099, 0.1770, 0.7226))


@dataclass(frozen=True)
class LRRecsysReportConfig:
    """``lrrecsys.report``: the run the others are tested against, which ones, keyword sizes."""

    baseline: str = "lr_recsys"
    compare: tuple[str, ...] = ("ablation_1", "black_box")
    keyword_items: int = 5
    keywords: int = 8

    def __post_init__(self) -> None:
        check_path(self.baseline, "baseline", "the name of an lrrecsys.runs entry", none_ok=False)
        object.__setattr__(self, "compare", tuple(self.compare))
        for c in self.compare:
            check_path(c, "compare", "names of lrrecsys.runs entries", none_ok=False)
        check_int(self.keyword_items, "keyword_items")
        check_int(self.keywords, "keywords")


def _cell(m: Mapping[str, Any] | None) -> str:
    if not m or m.get("mean") is None:
        return "n/a"
    return f"{m['mean']:.4f} ({m['std']:.4f})"


def runs_table_markdown(runs: Mapping[str, Mapping[str, Any]], machine: str) -> str:
    """Every run as a row: RMSE, MAE ([0, 1]), AUC as mean (std) over seeds, the 1-5 scale, the
    paper's Amazon Movie row beside it."""
    any_run = next(iter(runs.values()))
    lines = [
        "# LR-Recsys on the default data (layout of paper 003, Table 6)", "",
        f"Mean (std) over {len(any_run['seeds'])} seeds ({', '.join(map(str, any_run['seeds']))}); "
        f"{any_run['test_pairs']} test pairs; RMSE and MAE on ratings scaled to [0, 1] as in the paper "
        f"(1-5 scale in the last columns); AUC of the classification model (ratings 4-5 high). {machine}", "",
        "| model | train pairs | parameters | RMSE ↓ | MAE ↓ | AUC ↑ | RMSE (1-5) | MAE (1-5) "
        "| paper, Amazon Movie: RMSE / MAE / AUC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in runs.items():
        src, (r, a, u) = PAPER_AMAZON.get(name, ("", (None, None, None)))
        paper = f"{r:.4f} / {a:.4f} / {u:.4f} ({src})" if src else "-"
        lines.append(f"| {m['label'] or name} | {m['train_pairs']} | {m['parameters']} | {_cell(m.get('rmse'))} | "
                     f"{_cell(m.get('mae'))} | {_cell(m.get('auc'))} | {_cell(m.get('rmse_5'))} | "
                     f"{_cell(m.get('mae_5'))} | {paper} |")
    b, (r, a, u) = PAPER_BEST_BASELINE
    lines += ["", f"The paper's best baseline on Amazon Movie ({b}): RMSE {r}, MAE {a}, AUC {u}.", ""]
    return "\n".join(lines)


def paired_tests(runs: Mapping[str, Mapping[str, Any]], config: LRRecsysReportConfig) -> dict[str, Any]:
    """``baseline - other`` per metric over the shared seeds (paired t-test)."""
    base = runs[config.baseline]
    out: dict[str, Any] = {}
    for other in config.compare:
        o = runs[other]
        if o["seeds"] != base["seeds"] or o["test_pairs"] != base["test_pairs"]:
            out[other] = {"skipped": "different seeds or test pairs"}
            continue
        out[other] = {k: paired_seed_test(base[k]["per_seed"], o[k]["per_seed"])
                      for k in METRICS if base[k]["mean"] is not None and o[k]["mean"] is not None}
    return out


def paired_markdown(tests: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], baseline: str) -> str:
    lines = [f"## {runs[baseline]['label']} against the runs without explanation information", "",
             "Difference (ours minus theirs) per metric: mean ± std over seeds, paired t-test p-value "
             "(negative RMSE / MAE and positive AUC differences favour the explanations).", "",
             "| against | RMSE | MAE | AUC |", "|---|---|---|---|"]
    for other, t in tests.items():
        if "skipped" in t:
            lines.append(f"| {runs[other]['label']} | {t['skipped']} | | |")
            continue
        cells = []
        for k in METRICS:
            d = t.get(k)
            if d is None:
                cells.append("n/a")
                continue
            p = "n/a" if d["p_value"] is None else f"{d['p_value']:.3f}"
            cells.append(f"{d['mean_diff']:+.4f} ± {d['std_diff']:.4f} (p {p})")
        lines.append(f"| {runs[other]['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def efficiency_curve(runs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Table 3 as a plot table: the runs that differ from the baseline only in their train share,
    plus every run at 100 % with the baseline's settings, one row per share."""
    rows = []
    for name, m in runs.items():
        same = m["arch"] == "dnn" and m["explanations"] == "given" and m["embeddings"] == "main" \
            and m["tokens"][:2] == ["pos", "neg"]
        if same:
            rows.append({"train_percent": round(100 * m["train_fraction"], 1), "train_pairs": m["train_pairs"],
                         **{k: m[k]["mean"] for k in METRICS}, **{f"{k}_std": m[k]["std"] for k in METRICS}})
    return pd.DataFrame(rows).sort_values("train_percent").drop_duplicates("train_percent").reset_index(drop=True)


def runs_summary(runs: Mapping[str, Mapping[str, Any]], tests: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """What metrics/lrrecsys_summary.json holds: each run's means and stds, and the paired tests."""
    return {"runs": {n: {k: {"mean": runs[n][k]["mean"], "std": runs[n][k]["std"]}
                         for k in (*METRICS, "rmse_5", "mae_5")} for n in order},
            "paired_tests": tests}
