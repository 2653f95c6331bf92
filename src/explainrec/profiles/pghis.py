"""Profile Generation via Hierarchical Interaction Summarization (paper 000 §3.1).

Layer 0: an LLM writes each user's profile from the user's interactions
(titles, categories, ratings, reviews) and each item's from its title,
description and categories, or from its reviews when the dataset has no
metadata (P_init, Eq. 5). Layer l: each node's profile is rewritten from its
own layer l-1 profile and a seeded sample of its neighbours' layer l-1
profiles (P_agg, Eqs. 3-4). Only profile-split interactions are read: they
decide both the L0 attributes and the neighbourhoods, so nothing of the train
or test interactions leaks into a profile.

The paper keeps the top 15 neighbours by rating; we draw a seeded sample of
``neighbors`` per node and layer (``stable_rng(seed, kind, node, layer)``), so
a change to one node never reshuffles another node's sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from explainrec.core.config import check_bool, check_int
from explainrec.core.errors import InputError
from explainrec.core.seeding import stable_rng
from explainrec.core.text import truncate
from explainrec.llm import LLM, ChatRequest
from explainrec.profiles.prompts import SYSTEM, agg_prompt, init_item_prompt, init_user_prompt

NO_INFORMATION = "Nothing is known about this item: it has no title, description, categories or reviews."
USER_ATTRIBUTES = ("age", "gender", "occupation")


@dataclass(frozen=True)
class ProfileConfig:
    """``layers``: P_agg layers after layer 0. ``neighbors``: neighbour profiles
    sampled per node and layer. ``max_history``: interactions in a user's L0
    prompt (highest rated, then newest). ``max_item_reviews``: reviews in an
    item's L0 prompt when it has no metadata. ``passthrough``: use the
    dataset's precomputed profiles as layer 0 and call no LLM."""

    layers: int = 1
    neighbors: int = 3
    max_history: int = 10
    max_item_reviews: int = 8
    max_review_chars: int = 200
    max_new_tokens: int = 96
    passthrough: bool = False

    def __post_init__(self) -> None:
        for name, lo in (("layers", 0), ("neighbors", 1), ("max_history", 1), ("max_item_reviews", 0),
                         ("max_review_chars", 20), ("max_new_tokens", 8)):
            check_int(getattr(self, name), name, lo, expected=f"an integer >= {lo}")
        check_bool(self.passthrough, "passthrough")


@dataclass
class Profiles:
    """Every layer of every node: ``users`` (user_id, layer, profile) and ``items`` (item_id, layer, profile)."""

    users: pd.DataFrame
    items: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA and str(v).strip() != ""


def _title(items: pd.DataFrame) -> dict[str, str]:
    return {i: t for i, t in zip(items["item_id"], items["title"]) if _present(t)}


def user_history(rows: pd.DataFrame, titles: dict[str, str], categories: dict[str, str], cfg: ProfileConfig) -> list[str]:
    """One line per interaction, the ``max_history`` highest-rated (then newest) first."""
    rows = rows.assign(_r=rows["rating"].fillna(-1), _t=rows["timestamp"].fillna(-1))
    rows = rows.sort_values(["_r", "_t", "item_id"], ascending=[False, False, True]).head(cfg.max_history)
    lines = []
    for item, rating, review in zip(rows["item_id"], rows["rating"], rows["review"]):
        line = titles.get(item, f"item {item}")
        if item in categories:
            line += f" [{categories[item]}]"
        if _present(rating):
            line += f": rated {rating:g}"
        if _present(review):
            line += f'. Review: "{truncate(review, cfg.max_review_chars)}"'
        lines.append(line)
    return lines


def user_attribute_text(row: pd.Series | None) -> str:
    if row is None:
        return ""
    return ", ".join(f"{a} {row[a]}" for a in USER_ATTRIBUTES if a in row.index and _present(row[a]))


