"""The LR-Recsys samples: (user, candidate item, the user's last n items before it) and the rating.

Paper 003 §5.1: the inputs are the user, the candidate item and the user's last five
consumed items; the target is the 1-5 rating; each dataset is split "into training and test
sets using an 80-20 ratio at the user-temporal level". Seeded caps (``max_train``,
``max_test``) keep the default run small. Two ways to choose the pairs (``split``):

``time`` (the paper's split, the default)
    each user's interactions (all of them, from the filtered table) are ordered by time
    (then item id) and the first ``time_train_share`` of them (rounded half up, at least one
    on each side for a user with two or more) are the train side, the rest the test side.
    A train pair's history holds only train-side interactions of that user strictly earlier
    in time than the candidate. A test pair's history holds the user's interactions strictly
    earlier than it from both sides, earlier test-side items included: the paper's records
    carry "the user's past purchasing history (as a sequence of movie IDs)" up to each
    record, and a history holds item ids only, never a rating, so no test label enters an
    input. A user any of whose interactions has no timestamp cannot be ordered: their pairs
    are the split stage's train and test rows and every history is the last n items of
    their profile split (disjoint from both), as under ``splits``; the stage's metrics count
    these users (``untimed_users``).
``splits``
    the split stage's train and test tables (the repository's random 3:1:1 split by
    default); a pair's history is the user's interactions strictly earlier in time than
    the candidate, from any split, so a train pair's history may hold test-split items.
    A user whose interactions have no timestamps gets the last n items of their profile
    split instead (table order).

Either way a history never holds the candidate or anything at or after its time:
interactions at the same second as the candidate are left out (their order is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explainrec.core.config import check_choice, check_int, check_number
from explainrec.core.errors import InputError
from explainrec.core.recommender.pair_table import COLUMNS
from explainrec.core.sampling import cap_pairs

SPLITS = ("train", "test")
MODES = ("time", "splits")


@dataclass(frozen=True)
class PairsConfig:
    """``lrrecsys.pairs``: history length n, the seeded caps on the train / test pairs, and the split.

    ``split``: ``time`` (each user's first ``time_train_share`` of interactions in time are
    the train side, the rest the test side: the paper's 80:20 split) or ``splits`` (the split
    stage's train and test tables)."""

    history: int = 5
    max_train: int | None = 72
    max_test: int | None = 36
    split: str = "time"
    time_train_share: float = 0.8

    def __post_init__(self) -> None:
        check_int(self.history, "history")
        check_int(self.max_train, "max_train", none_ok=True)
        check_int(self.max_test, "max_test", none_ok=True)
        check_choice(self.split, "split", MODES)
        check_number(self.time_train_share, "time_train_share", 0.0, 1.0, low_open=True, high_open=True)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["user_id", "timestamp", "item_id"], kind="stable", na_position="first")


def _str_ids(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(user_id=df["user_id"].astype(str), item_id=df["item_id"].astype(str))


def histories(candidates: pd.DataFrame, interactions: pd.DataFrame, profile: pd.DataFrame, n: int) -> list[list[str]]:
    """For each candidate row (user_id, item_id, timestamp): the user's last ``n`` item ids of
    ``interactions`` strictly earlier in time, oldest first (the profile split's last ``n`` when
    the candidate has no timestamp)."""
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


def untimed_users(interactions: pd.DataFrame) -> set[str]:
    """The users with at least one interaction without a timestamp (they cannot be split in time)."""
    return set(interactions.loc[interactions["timestamp"].isna(), "user_id"].astype(str))


def time_sides(interactions: pd.DataFrame, share: float) -> pd.Series:
    """``train`` / ``test`` for every row of ``interactions`` (aligned with its index): per user,
    ordered by (timestamp, item_id), the first ``floor(share * n + 0.5)`` rows are the train
    side (kept between 1 and n - 1 when n >= 2; a single interaction is train side). Users
    with an untimed interaction get None."""
    check_number(share, "time_train_share", 0.0, 1.0, low_open=True, high_open=True)
    untimed = untimed_users(interactions)
    df = interactions[["user_id", "item_id", "timestamp"]].astype({"user_id": str, "item_id": str})
    df = df[~df["user_id"].isin(untimed)].sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    rank = df.groupby("user_id", sort=False).cumcount().to_numpy()
    size = df.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    n_train = np.floor(share * size + 0.5).astype(np.int64)
    n_train = np.where(size >= 2, np.clip(n_train, 1, size - 1), size)
    sides = pd.Series(np.where(rank < n_train, "train", "test"), index=df.index, dtype=object)
    return sides.reindex(interactions.index)


def _checked_ratings(df: pd.DataFrame, where: str) -> None:
    if df["rating"].isna().any():
        bad = df[df["rating"].isna()].iloc[0]
        raise InputError(where, "rating", "a 1-5 rating on every pair (LR-Recsys predicts it)",
                         got=f"null for user {bad['user_id']}, item {bad['item_id']}")


def build_pair_table(splits: dict[str, pd.DataFrame], interactions: pd.DataFrame, config: PairsConfig,
                seed: int, source: str = "splits") -> pd.DataFrame:
    """The pairs table (:data:`COLUMNS`): the capped train and test pairs with their histories.

    ``splits`` holds the split stage's ``profile``, ``train`` and ``test`` tables; ``interactions``
    is the filtered table the time split and the histories come from (``config.split``: see
    the module docstring).
    """
    inter = _str_ids(interactions).reset_index(drop=True)
    profile = _str_ids(splits["profile"])
    untimed = untimed_users(inter) if config.split == "time" else set()
    sides = time_sides(inter, config.time_train_share) if config.split == "time" else None
    frames = []
    for name in SPLITS:
        if sides is None:
            df, where = _str_ids(splits[name]), f"{source}/{name}.parquet"
        else:  # the time split's side, then the split stage's rows of the untimed users
            timed = _sorted(inter[sides == name])
            rest = _str_ids(splits[name])
            df = pd.concat([timed, rest[rest["user_id"].isin(untimed)]], ignore_index=True)
            where = "interactions.parquet" if not untimed else f"interactions.parquet or {source}/{name}.parquet"
        _checked_ratings(df, where)
        cap = config.max_train if name == "train" else config.max_test
        df = cap_pairs(df.drop_duplicates(["user_id", "item_id"]), cap, seed, f"lrrecsys-{name}")
        frames.append(df.assign(split=name))
    pairs = pd.concat(frames, ignore_index=True)
    if sides is None:
        pairs["history"] = histories(pairs, inter, profile, config.history)
    else:
        hist: list[list[str]] = [[] for _ in range(len(pairs))]
        no_time = pairs["user_id"].isin(untimed).to_numpy()
        is_train = (pairs["split"] == "train").to_numpy()

        def fill(rows: np.ndarray, pool: pd.DataFrame, timed: bool = True) -> None:
            cands = pairs[rows] if timed else pairs[rows].assign(timestamp=pd.NA)
            for k, h in zip(np.flatnonzero(rows), histories(cands, pool, profile, config.history)):
                hist[k] = h

        fill(is_train & ~no_time, inter[sides == "train"])  # earlier train-side interactions only
        fill(~is_train & ~no_time, inter[sides.notna()])  # earlier interactions of both sides
        fill(no_time, inter.iloc[0:0], timed=False)  # no timestamp to order by: the profile split's last n
        pairs["history"] = hist
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
