"""LR-Recsys pairs: the history is the last n items strictly before the candidate, never the candidate or later."""

from __future__ import annotations

import pandas as pd
import pytest

from explainrec.errors import InputError, ParamError
from explainrec.lrrecsys.pairs import COLUMNS, PairsConfig, build_pairs, pairs_metrics


def interactions(n_users: int = 4, n_items: int = 12) -> pd.DataFrame:
    rows = []
    for u in range(n_users):
        for k in range(n_items):
            # shuffled timestamps per user, some ties
            ts = 1000 + ((k * 7 + u) % n_items) * 10 + (5 if k == 3 else 0)
            rows.append({"user_id": f"u{u}", "item_id": f"i{(k + u) % n_items}", "rating": float(1 + (u + k) % 5),
                         "timestamp": ts, "review": None})
    df = pd.DataFrame(rows)
    df["timestamp"] = df["timestamp"].astype("Int64")
    return df


def splits_of(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    part = df.index % 3
    return {"profile": df[part == 0], "train": df[part == 1], "test": df[part == 2]}


def test_history_never_holds_the_candidate_or_anything_later():
    df = interactions()
    pairs = build_pairs(splits_of(df), df, PairsConfig(history=5, max_train=None, max_test=None), seed=1)
    assert list(pairs.columns) == COLUMNS and len(pairs) == len(df) - len(splits_of(df)["profile"])
    when = {(u, i): t for u, i, t in zip(df["user_id"], df["item_id"], df["timestamp"])}
    for row in pairs.itertuples():
        assert len(row.history) <= 5
        assert row.item_id not in row.history
        times = [when[(row.user_id, h)] for h in row.history]
        assert all(t < row.timestamp for t in times)
        assert times == sorted(times)  # oldest first
        # the last n earlier items: nothing earlier than the candidate is skipped after the window
        earlier = sorted(t for (u, _), t in when.items() if u == row.user_id and t < row.timestamp)
        assert times == earlier[-5:]


def test_caps_are_seeded_and_ratings_required():
    df = interactions()
    cfg = PairsConfig(history=3, max_train=5, max_test=4)
    a = build_pairs(splits_of(df), df, cfg, seed=3)
    b = build_pairs(splits_of(df), df, cfg, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert (a["split"] == "train").sum() == 5 and (a["split"] == "test").sum() == 4
    c = build_pairs(splits_of(df), df, cfg, seed=4)
    assert set(a["pair_id"]) != set(c["pair_id"])
    m = pairs_metrics(a, 3)
    assert m["train"]["pairs"] == 5 and m["test"]["pairs"] == 4
    bad = df.copy()
    bad.loc[1, "rating"] = None
    with pytest.raises(InputError, match="rating"):
        build_pairs(splits_of(bad), bad, cfg, seed=3)
    with pytest.raises(ParamError, match="history"):
        PairsConfig(history=0)


def test_no_timestamps_fall_back_to_the_profile_split():
    df = interactions()
    df["timestamp"] = pd.array([None] * len(df), dtype="Int64")
    parts = splits_of(df)
    pairs = build_pairs(parts, df, PairsConfig(history=2, max_train=None, max_test=None), seed=1)
    profile_items = {u: set(g["item_id"]) for u, g in parts["profile"].groupby("user_id")}
    for row in pairs.itertuples():
        assert len(row.history) == 2 and set(row.history) <= profile_items[row.user_id]
        assert row.item_id not in row.history
