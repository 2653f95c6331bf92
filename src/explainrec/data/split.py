"""The 3:1:1 split of paper 000 into profile / train / test interactions.

``random`` and ``temporal`` split per user, so every user with enough
interactions has some in each part: the profile part feeds the LLM-written
profiles, train feeds explanation generation and fine-tuning, test is held
out. ``random`` shuffles each user's interactions (seeded); ``temporal`` orders
them by time, so the profile part is each user's oldest history and test the
newest. ``rows`` splits the whole table at random (seeded), as XRec splits its
released tables 8:1:1: the method for precomputed tables, where most users have
a single row that a per-user split would always put in the profile part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pathlib import Path

import pandas as pd

from explainrec.core.config import check_choice
from explainrec.core.errors import InputError, ParamError

SPLITS = ("profile", "train", "test")
METHODS = ("random", "temporal", "rows")


@dataclass(frozen=True)
class SplitConfig:
    ratios: tuple[float, float, float] = (3.0, 1.0, 1.0)
    method: str = "random"

    def __post_init__(self) -> None:
        r = self.ratios
        if (not isinstance(r, (list, tuple)) or len(r) != 3
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)
                or not all(x > 0 for x in r)):
            raise ParamError("ratios", "three positive numbers (profile, train, test), e.g. [3, 1, 1]", r)
        object.__setattr__(self, "ratios", tuple(float(x) for x in r))
        check_choice(self.method, "method", METHODS)


def split_counts(n: int, ratios: tuple[float, float, float]) -> tuple[int, int, int]:
    """Split ``n`` into three parts proportional to ``ratios`` (largest remainder, ties to the earlier part)."""
    total = float(sum(ratios))
    exact = [n * r / total for r in ratios]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(3), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts[0], counts[1], counts[2]


def assign_splits(interactions: pd.DataFrame, cfg: SplitConfig, seed: int, source: str = "interactions") -> pd.Series:
    """Return a ``split`` label (profile/train/test) for every row, aligned with ``interactions``."""
    df = interactions[["user_id", "item_id", "timestamp"]].copy()
    if cfg.method == "rows":
        return _split_rows(df, cfg.ratios, seed).reindex(interactions.index)
    if cfg.method == "temporal":
        nulls = int(df["timestamp"].isna().sum())
        if nulls:
            raise InputError(source, "timestamp", "a timestamp on every row for split.method=temporal (or use random)",
                             got=f"{nulls} null")
        df["_key"] = df["timestamp"].astype("int64")
    else:
        df["_key"] = _random_keys(df, seed)
    df = df.sort_values(["user_id", "_key", "item_id"], kind="stable")
    rank = df.groupby("user_id", observed=True).cumcount().to_numpy()
    size = df.groupby("user_id", observed=True)["item_id"].transform("size").to_numpy()
    bounds = {n: split_counts(n, cfg.ratios) for n in np.unique(size).tolist()}
    n_profile = np.array([bounds[n][0] for n in size.tolist()], dtype=np.int64)
    n_train = np.array([bounds[n][1] for n in size.tolist()], dtype=np.int64)
    labels = np.select([rank < n_profile, rank < n_profile + n_train], [SPLITS[0], SPLITS[1]], SPLITS[2])
    return pd.Series(labels, index=df.index, name="split").reindex(interactions.index)


def _random_keys(df: pd.DataFrame, seed: int) -> pd.Series:
    """A seeded random key per row, drawn in a canonical row order so the result
    does not depend on how the input happens to be sorted."""
    canon = df.sort_values(["user_id", "item_id"], kind="stable").index
    return pd.Series(np.random.default_rng(seed).random(len(df)), index=canon).reindex(df.index)


def _split_rows(df: pd.DataFrame, ratios: tuple[float, float, float], seed: int) -> pd.Series:
    """``split.method: rows``: the whole table in a seeded random order, cut by ``ratios``."""
    order = df.assign(_key=_random_keys(df, seed)).sort_values(["_key", "user_id", "item_id"], kind="stable").index
    n_profile, n_train, n_test = split_counts(len(df), ratios)
    labels = [SPLITS[0]] * n_profile + [SPLITS[1]] * n_train + [SPLITS[2]] * n_test
    return pd.Series(labels, index=order, name="split")


def split_interactions(interactions: pd.DataFrame, cfg: SplitConfig, seed: int,
                       source: str = "interactions") -> dict[str, pd.DataFrame]:
    """Return the profile, train and test interaction tables."""
    labels = assign_splits(interactions, cfg, seed, source)
    return {name: interactions[labels == name].reset_index(drop=True) for name in SPLITS}


def write_splits(parts: dict[str, pd.DataFrame], folder: str | Path) -> None:
    """Each split as ``<name>.parquet`` in ``folder`` (profile, train, test)."""
    from explainrec.core.io import write_parquet

    for name, df in parts.items():
        write_parquet(df, Path(folder) / f"{name}.parquet")