def item_description(row: pd.Series) -> list[str]:
    return [f"{label}: {truncate(row[col], 600)}" for col, label in
            (("title", "Title"), ("description", "Description"), ("categories", "Categories")) if _present(row[col])]


def item_reviews(rows: pd.DataFrame, cfg: ProfileConfig) -> list[str]:
    """The item's profile-split reviews, newest first (rating prefixed when known)."""
    rows = rows[rows["review"].notna()].assign(_t=rows["timestamp"].fillna(-1))
    rows = rows.sort_values(["_t", "user_id"], ascending=[False, True]).head(cfg.max_item_reviews)
    out = []
    for rating, review in zip(rows["rating"], rows["review"]):
        prefix = f"rated {rating:g}: " if _present(rating) else ""
        out.append(prefix + f'"{truncate(review, cfg.max_review_chars)}"')
    return out


def sample_neighbours(seed: int, kind: str, node: str, layer: int, neighbours: list[str], k: int) -> list[str]:
    """Up to ``k`` of ``neighbours`` (sorted first), drawn with a generator seeded by (seed, kind, node, layer)."""
    pool = sorted(neighbours)
    if len(pool) <= k:
        return pool
    idx = stable_rng(seed, "pghis", kind, node, layer).choice(len(pool), size=k, replace=False)
    return [pool[i] for i in sorted(idx)]


def _generate(llm: LLM, system: str, prompts: dict[str, str], cfg: ProfileConfig, desc: str,
              fallback: Callable[[str], str]) -> tuple[dict[str, str], int]:
    """LLM answers for ``prompts`` ({node: prompt}); an empty answer falls back to ``fallback(node)``."""
    nodes = sorted(prompts)
    outs = llm.chat([ChatRequest.of(system, prompts[n], max_new_tokens=cfg.max_new_tokens) for n in nodes], desc=desc)
    result, empty = {}, 0
    for node, out in zip(nodes, outs):
        text = " ".join(out.text.split())
        if not text:
            empty += 1
            text = fallback(node)
        result[node] = text
    return result, empty


def _frame(id_col: str, layers: list[dict[str, str]]) -> pd.DataFrame:
    rows = [(node, layer, text) for layer, profiles in enumerate(layers) for node, text in sorted(profiles.items())]
    df = pd.DataFrame(rows, columns=[id_col, "layer", "profile"])
    return df.astype({id_col: "string", "layer": "int64", "profile": "string"})


def _passthrough(users: pd.DataFrame, items: pd.DataFrame, source: str) -> Profiles:
    for df, kind, id_col in ((users, "users", "user_id"), (items, "items", "item_id")):
        if "profile" not in df.columns or df["profile"].isna().any():
            missing = len(df) if "profile" not in df.columns else int(df["profile"].isna().sum())
            raise InputError(f"{source}/{kind}.parquet", "profile",
                             "a precomputed profile for every node when profiles.passthrough is true",
                             got=f"{missing} missing")
    u = {k: str(v) for k, v in zip(users["user_id"], users["profile"])}
    i = {k: str(v) for k, v in zip(items["item_id"], items["profile"])}
    return Profiles(_frame("user_id", [u]), _frame("item_id", [i]),
                    {"passthrough": True, "layers": [{"layer": 0, "users": len(u), "items": len(i)}]})


