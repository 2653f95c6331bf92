"""Iterative k-core filtering and seeded size caps for small runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explainrec.core.config import check_int
from explainrec.core.errors import InputError
from explainrec.data.schema import Dataset


@dataclass(frozen=True)
class FilterConfig:
    """``user_core``/``item_core``: minimum interactions per user/item after
    filtering. ``max_users``: keep a seeded random sample of this many users
    (None = all); ``max_items``: then keep only the most-interacted items.
    k-core is applied before and again after the caps, so it always holds."""

    user_core: int = 5
    item_core: int = 5
    max_users: int | None = 40
    max_items: int | None = 80

    def __post_init__(self) -> None:
        for name in ("user_core", "item_core"):
            check_int(getattr(self, name), name, expected="an integer >= 1")
        for name in ("max_users", "max_items"):
            check_int(getattr(self, name), name, none_ok=True)


def kcore(interactions: pd.DataFrame, user_core: int, item_core: int) -> pd.DataFrame:
    """Drop users with fewer than ``user_core`` and items with fewer than
    ``item_core`` interactions, repeatedly, until both conditions hold."""
    df = interactions
    while True:
        users = df["user_id"].map(df["user_id"].value_counts())
        items = df["item_id"].map(df["item_id"].value_counts())
        keep = (users >= user_core) & (items >= item_core)
        if keep.all():
            return df.reset_index(drop=True)
        df = df[keep]


def sample_users(interactions: pd.DataFrame, max_users: int, seed: int) -> pd.DataFrame:
    """Keep the interactions of ``max_users`` users drawn without replacement (seeded)."""
    users = np.sort(interactions["user_id"].unique().astype(str))
    if len(users) <= max_users:
        return interactions
    chosen = np.random.default_rng(seed).choice(users, size=max_users, replace=False)
    return interactions[interactions["user_id"].isin(chosen)]


def top_items(interactions: pd.DataFrame, max_items: int) -> pd.DataFrame:
    """Keep the interactions with the ``max_items`` most-interacted items (ties by id)."""
    counts = interactions.groupby("item_id", observed=True).size().reset_index(name="n")
    counts = counts.sort_values(["n", "item_id"], ascending=[False, True]).head(max_items)
    return interactions[interactions["item_id"].isin(counts["item_id"])]


def filter_dataset(ds: Dataset, cfg: FilterConfig, seed: int, source: str = "interactions") -> Dataset:
    """k-core, optional caps, k-core again; items and users tables follow."""
    df = kcore(ds.interactions, cfg.user_core, cfg.item_core)
    if cfg.max_users is not None:
        df = sample_users(df, cfg.max_users, seed)
    if cfg.max_items is not None:
        df = top_items(df, cfg.max_items)
    df = kcore(df, cfg.user_core, cfg.item_core)
    if df.empty:
        raise InputError(
            source, "interactions",
            f"some interactions left after {cfg.user_core}/{cfg.item_core}-core filtering"
            f" (max_users={cfg.max_users}, max_items={cfg.max_items}); lower filter.user_core/item_core or raise the caps",
            got=f"0 of {len(ds.interactions)}",
        )
    df = df.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    items = ds.items[ds.items["item_id"].isin(df["item_id"])].sort_values("item_id").reset_index(drop=True)
    users = ds.users[ds.users["user_id"].isin(df["user_id"])]
    missing = sorted(set(df["user_id"]) - set(users["user_id"]))
    if missing:  # datasets without a users table still get one row per user
        users = pd.concat([users, pd.DataFrame({"user_id": pd.array(missing, dtype="string")})], ignore_index=True)
    users = users.sort_values("user_id").reset_index(drop=True)
    return Dataset(interactions=df, items=items, users=users)
