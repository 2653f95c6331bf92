"""The LR-Recsys samples: (user, candidate item, the user's last n items before it) and the rating.

Paper 003 §5.1: the inputs are the user, the candidate item and the user's last
five consumed items; the target is the 1-5 rating. The pairs are the split's
train and test interactions (seeded caps keep the default run small); a pair's
history is the user's interactions strictly earlier in time than the candidate,
from any split (only the item ids are used, never their ratings), so it never
holds the candidate or anything later. Interactions at the same second as the
candidate are left out, since their order is unknown. A user whose
interactions have no timestamps gets the last n items of their profile split
instead (disjoint from the train and test pairs; table order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explainrec.config import check_int
from explainrec.cpeg.negatives import cap_pairs
from explainrec.errors import InputError

COLUMNS = ["pair_id", "split", "user_id", "item_id", "rating", "timestamp", "history"]
SPLITS = ("train", "test")


@dataclass(frozen=True)
class PairsConfig:
    """``lrrecsys.pairs``: history length n and the seeded caps on the train / test pairs."""

    history: int = 5
    max_train: int | None = 72
    max_test: int | None = 36

    def __post_init__(self) -> None:
        check_int(self.history, "history")
        check_int(self.max_train, "max_train", none_ok=True)
        check_int(self.max_test, "max_test", none_ok=True)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["user_id", "timestamp", "item_id"], kind="stable", na_position="first")


def histories(candidates: pd.DataFrame, interactions: pd.DataFrame, profile: pd.DataFrame, n: int) -> list[list[str]]:
    """For each candidate row (user_id, item_id, timestamp): the user's last ``n`` item ids strictly
    earlier in time, oldest first (the profile split's last ``n`` when the candidate has no timestamp)."""
    by_user = {u: g for u, g in _sorted(interactions).groupby("user_id", sort=False, observed=True)}
    fallback = {u: g["item_id"].astype(str).tolist()[-n:] for u, g in profile.groupby("user_id", sort=False,
                                                                                    observed=True)}
    out: list[list[str]] = []
    for u, ts in zip(candidates["user_id"], candidates["timestamp"]):
        if pd.isna(ts):
            out.append(list(fallback.get(u, [])))
            continue
        g = by_user.get(u)
        if g is None:
            out.append([])
            continue
        earlier = g[g["timestamp"].notna() & (g["timestamp"] < ts)]
        out.append(earlier["item_id"].astype(str).tolist()[-n:])
    return out


def build_pairs(splits: dict[str, pd.DataFrame], interactions: pd.DataFrame, config: PairsConfig,
                seed: int, source: str = "splits") -> pd.DataFrame:
    """The pairs table (:data:`COLUMNS`): the capped train and test interactions with their histories.

    ``splits`` holds the split stage's ``profile``, ``train`` and ``test`` tables; ``interactions``
    is the filtered table the histories come from.
    """
    frames = []
    for name in SPLITS:
        df = splits[name].copy()
        df["user_id"] = df["user_id"].astype(str)
        df["item_id"] = df["item_id"].astype(str)
        if df["rating"].isna().any():
            bad = df[df["rating"].isna()].iloc[0]
            raise InputError(f"{source}/{name}.parquet", "rating",
                             "a 1-5 rating on every pair (LR-Recsys predicts it)",
                             got=f"null for user {bad['user_id']}, item {bad['item_id']}")
        cap = config.max_train if name == "train" else config.max_test
        df = cap_pairs(df.drop_duplicates(["user_id", "item_id"]), cap, seed, f"lrrecsys-{name}")
        frames.append(df.assign(split=name))
    pairs = pd.concat(frames, ignore_index=True)
    inter = interactions.assign(user_id=interactions["user_id"].astype(str),
                                item_id=interactions["item_id"].astype(str))
    profile = splits["profile"].assign(user_id=splits["profile"]["user_id"].astype(str),
                                       item_id=splits["profile"]["item_id"].astype(str))
    pairs["history"] = histories(pairs, inter, profile, config.history)
    pairs["pair_id"] = [f"{s}:{u}:{i}" for s, u, i in zip(pairs["split"], pairs["user_id"], pairs["item_id"])]
    pairs["rating"] = pairs["rating"].astype("float64")
    return pairs[COLUMNS].reset_index(drop=True)


def pairs_metrics(pairs: pd.DataFrame, n: int) -> dict[str, object]:
    """Counts per split: pairs, users, items, high-rated share, mean history length."""
    out: dict[str, object] = {"history": n}
    for name in SPLITS:
        p = pairs[pairs["split"] == name]
        lens = p["history"].map(len).to_numpy() if len(p) else np.zeros(0)
        out[name] = {
            "pairs": int(len(p)),
            "users": int(p["user_id"].nunique()),
            "items": int(p["item_id"].nunique()),
            "high_share": round(float((p["rating"] >= 4).mean()), 4) if len(p) else None,
            "history_mean": round(float(lens.mean()), 3) if len(lens) else None,
            "history_empty": int((lens == 0).sum()),
        }
    return out


FILE = "pairs.parquet"


def read_pairs(folder: str | Path) -> pd.DataFrame:
    """The lrrecsys_pairs stage's table, with ``history`` as lists of item ids."""
    from explainrec.io import read_table

    df = read_table(Path(folder) / FILE, "LR-Recsys pairs", "the lrrecsys_pairs stage", tuple(COLUMNS))
    df["history"] = [list(map(str, h)) for h in df["history"]]
    return df