def build_profiles(profile_split: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, llm: LLM | None,
                   cfg: ProfileConfig, seed: int, source: str = "data/filtered") -> Profiles:
    """Profiles of every user and item of ``items``/``users``, layers 0..cfg.layers.

    ``profile_split`` holds the profile-split interactions (the only ones read);
    ``items`` and ``users`` are the filtered dataset's tables.
    """
    if cfg.passthrough:
        return _passthrough(users, items, source)
    if llm is None:
        raise ValueError("build_profiles needs an LLM unless cfg.passthrough")
    titles = _title(items)
    categories = {i: c for i, c in zip(items["item_id"], items["categories"]) if _present(c)}
    by_user = dict(tuple(profile_split.groupby("user_id", observed=True)))
    by_item = dict(tuple(profile_split.groupby("item_id", observed=True)))
    user_rows = {u: r for u, (_, r) in zip(users["user_id"], users.iterrows())}
    empty_frame = profile_split.iloc[0:0]

    # layer 0 -------------------------------------------------------------
    user_prompts = {u: init_user_prompt(user_attribute_text(user_rows.get(u)),
                                        user_history(by_user.get(u, empty_frame), titles, categories, cfg))
                    for u in users["user_id"]}
    item_prompts, no_info = {}, {}
    for _, row in items.iterrows():
        desc = item_description(row)
        # reviews stand in for metadata: used when the item has no description and no categories
        has_metadata = _present(row["description"]) or _present(row["categories"])
        reviews = [] if has_metadata else item_reviews(by_item.get(row["item_id"], empty_frame), cfg)
        if not desc and not reviews:
            no_info[row["item_id"]] = NO_INFORMATION
        else:
            item_prompts[row["item_id"]] = init_item_prompt(desc, reviews)
    u0, u_empty = _generate(llm, SYSTEM[("user", "init")], user_prompts, cfg, "profiles L0 users",
                            lambda n: truncate(user_prompts[n], 500))
    i0, i_empty = _generate(llm, SYSTEM[("item", "init")], item_prompts, cfg, "profiles L0 items",
                            lambda n: truncate(item_prompts[n], 500))
    i0.update(no_info)
    user_layers, item_layers = [u0], [i0]
    layer_stats = [{"layer": 0, "users": len(u0), "items": len(i0), "user_calls": len(user_prompts),
                    "item_calls": len(item_prompts), "empty_outputs": u_empty + i_empty}]

    # layers 1..n -------------------------------------------------------------
    user_nbrs = {u: [str(i) for i in g["item_id"]] for u, g in by_user.items()}
    item_nbrs = {i: [str(u) for u in g["user_id"]] for i, g in by_item.items()}
    for layer in range(1, cfg.layers + 1):
        prev_u, prev_i = user_layers[-1], item_layers[-1]
        up = {u: agg_prompt("user", prev_u[u], [prev_i[i] for i in
                                                 sample_neighbours(seed, "user", u, layer, user_nbrs[u], cfg.neighbors)])
              for u in prev_u if user_nbrs.get(u)}
        ip = {i: agg_prompt("item", prev_i[i], [prev_u[u] for u in
                                                 sample_neighbours(seed, "item", i, layer, item_nbrs[i], cfg.neighbors)])
              for i in prev_i if item_nbrs.get(i)}
        new_u, ue = _generate(llm, SYSTEM[("user", "agg")], up, cfg, f"profiles L{layer} users", prev_u.__getitem__)
        new_i, ie = _generate(llm, SYSTEM[("item", "agg")], ip, cfg, f"profiles L{layer} items", prev_i.__getitem__)
        # nodes without profile-split neighbours keep their previous profile
        user_layers.append({**prev_u, **new_u})
        item_layers.append({**prev_i, **new_i})
        layer_stats.append({"layer": layer, "users": len(prev_u), "items": len(prev_i), "user_calls": len(up),
                            "item_calls": len(ip), "empty_outputs": ue + ie})

    users_df, items_df = _frame("user_id", user_layers), _frame("item_id", item_layers)
    for s in layer_stats:
        s["mean_words_user"] = round(float(users_df[users_df.layer == s["layer"]].profile.str.split().str.len().mean()), 2)
        s["mean_words_item"] = round(float(items_df[items_df.layer == s["layer"]].profile.str.split().str.len().mean()), 2)
    stats = {"passthrough": False, "layers": layer_stats, "items_without_information": len(no_info)}
    return Profiles(users_df, items_df, stats)
