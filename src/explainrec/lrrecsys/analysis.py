"""The analyses of paper 003 §5.5: attention values (Eq. 24, App. C.3, C.4) and explanation keywords (§5.5.3).

Attention: for every test pair and seed, the classification model's input-attention matrix
gives ᾱ_j, the mean attention the tokens pay to token j (column means; they sum to 1 over
the tokens). The summary compares ᾱ_pos and ᾱ_neg for high-rated (4-5) and low-rated test
pairs (the paper's Fig. 7 / Fig. 9 hypothesis: high ratings lean on the positive
explanation, low ratings on the negative) and gives each token's share of the attention
(App. C.4's pie charts; the paper: the two explanations hold 32-39 %).

Keywords: the most frequent words (scikit-learn's English stop words removed) of the
positive and of the negative explanations of the most-rated items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer

from explainrec.core.recommender.model import mean_attention

HIGH = 4


def attention_table(runs: Any, pair_ids: Sequence[str], ratings: np.ndarray) -> pd.DataFrame:
    """One row per (test pair, seed): ``pair_id, seed, rating, high`` and ``alpha_<token>`` (Eq. 24).
    Empty for a model without attention (NCF)."""
    frames = []
    for seed, att in zip(runs.seeds, runs.attention):
        if att is None:
            continue
        alpha = mean_attention(att, runs.tokens)
        frames.append(pd.DataFrame({"pair_id": list(pair_ids), "seed": seed, "rating": ratings,
                                    "high": ratings >= HIGH, **{f"alpha_{t}": v for t, v in alpha.items()}}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _mean(x: pd.Series) -> float | None:
    return round(float(x.mean()), 4) if len(x) else None


def attention_summary(table: pd.DataFrame, tokens: Sequence[str]) -> dict[str, Any]:
    """Mean ᾱ per token for all, high- and low-rated test pairs (over pairs and seeds), the
    explanations' share of the attention, and per group ᾱ_pos - ᾱ_neg."""
    out: dict[str, Any] = {}
    for group, rows in (("all", table), ("high", table[table["high"]]), ("low", table[~table["high"]])):
        g: dict[str, Any] = {"rows": int(len(rows)), **{t: _mean(rows[f"alpha_{t}"]) for t in tokens}}
        if "pos" in tokens and "neg" in tokens and len(rows):
            g["pos_minus_neg"] = round(float((rows["alpha_pos"] - rows["alpha_neg"]).mean()), 4)
        out[group] = g
    expl = [t for t in tokens if t in ("pos", "neg")]
    out["explanation_share"] = round(float(table[[f"alpha_{t}" for t in expl]].sum(axis=1).mean()), 4) \
        if expl and len(table) else None
    return out


def attention_histogram(table: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """Fig. 7's distributions as one table for ``dvc plots``: per bin of ᾱ, the share of
    high- and low-rated test pairs (all seeds) whose ᾱ_pos and ᾱ_neg fall in it."""
    cols = [c for c in ("alpha_pos", "alpha_neg") if c in table]
    values = np.concatenate([table[c].to_numpy() for c in cols]) if cols else np.zeros(0)
    hi = float(values.max()) if values.size else 1.0
    edges = np.linspace(0.0, max(hi, 1e-6), bins + 1)
    out = pd.DataFrame({"alpha": np.round((edges[:-1] + edges[1:]) / 2, 4)})
    for group, rows in (("high", table[table["high"]] if len(table) else table),
                        ("low", table[~table["high"]] if len(table) else table)):
        for c in cols:
            counts, _ = np.histogram(rows[c].to_numpy(), bins=edges)
            out[f"{group}_{c.removeprefix('alpha_')}"] = np.round(counts / max(1, len(rows)), 4)
    return out


def top_keywords(texts: Sequence[str], k: int, opening_words: Sequence[str] = ()) -> list[tuple[str, int]]:
    """The ``k`` most frequent words of ``texts`` without English stop words and the format's
    opening words ("consumer", "watched" ...), with their counts (ties alphabetical)."""
    if not texts:
        return []
    stop = list(CountVectorizer(stop_words="english").get_stop_words() | {w.lower() for w in opening_words})
    vec = CountVectorizer(stop_words=stop, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    try:
        counts = np.asarray(vec.fit_transform(texts).sum(axis=0)).ravel()
    except ValueError:  # nothing but stop words
        return []
    words = vec.get_feature_names_out()
    order = sorted(range(len(words)), key=lambda i: (-counts[i], words[i]))[:k]
    return [(str(words[i]), int(counts[i])) for i in order]


def keyword_report(pairs: pd.DataFrame, explanations: pd.DataFrame, titles: dict[str, str], n_items: int,
                   k: int, opening_words: Sequence[str]) -> str:
    """§5.5.3 as markdown: for the ``n_items`` items with the most pairs, the top ``k`` keywords
    of their positive and of their negative explanations."""
    merged = pairs[["pair_id", "item_id"]].merge(explanations[["pair_id", "positive", "negative"]], on="pair_id")
    top = merged["item_id"].value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    lines = ["# LR-Recsys: top keywords of the explanations (paper 003 §5.5.3)", "",
             f"The {n_items} items with the most pairs (train and test); word counts over their explanations, "
             "English stop words and the answer format's words removed.", "",
             "| item | pairs | positive explanations | negative explanations |", "|---|---|---|---|"]
    for item, n in top.head(n_items).items():
        rows = merged[merged["item_id"] == item]
        cells = [", ".join(f"{w} ({c})" for w, c in top_keywords(rows[col].tolist(), k, opening_words)) or "-"
                 for col in ("positive", "negative")]
        lines.append(f"| {titles.get(item, item)} | {n} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"
